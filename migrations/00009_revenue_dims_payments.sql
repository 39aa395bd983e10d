-- +goose Up

-- Revenue per event-time minute by one dimension at a time: category and
-- product from the order lines (revenue = quantity * unit price, orders =
-- distinct orders with a line of it), country and channel from the order
-- header (revenue = the order total). Applied as deltas in the orders batch,
-- under the offset fence, once per order event id. A line without a category
-- counts under the value ''. Average order value is revenue_minor / orders at
-- query time (revenue_minute_dim_aov). refunds and refunded_minor stay 0 on
-- the stream: a refund names only its order and customer, so refunds are
-- counted per minute in payments_minute.
CREATE TABLE revenue_minute_dim (
    minute         timestamptz NOT NULL,
    dimension      text        NOT NULL CHECK (dimension IN ('category', 'product', 'country', 'channel')),
    value          text        NOT NULL,
    currency       char(3)     NOT NULL,
    orders         bigint      NOT NULL,
    units          bigint      NOT NULL,
    revenue_minor  bigint      NOT NULL,
    refunds        bigint      NOT NULL DEFAULT 0,
    refunded_minor bigint      NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (minute, dimension, value, currency)
) WITH (fillfactor = 70);
-- No secondary index: the primary key serves time-range queries, and every
-- index is paid for on the hot path. fillfactor leaves room on each page so
-- the many updates of a minute's rows stay HOT (no index write).

CREATE VIEW revenue_minute_dim_aov AS
SELECT minute, dimension, value, currency, orders, units, revenue_minor,
       CASE WHEN orders > 0 THEN revenue_minor::numeric / orders END AS avg_order_minor
  FROM revenue_minute_dim;

-- Payment facts from the payments topic, each event id once.
CREATE TABLE payments (
    event_id         text        PRIMARY KEY,
    event_time       timestamptz NOT NULL,
    payment_id       text        NOT NULL,
    order_id         text        NOT NULL,
    customer_id      text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('authorized', 'failed')),
    failure_code     text,
    method           text        NOT NULL,
    amount_minor     bigint      NOT NULL,
    currency         char(3)     NOT NULL,
    card_fingerprint text,
    topic            text        NOT NULL,
    partition        integer     NOT NULL,
    kafka_offset     bigint      NOT NULL,
    ingested_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payments_order ON payments (order_id);
CREATE INDEX payments_customer ON payments (customer_id, event_time);

CREATE TABLE refunds (
    event_id     text        PRIMARY KEY,
    event_time   timestamptz NOT NULL,
    refund_id    text        NOT NULL,
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
CREATE INDEX refunds_order ON refunds (order_id);

CREATE TABLE chargebacks (
    event_id      text        PRIMARY KEY,
    event_time    timestamptz NOT NULL,
    chargeback_id text        NOT NULL,
    order_id      text        NOT NULL,
    payment_id    text,
    customer_id   text        NOT NULL,
    amount_minor  bigint      NOT NULL,
    currency      char(3)     NOT NULL,
    reason        text        NOT NULL,
    topic         text        NOT NULL,
    partition     integer     NOT NULL,
    kafka_offset  bigint      NOT NULL,
    ingested_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chargebacks_order ON chargebacks (order_id);

-- Payments per event-time minute and currency, as deltas under the fence:
-- authorizations and failures (attempts = authorized + failed), refunds and
-- chargebacks. late_events counts events behind the partition's watermark.
CREATE TABLE payments_minute (
    minute           timestamptz NOT NULL,
    currency         char(3)     NOT NULL,
    authorized       bigint      NOT NULL DEFAULT 0,
    failed           bigint      NOT NULL DEFAULT 0,
    authorized_minor bigint      NOT NULL DEFAULT 0,
    refunds          bigint      NOT NULL DEFAULT 0,
    refunded_minor   bigint      NOT NULL DEFAULT 0,
    chargebacks      bigint      NOT NULL DEFAULT 0,
    chargeback_minor bigint      NOT NULL DEFAULT 0,
    late_events      bigint      NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (minute, currency)
);

-- +goose Down
DROP TABLE payments_minute;
DROP TABLE chargebacks;
DROP TABLE refunds;
DROP TABLE payments;
DROP VIEW revenue_minute_dim_aov;
DROP TABLE revenue_minute_dim;
