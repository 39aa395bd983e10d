-- +goose Up

-- The model registry: every trained model version of every kind, its
-- training window, parameters, metrics, status and who promoted it. The
-- batch side registers candidates and promotes one when it beats the active
-- version; the hot path and the API read the active one. At most one
-- version of a model is active.
CREATE TABLE model_registry (
    model       text        NOT NULL,  -- fraud, segmentation, churn, recommendations, forecast, pricing, ...
    version     text        NOT NULL,
    algorithm   text        NOT NULL,  -- logistic, kmeans, bgnbd, item-cosine, holt-winters, ...
    status      text        NOT NULL DEFAULT 'candidate'
                            CHECK (status IN ('candidate', 'active', 'retired')),
    train_from  timestamptz,
    train_to    timestamptz,
    params      jsonb       NOT NULL DEFAULT '{}',
    metrics     jsonb       NOT NULL DEFAULT '{}',
    trained_by  text        NOT NULL DEFAULT '',  -- the workflow run (or person) that trained it
    promoted_by text,
    promoted_at timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, version)
);
CREATE UNIQUE INDEX model_registry_one_active ON model_registry (model) WHERE status = 'active';

INSERT INTO model_registry (model, version, algorithm, status, params, metrics, created_at, promoted_by, promoted_at)
SELECT 'fraud', version, kind, CASE WHEN active THEN 'active' ELSE 'retired' END,
       params, metrics, created_at,
       CASE WHEN active THEN 'migration' END, CASE WHEN active THEN created_at END
FROM fraud_models;
DROP TABLE fraud_models;

-- The fraud models as the hot path reads them.
CREATE VIEW fraud_models AS
SELECT version, algorithm AS kind, params, status = 'active' AS active, created_at, metrics
FROM model_registry WHERE model = 'fraud';

-- Decisions made on the fraud queue (API and dashboard): labels for the
-- fraud model's training, beside chargebacks.
CREATE TABLE fraud_labels (
    order_id   text        PRIMARY KEY,
    label      text        NOT NULL CHECK (label IN ('fraud', 'legitimate')),
    decided_by text        NOT NULL,
    decided_at timestamptz NOT NULL DEFAULT now(),
    note       text        NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE fraud_labels;
DROP VIEW fraud_models;
CREATE TABLE fraud_models (
    version    text        PRIMARY KEY,
    kind       text        NOT NULL,
    params     jsonb       NOT NULL,
    active     boolean     NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    metrics    jsonb       NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX fraud_models_one_active ON fraud_models (active) WHERE active;
INSERT INTO fraud_models (version, kind, params, active, metrics, created_at)
SELECT version, algorithm, params, status = 'active', metrics, created_at FROM model_registry WHERE model = 'fraud';
DROP TABLE model_registry;
