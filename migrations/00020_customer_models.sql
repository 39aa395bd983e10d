-- +goose Up

-- Customer features as of a date (the data before that date's midnight UTC),
-- written by the CustomerFeatures workflow: RFM with quintile scores (1 to 5,
-- 5 best), the named segment of the R x F grid (analytics.RFMSegment) and the
-- k-means cluster. A run for an as-of date replaces that date's rows in one
-- transaction. model_version names the segmentation in model_registry.
CREATE TABLE customer_features (
    as_of          date        NOT NULL,
    customer_id    text        NOT NULL,
    first_order_at timestamptz NOT NULL,
    last_order_at  timestamptz NOT NULL,
    recency_days   double precision NOT NULL,
    orders         bigint      NOT NULL,
    monetary_minor bigint      NOT NULL,
    currency       char(3)     NOT NULL,
    r_score        smallint    NOT NULL CHECK (r_score BETWEEN 1 AND 5),
    f_score        smallint    NOT NULL CHECK (f_score BETWEEN 1 AND 5),
    m_score        smallint    NOT NULL CHECK (m_score BETWEEN 1 AND 5),
    rfm            char(3)     NOT NULL,
    segment        text        NOT NULL,
    cluster        integer     NOT NULL,
    model_version  text        NOT NULL,
    run_id         text        NOT NULL,
    PRIMARY KEY (as_of, customer_id)
);
CREATE INDEX customer_features_customer ON customer_features (customer_id, as_of);
CREATE INDEX customer_features_segment ON customer_features (as_of, segment);

-- The k-means clusters of an as-of date and their profiles: size, the mean
-- raw features, the centroid in standardised space (log1p of recency days,
-- orders and monetary value, scaled to mean 0 and deviation 1) and the RFM
-- segment most of its customers are in.
CREATE TABLE customer_segments (
    as_of               date             NOT NULL,
    cluster             integer          NOT NULL,
    customers           bigint           NOT NULL,
    mean_recency_days   double precision NOT NULL,
    mean_orders         double precision NOT NULL,
    mean_monetary_minor double precision NOT NULL,
    centroid            jsonb            NOT NULL,
    top_segment         text             NOT NULL,
    model_version       text             NOT NULL,
    run_id              text             NOT NULL,
    PRIMARY KEY (as_of, cluster)
);

-- Churn and lifetime value as of a date, written by the ChurnLTV workflow:
-- the BG/NBD inputs (repeat purchase days, the last at recency_weeks after
-- the first, age_weeks since the first), the probability the customer is
-- still active, expected purchases over the horizon, the Gamma-Gamma expected
-- spend per purchase and the discounted lifetime value over the horizon.
CREATE TABLE churn_scores (
    as_of                    date             NOT NULL,
    customer_id              text             NOT NULL,
    frequency                integer          NOT NULL,
    recency_weeks            double precision NOT NULL,
    age_weeks                double precision NOT NULL,
    p_alive                  double precision NOT NULL,
    expected_purchases       double precision NOT NULL,
    horizon_days             integer          NOT NULL,
    expected_spend_minor     double precision NOT NULL,
    clv_minor                double precision NOT NULL,
    currency                 char(3)          NOT NULL,
    model_version            text             NOT NULL,
    run_id                   text             NOT NULL,
    PRIMARY KEY (as_of, customer_id)
);
CREATE INDEX churn_scores_customer ON churn_scores (customer_id, as_of);
CREATE INDEX churn_scores_at_risk ON churn_scores (as_of, p_alive);

-- Item-to-item similarities (cosine over co-purchases and co-views) as of a
-- date, the top k per product, rank 1 the most similar.
CREATE TABLE product_similarities (
    as_of              date             NOT NULL,
    product_id         text             NOT NULL,
    rank               integer          NOT NULL,
    similar_product_id text             NOT NULL,
    score              double precision NOT NULL,
    model_version      text             NOT NULL,
    run_id             text             NOT NULL,
    PRIMARY KEY (as_of, product_id, rank)
);

-- The top k products for each customer as of a date, never one they bought
-- in the training window. source: 'similar' (the collaborative filter) or
-- 'popular' (the fill when it has fewer than k).
CREATE TABLE customer_recommendations (
    as_of         date             NOT NULL,
    customer_id   text             NOT NULL,
    rank          integer          NOT NULL,
    product_id    text             NOT NULL,
    score         double precision NOT NULL,
    source        text             NOT NULL CHECK (source IN ('similar', 'popular')),
    model_version text             NOT NULL,
    run_id        text             NOT NULL,
    PRIMARY KEY (as_of, customer_id, rank)
);
CREATE INDEX customer_recommendations_customer ON customer_recommendations (customer_id, as_of);

-- +goose Down
DROP TABLE customer_recommendations;
DROP TABLE product_similarities;
DROP TABLE churn_scores;
DROP TABLE customer_segments;
DROP TABLE customer_features;
