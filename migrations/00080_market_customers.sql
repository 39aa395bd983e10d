-- +goose Up

-- The market topic: the shop's own price changes and competitors' prices,
-- each event id once (facts), plus the latest price per product and
-- competitor by event time, for pricing. Written in the market batch under
-- the offset fence.
CREATE TABLE price_changes (
    event_id        text        PRIMARY KEY,
    event_time      timestamptz NOT NULL,
    product_id      text        NOT NULL,
    old_price_minor bigint      NOT NULL,
    new_price_minor bigint      NOT NULL,
    currency        char(3)     NOT NULL,
    reason          text,
    topic           text        NOT NULL,
    partition       integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    ingested_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX price_changes_product ON price_changes (product_id, event_time);

CREATE TABLE competitor_prices (
    event_id     text        PRIMARY KEY,
    event_time   timestamptz NOT NULL,
    product_id   text        NOT NULL,
    competitor   text        NOT NULL,
    price_minor  bigint      NOT NULL,
    currency     char(3)     NOT NULL,
    in_stock     boolean     NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    kafka_offset bigint      NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX competitor_prices_product ON competitor_prices (product_id, competitor, event_time);

-- The latest competitor price per product and competitor: the row with the
-- greatest (event time, event id), so it does not depend on arrival order.
CREATE TABLE competitor_prices_latest (
    product_id  text        NOT NULL,
    competitor  text        NOT NULL,
    event_time  timestamptz NOT NULL,
    event_id    text        NOT NULL,
    price_minor bigint      NOT NULL,
    currency    char(3)     NOT NULL,
    in_stock    boolean     NOT NULL,
    PRIMARY KEY (product_id, competitor)
);

-- The customers topic: every account event once (facts), and one row per
-- customer folded from them in log order (the topic is keyed by customer,
-- so a customer's events share a partition and keep their order).
-- erasure_requested_at marks a request; erasing is the batch side's job.
CREATE TABLE customer_events (
    event_id     text        PRIMARY KEY,
    event_time   timestamptz NOT NULL,
    type         text        NOT NULL,
    customer_id  text        NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    kafka_offset bigint      NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX customer_events_customer ON customer_events (customer_id, event_time);

CREATE TABLE customers (
    customer_id          text        PRIMARY KEY,
    email                text,
    country              text,
    -- NULL until an event says (registration always does).
    marketing_consent    boolean,
    registered_at        timestamptz,
    updated_at           timestamptz NOT NULL,
    erasure_requested_at timestamptz
);
CREATE INDEX customers_registered ON customers (registered_at);

-- +goose Down
DROP TABLE customers;
DROP TABLE customer_events;
DROP TABLE competitor_prices_latest;
DROP TABLE competitor_prices;
DROP TABLE price_changes;
