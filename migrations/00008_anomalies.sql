-- +goose Up

-- One row per series and event-time minute, written by the AnomalyDetector
-- workflow once the minute is complete (every partition's watermark passed
-- its end). expected, deviation (the scale z is measured in) and z are NULL
-- while the series' baseline is still cold. anomalous: |z| reached the
-- threshold; sustained: an anomaly alert is open for the series after this
-- minute (k of the last m minutes anomalous). Upserted by (series, minute),
-- so re-scoring a minute leaves one row.
CREATE TABLE anomaly_scores (
    series     text             NOT NULL,
    minute     timestamptz      NOT NULL,
    actual     double precision NOT NULL,
    expected   double precision,
    deviation  double precision,
    z          double precision,
    anomalous  boolean          NOT NULL,
    sustained  boolean          NOT NULL,
    run_id     text             NOT NULL DEFAULT '',
    updated_at timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (series, minute)
);
CREATE INDEX anomaly_scores_anomalous ON anomaly_scores (minute) WHERE anomalous;

-- The detector's state per series (analytics.AnomalyState as JSON) after
-- last_minute, written in the same transaction as that minute's scores and
-- alerts, and locked (FOR UPDATE) while a run scores the following minutes.
-- Deleting a series' row (and its scores) rebuilds it from the minute tables.
CREATE TABLE anomaly_state (
    series      text        PRIMARY KEY,
    last_minute timestamptz,
    state       jsonb       NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE anomaly_state;
DROP TABLE anomaly_scores;
