-- +goose Up

-- Stock movements from the inventory topic, keyed by event id so a repeated
-- event is stored (and counted) once.
CREATE TABLE inventory_movements (
    event_id        text        PRIMARY KEY,
    event_time      timestamptz NOT NULL,
    product_id      text        NOT NULL,
    warehouse_id    text        NOT NULL,
    delta           bigint      NOT NULL,
    reason          text        NOT NULL,
    supplier_id     text        NOT NULL DEFAULT '',
    lead_time_days  integer     NOT NULL DEFAULT 0,
    unit_cost_minor bigint      NOT NULL DEFAULT 0,
    currency        text        NOT NULL DEFAULT '',
    topic           text        NOT NULL,
    partition       integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    ingested_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inventory_movements_product ON inventory_movements (product_id, warehouse_id, event_time);

-- Stock on hand per product and warehouse: the sum of the applied movements'
-- deltas, applied under the offset fence.
CREATE TABLE stock_levels (
    product_id   text        NOT NULL,
    warehouse_id text        NOT NULL,
    on_hand      bigint      NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, warehouse_id)
);

-- Reorder points per product and warehouse; stream.default_reorder_point
-- applies where there is no row.
CREATE TABLE reorder_points (
    product_id    text        NOT NULL,
    warehouse_id  text        NOT NULL,
    reorder_point bigint      NOT NULL CHECK (reorder_point >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (product_id, warehouse_id)
);

-- Alerts, written in the same transaction as the data that raised them.
-- dedup_key names what is alerted on (type and entity): at most one alert per
-- key is open (resolved_at IS NULL) at a time.
CREATE TABLE alerts (
    id           bigserial   PRIMARY KEY,
    type         text        NOT NULL,
    entity       text        NOT NULL,
    severity     text        NOT NULL,
    dedup_key    text        NOT NULL,
    -- opened_at and resolved_at are event times of what opened and resolved it.
    opened_at    timestamptz NOT NULL,
    resolved_at  timestamptz,
    details      jsonb       NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- delivered_at: when every configured webhook accepted it.
    delivered_at timestamptz
);
CREATE UNIQUE INDEX alerts_open_dedup ON alerts (dedup_key) WHERE resolved_at IS NULL;
CREATE INDEX alerts_undelivered ON alerts (id) WHERE delivered_at IS NULL;

-- Every attempt to deliver an alert to a webhook (identified by its URL).
CREATE TABLE alert_deliveries (
    alert_id    bigint      NOT NULL REFERENCES alerts (id),
    webhook     text        NOT NULL,
    attempt     integer     NOT NULL,
    status_code integer     NOT NULL DEFAULT 0,
    error       text        NOT NULL DEFAULT '',
    delivered   boolean     NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alert_id, webhook, attempt)
);

-- +goose Down
DROP TABLE alert_deliveries;
DROP TABLE alerts;
DROP TABLE reorder_points;
DROP TABLE stock_levels;
DROP TABLE inventory_movements;
