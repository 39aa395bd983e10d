-- +goose Up
-- The read API's writes and reads: alerts acknowledged and resolved by a
-- person (who and when), and the indexes its lists page by. (fraud_labels,
-- which the fraud queue writes, comes with the model registry.)
ALTER TABLE alerts
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN acknowledged_by text,
    ADD COLUMN resolved_by     text;

-- The fraud queue pages by score, highest first, over every score.
CREATE INDEX fraud_scores_queue ON fraud_scores (score DESC, event_time, event_id);

-- Lineage by table: which runs read or wrote it.
CREATE INDEX lineage_finished ON lineage (finished_at DESC, run_id, step);

-- +goose Down
DROP INDEX lineage_finished;
DROP INDEX fraud_scores_queue;
ALTER TABLE alerts DROP COLUMN resolved_by, DROP COLUMN acknowledged_by, DROP COLUMN acknowledged_at;
