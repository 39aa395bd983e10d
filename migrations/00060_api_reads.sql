-- +goose Up
-- The read API's writes: alerts acknowledged by a person (who and when),
-- and fraud labels decided in the fraud queue, which the fraud model's
-- training reads as ground truth.
ALTER TABLE alerts
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN acknowledged_by text,
    ADD COLUMN resolved_by     text;

-- The alerts list pages newest first.
CREATE INDEX alerts_opened ON alerts (opened_at DESC, id DESC);

CREATE TABLE fraud_labels (
    order_id   text        PRIMARY KEY,
    label      text        NOT NULL CHECK (label IN ('fraud', 'legitimate')),
    decided_by text        NOT NULL, -- the API key id that decided
    decided_at timestamptz NOT NULL DEFAULT now(),
    note       text        NOT NULL DEFAULT ''
);

-- The fraud queue pages by score, highest first, over every score.
CREATE INDEX fraud_scores_queue ON fraud_scores (score DESC, event_time, event_id);

-- Lineage by table: which runs read or wrote it.
CREATE INDEX lineage_finished ON lineage (finished_at DESC, run_id, step);

-- +goose Down
DROP INDEX lineage_finished;
DROP INDEX fraud_scores_queue;
DROP TABLE fraud_labels;
DROP INDEX alerts_opened;
ALTER TABLE alerts DROP COLUMN resolved_by, DROP COLUMN acknowledged_by, DROP COLUMN acknowledged_at;
