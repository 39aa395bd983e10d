# Reference fit for analytics.TrainLogistic without penalty: R's glm with
# the binomial family (maximum likelihood by IRLS) on a simulated data set
# over three of the fraud features.
#
# Run from analytics/testdata:  Rscript logistic_reference.R
# It writes logistic_reference.json, which the Go tests read.
set.seed(7)
n <- 800
ip_orders_1h <- rpois(n, 1.5)
amount_ratio <- round(rexp(n, 1), 3)
country_mismatch <- rbinom(n, 1, 0.2)
eta <- -4 + 0.8 * ip_orders_1h + 0.9 * amount_ratio + 1.5 * country_mismatch
fraud <- rbinom(n, 1, plogis(eta))
fit <- glm(fraud ~ ip_orders_1h + amount_ratio + country_mismatch, family = binomial)
num <- function(v) paste0("[", paste(sprintf("%.17g", v), collapse = ", "), "]")
writeLines(c("{",
  sprintf("  \"r_version\": \"%s\",", R.version.string),
  sprintf("  \"ip_orders_1h\": %s,", num(ip_orders_1h)),
  sprintf("  \"amount_ratio\": %s,", num(amount_ratio)),
  sprintf("  \"country_mismatch\": %s,", num(country_mismatch)),
  sprintf("  \"fraud\": %s,", num(fraud)),
  sprintf("  \"coefficients\": %s", num(coef(fit))),
  "}"), "logistic_reference.json")
