-- +goose Up

-- Product costs come from the supplier receipts on the inventory topic
-- (inventory_adjusted with unit_cost_minor), already stored row by row in
-- inventory_movements. This view names them as a cost history; the rollups
-- price a period's units at the cost in force at the period's end (the last
-- receipt before it, else the first one after).
CREATE VIEW product_cost_history AS
SELECT product_id, currency, event_time AS valid_from, unit_cost_minor, supplier_id, event_id
  FROM inventory_movements
 WHERE unit_cost_minor > 0;
CREATE INDEX inventory_movements_cost ON inventory_movements (product_id, currency, event_time) WHERE unit_cost_minor > 0;

-- Sales per period (grain hour or day) and dimension, written by the rollup
-- workflows as delete-and-insert of one (grain, period) in one transaction,
-- so a re-run gives the same rows. dimension 'total' (value '') has the
-- order totals of revenue_minute (as revenue_hourly) with cancellations;
-- 'product', 'category', 'country' and 'channel' have the goods revenue of
-- the order lines (quantity * unit price). cost_minor is the cost of the
-- units whose cost is known (costed_units, costed_revenue_minor), so margin
-- is costed_revenue_minor - cost_minor (view rollup_sales_margin).
CREATE TABLE rollup_sales (
    grain                text        NOT NULL CHECK (grain IN ('hour', 'day')),
    period_start         timestamptz NOT NULL,
    dimension            text        NOT NULL CHECK (dimension IN ('total', 'product', 'category', 'country', 'channel')),
    value                text        NOT NULL,
    currency             char(3)     NOT NULL,
    orders               bigint      NOT NULL,
    units                bigint      NOT NULL,
    revenue_minor        bigint      NOT NULL,
    cancellations        bigint      NOT NULL DEFAULT 0,
    cancelled_minor      bigint      NOT NULL DEFAULT 0,
    costed_units         bigint      NOT NULL DEFAULT 0,
    costed_revenue_minor bigint      NOT NULL DEFAULT 0,
    cost_minor           bigint      NOT NULL DEFAULT 0,
    complete             boolean     NOT NULL,
    run_id               text        NOT NULL,
    computed_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (grain, period_start, dimension, value, currency)
);

CREATE VIEW rollup_sales_margin AS
SELECT grain, period_start, dimension, value, currency, orders, units, revenue_minor,
       cancellations, cancelled_minor, costed_units, costed_revenue_minor, cost_minor,
       costed_revenue_minor - cost_minor AS margin_minor,
       CASE WHEN costed_revenue_minor > 0
            THEN (costed_revenue_minor - cost_minor)::numeric / costed_revenue_minor END AS margin_rate,
       CASE WHEN orders > 0 THEN revenue_minor::numeric / orders END AS avg_order_minor,
       complete, run_id
  FROM rollup_sales;

-- Traffic and funnel per period: the clickstream counts of traffic_minute and
-- the funnel of the sessions started in the period (sessions view).
CREATE TABLE rollup_traffic (
    grain             text        NOT NULL CHECK (grain IN ('hour', 'day')),
    period_start      timestamptz NOT NULL,
    page_views        bigint      NOT NULL,
    product_views     bigint      NOT NULL,
    searches          bigint      NOT NULL,
    cart_adds         bigint      NOT NULL,
    cart_removes      bigint      NOT NULL,
    checkouts         bigint      NOT NULL,
    sessions          bigint      NOT NULL,
    funnel_product_view bigint    NOT NULL,
    funnel_add_to_cart  bigint    NOT NULL,
    funnel_checkout     bigint    NOT NULL,
    funnel_purchase     bigint    NOT NULL,
    session_orders      bigint    NOT NULL,
    complete          boolean     NOT NULL,
    run_id            text        NOT NULL,
    computed_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (grain, period_start)
);

-- Payments per period and currency, from payments_minute.
CREATE TABLE rollup_payments (
    grain            text        NOT NULL CHECK (grain IN ('hour', 'day')),
    period_start     timestamptz NOT NULL,
    currency         char(3)     NOT NULL,
    authorized       bigint      NOT NULL,
    failed           bigint      NOT NULL,
    authorized_minor bigint      NOT NULL,
    refunds          bigint      NOT NULL,
    refunded_minor   bigint      NOT NULL,
    chargebacks      bigint      NOT NULL,
    chargeback_minor bigint      NOT NULL,
    complete         boolean     NOT NULL,
    run_id           text        NOT NULL,
    computed_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (grain, period_start, currency)
);

-- +goose Down
DROP TABLE rollup_payments;
DROP TABLE rollup_traffic;
DROP VIEW rollup_sales_margin;
DROP TABLE rollup_sales;
DROP INDEX inventory_movements_cost;
DROP VIEW product_cost_history;
