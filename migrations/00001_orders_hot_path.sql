-- +goose Up

-- Kafka offsets of the hot path live here, never in a consumer group: each
-- micro-batch moves its partition's offset in the same transaction as its
-- results, fenced by the offset it started from (DESIGN.md invariant 1).
CREATE TABLE stream_offsets (
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    next_offset  bigint      NOT NULL DEFAULT 0,
    -- watermark: the largest event time applied from this partition.
    watermark    timestamptz,
    -- caught_up_at: when the owner last found the partition fully consumed.
    caught_up_at timestamptz,
    owner        text,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

-- Order facts, partitioned by event day. The primary key holds the event id
-- and the event time (the partition key), so a repeated event is stored once.
CREATE TABLE orders (
    event_id     text        NOT NULL,
    event_time   timestamptz NOT NULL,
    order_id     text        NOT NULL,
    customer_id  text        NOT NULL,
    country      char(2)     NOT NULL,
    currency     char(3)     NOT NULL,
    channel      text        NOT NULL,
    total_minor  bigint      NOT NULL,
    units        bigint      NOT NULL,
    line_count   integer     NOT NULL,
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    kafka_offset bigint      NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time);

CREATE INDEX orders_order_id ON orders (order_id);
CREATE INDEX orders_customer ON orders (customer_id, event_time);

CREATE TABLE order_lines (
    event_id         text        NOT NULL,
    event_time       timestamptz NOT NULL,
    line_no          integer     NOT NULL,
    order_id         text        NOT NULL,
    product_id       text        NOT NULL,
    category         text        NOT NULL DEFAULT '',
    quantity         bigint      NOT NULL,
    unit_price_minor bigint      NOT NULL,
    PRIMARY KEY (event_id, event_time, line_no)
) PARTITION BY RANGE (event_time);

CREATE INDEX order_lines_product ON order_lines (product_id, event_time);

-- Revenue per event-time minute and currency, applied as deltas under the
-- offset fence. late_events counts events that arrived after their minute's
-- partition watermark had passed it (restatements).
CREATE TABLE revenue_minute (
    minute        timestamptz NOT NULL,
    currency      char(3)     NOT NULL,
    orders        bigint      NOT NULL,
    units         bigint      NOT NULL,
    revenue_minor bigint      NOT NULL,
    late_events   bigint      NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (minute, currency)
);

-- Hourly rollup, written by the RevenueRollupHourly workflow: delete and insert
-- of one hour in one transaction, so a re-run gives the same rows.
CREATE TABLE revenue_hourly (
    hour          timestamptz NOT NULL,
    currency      char(3)     NOT NULL,
    orders        bigint      NOT NULL,
    units         bigint      NOT NULL,
    revenue_minor bigint      NOT NULL,
    complete      boolean     NOT NULL,
    run_id        text        NOT NULL,
    computed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (hour, currency)
);

-- Events that failed validation, with where they came from and why
-- (DESIGN.md invariant 4). Keyed by their Kafka position, so a replayed batch
-- records each once.
CREATE TABLE dead_letters (
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    kafka_offset bigint      NOT NULL,
    reason       text        NOT NULL,
    key          bytea,
    payload      bytea       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, kafka_offset)
);

-- What each batch run read and wrote (DESIGN.md invariant 7).
CREATE TABLE lineage (
    run_id      text        NOT NULL,
    workflow    text        NOT NULL,
    step        text        NOT NULL,
    inputs      jsonb       NOT NULL,
    outputs     jsonb       NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, step)
);

-- ensure_day_partitions creates the daily partitions of a table partitioned by
-- range on a timestamptz column, one per UTC day from first_day for n days.
-- Safe to call concurrently: it takes a transaction-level advisory lock.
-- +goose StatementBegin
CREATE FUNCTION ensure_day_partitions(parent regclass, first_day date, n integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    d       date;
    name    text;
    made    integer := 0;
    schema  text;
    base    text;
BEGIN
    SELECT n.nspname, c.relname INTO schema, base
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.oid = parent;
    PERFORM pg_advisory_xact_lock(hashtext('ensure_day_partitions:' || schema || '.' || base));
    FOR i IN 0 .. n - 1 LOOP
        d := first_day + i;
        name := base || '_' || to_char(d, 'YYYYMMDD');
        IF to_regclass(quote_ident(schema) || '.' || quote_ident(name)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                schema, name, parent,
                (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION ensure_day_partitions(regclass, date, integer);
DROP TABLE lineage;
DROP TABLE dead_letters;
DROP TABLE revenue_hourly;
DROP TABLE revenue_minute;
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE stream_offsets;
