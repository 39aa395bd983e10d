-- +goose Up

-- The version 2 order fields the fraud features need, nullable: version 1
-- events and orders stored before this migration leave them NULL, and an
-- absent field counts as unknown, never as a match.
ALTER TABLE orders
    ADD COLUMN payment_method   text,
    ADD COLUMN card_fingerprint text,
    ADD COLUMN ip               text,
    ADD COLUMN device_id        text,
    ADD COLUMN billing_country  text,
    ADD COLUMN shipping_country text;

-- Velocity lookups: the orders of one card, IP or device in an event-time
-- range. (Customers use orders_customer.)
CREATE INDEX orders_card ON orders (card_fingerprint, event_time) WHERE card_fingerprint IS NOT NULL;
CREATE INDEX orders_ip ON orders (ip, event_time) WHERE ip IS NOT NULL;
CREATE INDEX orders_device ON orders (device_id, event_time) WHERE device_id IS NOT NULL;

-- The fraud model registry. The batch side trains and registers models; the
-- hot path scores with the active one (at most one), or with the documented
-- rules (version rules-v1) while none is active. kind 'logistic' has params
-- {"bias": b, "weights": {"feature": w, ...}} over the feature names stored
-- in fraud_scores.features.
CREATE TABLE fraud_models (
    version    text        PRIMARY KEY,
    kind       text        NOT NULL,
    params     jsonb       NOT NULL,
    active     boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    metrics    jsonb       NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX fraud_models_one_active ON fraud_models (active) WHERE active;

-- One fraud score per stored order, written in the order's batch
-- transaction: the score, the model version that gave it and the feature
-- values it saw (DESIGN.md invariant 7).
CREATE TABLE fraud_scores (
    event_id      text             NOT NULL,
    event_time    timestamptz      NOT NULL,
    order_id      text             NOT NULL,
    customer_id   text             NOT NULL,
    score         double precision NOT NULL,
    model_version text             NOT NULL,
    features      jsonb            NOT NULL,
    scored_at     timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, event_time)
);
-- The top scores, for review: only the high ones are indexed, so the hot
-- path pays for few index entries.
CREATE INDEX fraud_scores_high ON fraud_scores (score DESC, event_time) WHERE score >= 0.5;

-- +goose Down
DROP TABLE fraud_scores;
DROP TABLE fraud_models;
DROP INDEX orders_device;
DROP INDEX orders_ip;
DROP INDEX orders_card;
ALTER TABLE orders
    DROP COLUMN shipping_country,
    DROP COLUMN billing_country,
    DROP COLUMN device_id,
    DROP COLUMN ip,
    DROP COLUMN card_fingerprint,
    DROP COLUMN payment_method;
