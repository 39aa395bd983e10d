-- +goose Up

-- Cancellations of placed orders, keyed by event id. Their value is
-- subtracted from revenue in the minute of the cancellation (event time), so
-- a minute's figures are never restated by a later cancellation.
CREATE TABLE order_cancellations (
    event_id     text        PRIMARY KEY,
    event_time   timestamptz NOT NULL,
    order_id     text        NOT NULL,
    customer_id  text        NOT NULL,
    amount_minor bigint      NOT NULL,
    currency     char(3)     NOT NULL,
    reason       text        NOT NULL DEFAULT '',
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    kafka_offset bigint      NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_cancellations_order ON order_cancellations (order_id);

ALTER TABLE revenue_minute
    ADD COLUMN cancellations   bigint NOT NULL DEFAULT 0,
    ADD COLUMN cancelled_minor bigint NOT NULL DEFAULT 0;
ALTER TABLE revenue_hourly
    ADD COLUMN cancellations   bigint NOT NULL DEFAULT 0,
    ADD COLUMN cancelled_minor bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE revenue_hourly DROP COLUMN cancelled_minor, DROP COLUMN cancellations;
ALTER TABLE revenue_minute DROP COLUMN cancelled_minor, DROP COLUMN cancellations;
DROP TABLE order_cancellations;
