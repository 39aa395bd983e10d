-- +goose Up

-- Sessions are rebuilt in place (an update of the same session key) as
-- their events arrive; free space on each page lets those updates stay HOT
-- (no index entry written). Applies to pages written from now on.
ALTER TABLE click_sessions SET (fillfactor = 70);

-- +goose Down
ALTER TABLE click_sessions RESET (fillfactor);
