-- +goose Up

-- Daily demand forecasts per product, written by the DemandForecast
-- workflow: for each as-of date, one row per product and forecast date.
-- A run for an as-of date replaces that date's rows (delete and insert in
-- one transaction), so re-running it changes nothing.
CREATE TABLE demand_forecasts (
    as_of         date             NOT NULL,
    product_id    text             NOT NULL,
    forecast_date date             NOT NULL,
    forecast      double precision NOT NULL CHECK (forecast >= 0),
    method        text             NOT NULL CHECK (method IN ('holt-winters', 'croston-sba')),
    model_version text             NOT NULL,
    run_id        text             NOT NULL,
    created_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (as_of, product_id, forecast_date)
);
CREATE INDEX demand_forecasts_product ON demand_forecasts (product_id, forecast_date);

-- The accuracy and classification behind each product's forecast: the
-- Syntetos-Boylan class (ADI, CV²), the method chosen, its MASE on the
-- holdout against the seasonal naive's, and the fitted parameters.
CREATE TABLE demand_forecast_accuracy (
    as_of         date             NOT NULL,
    product_id    text             NOT NULL,
    method        text             NOT NULL,
    demand_class  text             NOT NULL,
    adi           double precision NOT NULL,
    cv2           double precision NOT NULL,
    history_days  integer          NOT NULL,
    holdout_days  integer          NOT NULL,
    mase          double precision,  -- NULL: too short for a holdout, or no scale
    snaive_mase   double precision,
    params        jsonb            NOT NULL,
    model_version text             NOT NULL,
    run_id        text             NOT NULL,
    PRIMARY KEY (as_of, product_id)
);

-- +goose Down
DROP TABLE demand_forecast_accuracy;
DROP TABLE demand_forecasts;
