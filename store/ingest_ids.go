package store

import (
	"context"
	"fmt"
	"time"
)

// ClaimEventIDs records event ids received by the ingest API and returns the
// ids that were new, in no particular order: an id already recorded (a retry
// or a duplicate) is not returned. ids must not repeat within one call.
// Claiming is atomic per id, so two concurrent requests with the same id see
// it claimed by exactly one.
func (db *DB) ClaimEventIDs(ctx context.Context, ids []string, at time.Time) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := db.Pool.Query(ctx,
		`INSERT INTO ingest_event_ids (event_id, received_at)
		 SELECT id, $2 FROM unnest($1::text[]) AS id
		 ON CONFLICT (event_id) DO NOTHING
		 RETURNING event_id`, ids, at)
	if err != nil {
		return nil, fmt.Errorf("claim %d event ids: %w", len(ids), err)
	}
	defer rows.Close()
	claimed := make([]string, 0, len(ids))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("claim event ids: %w", err)
		}
		claimed = append(claimed, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim %d event ids: %w", len(ids), err)
	}
	return claimed, nil
}

// ReleaseEventIDs forgets claimed ids whose events could not be sent, so a
// retry of the same events is accepted.
func (db *DB) ReleaseEventIDs(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.Pool.Exec(ctx, `DELETE FROM ingest_event_ids WHERE event_id = ANY($1::text[])`, ids); err != nil {
		return fmt.Errorf("release %d event ids: %w", len(ids), err)
	}
	return nil
}

// DeleteEventIDsBefore forgets ids received before t (the retention of the
// idempotency window) and returns how many it deleted.
func (db *DB) DeleteEventIDsBefore(ctx context.Context, t time.Time) (int64, error) {
	tag, err := db.Pool.Exec(ctx, `DELETE FROM ingest_event_ids WHERE received_at < $1`, t)
	if err != nil {
		return 0, fmt.Errorf("delete event ids before %s: %w", t.Format(time.RFC3339), err)
	}
	return tag.RowsAffected(), nil
}
