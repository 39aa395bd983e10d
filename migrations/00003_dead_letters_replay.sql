-- +goose Up

-- `shoppulse dlq replay` marks the dead letters it re-sent, so they are not
-- re-sent by accident; replay_count counts deliberate repeats (--again).
ALTER TABLE dead_letters
    ADD COLUMN replayed_at  timestamptz,
    ADD COLUMN replay_count integer NOT NULL DEFAULT 0;

CREATE INDEX dead_letters_received_at ON dead_letters (received_at);

-- +goose Down
DROP INDEX dead_letters_received_at;
ALTER TABLE dead_letters DROP COLUMN replay_count, DROP COLUMN replayed_at;
