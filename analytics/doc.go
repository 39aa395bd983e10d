// Package analytics holds ShopPulse's pure algorithms: forecasting,
// recommendations, scoring, segmentation, churn, pricing, reorder points and
// anomaly detection. It imports only the standard library and gonum (maximum
// likelihood needs a tested optimiser and special functions such as the
// Gaussian hypergeometric, which are not core to ShopPulse) and does no I/O:
// callers hand it values and store what it returns, so every function is
// deterministic and table-tested.
package analytics
