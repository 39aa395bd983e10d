-- +goose Up

-- Purchase orders drafted by the replenishment workflows, one per reorder.
-- po_id is the idempotency key the workflow derives (a retried draft finds
-- its row). Status moves draft -> awaiting_approval -> approved | rejected |
-- expired, approved -> sent -> received | late, late -> received.
CREATE TABLE purchase_orders (
    po_id             text        PRIMARY KEY,
    product_id        text        NOT NULL,
    warehouse_id      text        NOT NULL,
    supplier_id       text        NOT NULL DEFAULT '',
    quantity          bigint      NOT NULL CHECK (quantity > 0),
    unit_cost_minor   bigint      NOT NULL DEFAULT 0,
    currency          text        NOT NULL DEFAULT '',
    value_minor       bigint      NOT NULL DEFAULT 0,
    lead_time_days    integer     NOT NULL DEFAULT 0,
    status            text        NOT NULL DEFAULT 'draft'
                                  CHECK (status IN ('draft', 'awaiting_approval', 'approved', 'rejected',
                                                    'expired', 'sent', 'received', 'late')),
    -- the reorder plan it came from: demand mean and sigma, z, reorder point,
    -- order-up-to level, stock position
    plan              jsonb       NOT NULL DEFAULT '{}',
    workflow_id       text        NOT NULL DEFAULT '',
    run_id            text        NOT NULL DEFAULT '',
    decided_by        text,
    decided_at        timestamptz,
    decision_note     text        NOT NULL DEFAULT '',
    approval_deadline timestamptz,
    sent_at           timestamptz,
    due_at            timestamptz,
    received_at       timestamptz,
    -- the inventory movement (reason receipt) that fulfilled it
    receipt_event_id  text        UNIQUE,
    received_quantity bigint,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX purchase_orders_product ON purchase_orders (product_id, warehouse_id, created_at);
CREATE INDEX purchase_orders_open ON purchase_orders (status)
    WHERE status IN ('draft', 'awaiting_approval', 'approved', 'sent', 'late');
CREATE INDEX inventory_movements_receipts ON inventory_movements (product_id, warehouse_id, event_time)
    WHERE reason = 'receipt';

-- Competitors' prices (competitor_prices) come from the market topic:
-- migration 00080 creates them with the hot path that writes them.

-- Price recommendations of the PricingRecommendations workflow. Never
-- applied by ShopPulse: a person approves or rejects each.
CREATE TABLE pricing_recommendations (
    id                      bigserial   PRIMARY KEY,
    model_version           text        NOT NULL,  -- model_registry (model 'pricing')
    run_id                  text        NOT NULL,
    product_id              text        NOT NULL,
    currency                text        NOT NULL,
    current_price_minor     bigint      NOT NULL,
    recommended_price_minor bigint      NOT NULL CHECK (recommended_price_minor > 0),
    unit_cost_minor         bigint      NOT NULL,
    competitor_min_minor    bigint,
    elasticity              double precision NOT NULL,
    elasticity_se           double precision NOT NULL,
    r2                      double precision NOT NULL,
    observations            integer     NOT NULL,
    controls                text[]      NOT NULL DEFAULT '{}',
    -- the guardrails that bound the price (max_step_up, competitor_cap, min_margin, ...)
    binding                 text[]      NOT NULL DEFAULT '{}',
    optimum_minor           double precision,  -- before guardrails; NULL when unbounded (inelastic)
    status                  text        NOT NULL DEFAULT 'proposed'
                                        CHECK (status IN ('proposed', 'approved', 'rejected')),
    decided_by              text,
    decided_at              timestamptz,
    note                    text        NOT NULL DEFAULT '',
    created_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (model_version, product_id)
);
CREATE INDEX pricing_recommendations_proposed ON pricing_recommendations (product_id) WHERE status = 'proposed';

-- +goose Down
DROP TABLE pricing_recommendations;
DROP INDEX inventory_movements_receipts;
DROP TABLE purchase_orders;
