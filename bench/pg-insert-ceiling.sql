-- PostgreSQL's bare insert rate on this machine, for comparison with the bench:
-- 300,000 rows into a table shaped like clickstream_events (partitioned by
-- day, primary key and session index), server side, no client, no analytics.
--   psql 'postgres://postgres@127.0.0.1:55432/shoppulse?sslmode=disable' -f bench/pg-insert-ceiling.sql
-- Works in a scratch schema it drops again.
DROP SCHEMA IF EXISTS pgceil CASCADE;
CREATE SCHEMA pgceil;
SET search_path = pgceil;
CREATE TABLE clickstream_events (
    event_id text NOT NULL, event_time timestamptz NOT NULL, type text NOT NULL, session_id text NOT NULL,
    customer_id text NOT NULL DEFAULT '', device text NOT NULL DEFAULT '', page text NOT NULL DEFAULT '',
    referrer text NOT NULL DEFAULT '', product_id text NOT NULL DEFAULT '', topic text NOT NULL,
    partition integer NOT NULL, kafka_offset bigint NOT NULL, ingested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, event_time)) PARTITION BY RANGE (event_time);
CREATE TABLE clickstream_events_d PARTITION OF clickstream_events FOR VALUES FROM ('2026-11-01') TO ('2026-12-01');
CREATE INDEX ON clickstream_events (session_id, event_time);
\timing on
INSERT INTO clickstream_events (event_id, event_time, type, session_id, customer_id, device, page, referrer, product_id, topic, partition, kafka_offset)
SELECT md5(i::text), '2026-11-20'::timestamptz + i * interval '10 ms', 'page_view', 's-' || (i / 12), 'c-' || (i / 40), 'mobile', '/p/' || (i % 600), 'google', 'sku-' || (i % 600), 'shop.clickstream.v1', i % 6, i
  FROM generate_series(1, 300000) i;
\timing off
DROP SCHEMA pgceil CASCADE;
