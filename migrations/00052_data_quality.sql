-- +goose Up

-- One row per table (or "topic:<name>" for a stream's schema drift), grain,
-- period and check, written by the DataQuality workflow as delete-and-insert
-- of one (table, grain, period) in one transaction, so a re-run leaves the
-- same rows. value is the measure (a rate, a lag in seconds, a robust z, a
-- count of drifting fields), threshold what it is held to; skipped checks
-- (too little history) pass and say so in details.
CREATE TABLE dq_results (
    table_name   text             NOT NULL,
    grain        text             NOT NULL CHECK (grain IN ('hour', 'day')),
    period_start timestamptz      NOT NULL,
    check_name   text             NOT NULL,
    value        double precision NOT NULL,
    threshold    double precision NOT NULL,
    passed       boolean          NOT NULL,
    skipped      boolean          NOT NULL DEFAULT false,
    details      jsonb            NOT NULL DEFAULT '{}',
    run_id       text             NOT NULL,
    checked_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, grain, period_start, check_name)
);
CREATE INDEX dq_results_failed ON dq_results (period_start) WHERE NOT passed;

-- The score of a table for a period: the share of its checks (not skipped)
-- that passed, 0 to 100.
CREATE TABLE dq_scores (
    table_name   text             NOT NULL,
    grain        text             NOT NULL CHECK (grain IN ('hour', 'day')),
    period_start timestamptz      NOT NULL,
    score        double precision NOT NULL CHECK (score BETWEEN 0 AND 100),
    checks       integer          NOT NULL,
    failed       integer          NOT NULL,
    rows         bigint           NOT NULL,
    run_id       text             NOT NULL,
    checked_at   timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, grain, period_start)
);

-- +goose Down
DROP TABLE dq_scores;
DROP TABLE dq_results;
