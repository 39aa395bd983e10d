-- +goose Up

-- Clickstream facts (page_view, product_view, search, add_to_cart,
-- remove_from_cart, checkout_started), partitioned by event day like orders.
-- The primary key holds the event id and the event time (the partition key),
-- so a repeated event is stored, and counted, once. Sessions are rebuilt
-- from these rows, so they are a function of the set of events stored,
-- whatever order or batches they arrived in.
CREATE TABLE clickstream_events (
    event_id     text        NOT NULL,
    event_time   timestamptz NOT NULL,
    type         text        NOT NULL,
    session_id   text        NOT NULL,
    customer_id  text        NOT NULL DEFAULT '',
    device       text        NOT NULL DEFAULT '',
    page         text        NOT NULL DEFAULT '',
    referrer     text        NOT NULL DEFAULT '',
    product_id   text        NOT NULL DEFAULT '',
    topic        text        NOT NULL,
    partition    integer     NOT NULL,
    kafka_offset bigint      NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time);

CREATE INDEX clickstream_events_session ON clickstream_events (session_id, event_time);

-- Traffic per event-time minute, applied as deltas under the offset fence.
-- sessions_started counts the sessions (of the sessions view) that start in
-- the minute: when a late event moves a session's start or splits or merges
-- sessions, the old starts are taken off and the new ones added, so it always
-- equals the count from the sessions table. late_events counts events whose
-- minute was behind the partition's watermark when they arrived.
CREATE TABLE traffic_minute (
    minute           timestamptz NOT NULL PRIMARY KEY,
    page_views       bigint      NOT NULL DEFAULT 0,
    product_views    bigint      NOT NULL DEFAULT 0,
    searches         bigint      NOT NULL DEFAULT 0,
    cart_adds        bigint      NOT NULL DEFAULT 0,
    cart_removes     bigint      NOT NULL DEFAULT 0,
    checkouts        bigint      NOT NULL DEFAULT 0,
    sessions_started bigint      NOT NULL DEFAULT 0,
    late_events      bigint      NOT NULL DEFAULT 0,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- The clickstream side of a session: a run of one session_id's events with
-- no gap longer than stream.session_gap (by event time). Rebuilt, for every
-- session_id a batch touches, from clickstream_events. timeout_at is
-- ended_at + the gap: an order of the session id placed in
-- [started_at, timeout_at] belongs to the session. Those intervals of one
-- session id never overlap, so an order belongs to one session at most.
CREATE TABLE click_sessions (
    session_key     text        PRIMARY KEY, -- session_id '@' started_at (RFC 3339, UTC, microseconds)
    session_id      text        NOT NULL,
    customer_id     text        NOT NULL DEFAULT '',
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz NOT NULL,
    timeout_at      timestamptz NOT NULL,
    events          bigint      NOT NULL,
    pages           bigint      NOT NULL, -- page and product pages seen
    page_views      bigint      NOT NULL,
    product_views   bigint      NOT NULL,
    products_viewed bigint      NOT NULL, -- distinct products
    searches        bigint      NOT NULL,
    cart_adds       bigint      NOT NULL,
    cart_removes    bigint      NOT NULL,
    checkout        boolean     NOT NULL,
    device          text        NOT NULL DEFAULT '',
    entry_page      text        NOT NULL DEFAULT '',
    referrer        text        NOT NULL DEFAULT '',
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX click_sessions_session ON click_sessions (session_id, started_at);
CREATE INDEX click_sessions_customer ON click_sessions (customer_id, started_at) WHERE customer_id <> '';
CREATE INDEX click_sessions_started ON click_sessions (started_at);

-- Orders that name their session (order_placed v2 session_id), written by
-- the orders apply, keyed by the order event so a repeat counts once. Kept
-- apart from click_sessions so the two topics never write the same rows and
-- either may be consumed first: the sessions view joins them.
CREATE TABLE session_purchases (
    event_id    text        NOT NULL PRIMARY KEY,
    event_time  timestamptz NOT NULL,
    session_id  text        NOT NULL,
    order_id    text        NOT NULL,
    customer_id text        NOT NULL,
    total_minor bigint      NOT NULL,
    currency    char(3)     NOT NULL
);
CREATE INDEX session_purchases_session ON session_purchases (session_id, event_time);

-- Session facts: the clickstream side and its purchases.
CREATE VIEW sessions AS
SELECT s.session_key, s.session_id, s.customer_id, s.started_at, s.ended_at,
       s.events, s.pages, s.page_views, s.product_views, s.products_viewed, s.searches,
       s.cart_adds, s.cart_removes, s.checkout,
       coalesce(p.orders, 0) > 0        AS purchase,
       coalesce(p.orders, 0)            AS orders,
       coalesce(p.revenue_minor, 0)     AS revenue_minor,
       coalesce(p.currency, '')         AS currency,
       s.device, s.entry_page, s.referrer
  FROM click_sessions s
  LEFT JOIN LATERAL (
        SELECT count(*) AS orders, sum(sp.total_minor)::bigint AS revenue_minor, max(sp.currency)::text AS currency
          FROM session_purchases sp
         WHERE sp.session_id = s.session_id
           AND sp.event_time >= s.started_at AND sp.event_time <= s.timeout_at) p ON true;

-- The funnel, from the sessions view only, by the minute and hour each
-- session started: every figure agrees with the sessions table.
CREATE VIEW funnel_minute AS
SELECT date_trunc('minute', started_at)              AS minute,
       count(*)                                      AS sessions,
       count(*) FILTER (WHERE product_views > 0)     AS product_view,
       count(*) FILTER (WHERE cart_adds > 0)         AS add_to_cart,
       count(*) FILTER (WHERE checkout)              AS checkout,
       count(*) FILTER (WHERE purchase)              AS purchase,
       sum(orders)::bigint                           AS orders,
       sum(revenue_minor)::bigint                    AS revenue_minor
  FROM sessions GROUP BY 1;

CREATE VIEW funnel_hour AS
SELECT date_trunc('hour', started_at)                AS hour,
       count(*)                                      AS sessions,
       count(*) FILTER (WHERE product_views > 0)     AS product_view,
       count(*) FILTER (WHERE cart_adds > 0)         AS add_to_cart,
       count(*) FILTER (WHERE checkout)              AS checkout,
       count(*) FILTER (WHERE purchase)              AS purchase,
       sum(orders)::bigint                           AS orders,
       sum(revenue_minor)::bigint                    AS revenue_minor
  FROM sessions GROUP BY 1;

-- +goose Down
DROP VIEW funnel_hour;
DROP VIEW funnel_minute;
DROP VIEW sessions;
DROP TABLE session_purchases;
DROP TABLE click_sessions;
DROP TABLE traffic_minute;
DROP TABLE clickstream_events;
