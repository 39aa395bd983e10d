# Reference outputs for analytics/forecast.go, from R's stats::HoltWinters
# and the forecast package's croston(), accuracy() and snaive().
#
# Run from analytics/testdata:  Rscript forecast_reference.R
# (Debian: apt-get install -y r-base-core r-cran-forecast)
# It writes forecast_reference.json, which the Go tests read; the tests do
# not need R. The series are generated here with fixed seeds and written
# into the JSON with full precision, so Go sees exactly what R saw.
suppressMessages(library(forecast))

num <- function(v) paste0("[", paste(sprintf("%.17g", v), collapse = ", "), "]")
obj <- function(...) {
  kv <- list(...)
  paste0("{", paste(sprintf("\"%s\": %s", names(kv), unlist(kv)), collapse = ", "), "}")
}

set.seed(20261126)
week <- c(5, 3, 0, -2, -4, -1, 8)
series <- list(
  # Level, trend and an additive weekly pattern with Gaussian noise.
  trend_weekly = 20 + 0.1 * (1:70) + rep(week, 10) + rnorm(70, sd = 2),
  # Daily unit counts of a regular seller: Poisson around a weekly shape.
  counts_weekly = as.numeric(rpois(84, lambda = rep(c(6, 5, 5, 6, 8, 12, 10), 12))),
  # A flat seller with little seasonality.
  flat = as.numeric(rpois(63, lambda = 9))
)
intermittent <- list(
  sparse = as.numeric(rbinom(60, 1, 0.25) * rpois(60, 3)),
  lumpy = as.numeric(rbinom(90, 1, 0.15) * rpois(90, 8)),
  single = c(0, 0, 0, 4, 0, 0)
)

hw_out <- c()
for (name in names(series)) {
  x <- series[[name]]
  y <- ts(x, frequency = 7)
  fit <- HoltWinters(y)
  fixed <- HoltWinters(y, alpha = 0.4, beta = 0.05, gamma = 0.3)
  n <- length(x)
  train <- ts(x[1:(n - 14)], frequency = 7)
  # The test set is a seasonal ts, so accuracy() scales MASE by the
  # in-sample seasonal naive (D = 1), as analytics.MASE does.
  test <- ts(x[(n - 13):n], frequency = 7, start = tsp(train)[2] + 1 / 7)
  fit_train <- HoltWinters(train)
  fc <- forecast(fit_train, h = 14)
  sn <- snaive(train, h = 14)
  hw_out <- c(hw_out, sprintf("\"%s\": %s", name, obj(
    x = num(x),
    alpha = num(fit$alpha), beta = num(fit$beta), gamma = num(fit$gamma),
    sse = num(fit$SSE), coefficients = num(coef(fit)),
    forecast = num(predict(fit, n.ahead = 14)),
    fixed_sse = num(fixed$SSE), fixed_coefficients = num(coef(fixed)),
    fixed_forecast = num(predict(fixed, n.ahead = 14)),
    holdout_forecast = num(fc$mean),
    holdout_sse = num(fit_train$SSE),
    holdout_mase = num(accuracy(fc, test)["Test set", "MASE"]),
    snaive_mase = num(accuracy(sn, test)["Test set", "MASE"])
  )))
}

cr_out <- c()
for (name in names(intermittent)) {
  x <- intermittent[[name]]
  f1 <- croston(x, h = 3, alpha = 0.1)$mean[1]
  f2 <- croston(x, h = 3, alpha = 0.2)$mean[1]
  cr_out <- c(cr_out, sprintf("\"%s\": %s", name, obj(
    x = num(x),
    croston_0.1 = num(f1), sba_0.1 = num(f1 * (1 - 0.1 / 2)),
    croston_0.2 = num(f2), sba_0.2 = num(f2 * (1 - 0.2 / 2))
  )))
}

writeLines(c("{",
  sprintf("  \"r_version\": \"%s\",", R.version.string),
  sprintf("  \"forecast_version\": \"%s\",", as.character(packageVersion("forecast"))),
  sprintf("  \"holt_winters\": {%s},", paste(hw_out, collapse = ", ")),
  sprintf("  \"croston\": {%s}", paste(cr_out, collapse = ", ")),
  "}"), "forecast_reference.json")
