package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// StoredOffset is one partition's row of stream_offsets: where its owner has
// committed up to, and when it last committed a batch.
type StoredOffset struct {
	Topic      string
	Partition  int
	NextOffset int64
	// Watermark is the event time the partition has reached; zero before
	// the first batch.
	Watermark time.Time
	// LastBatchAt is when the partition's last batch (or caught-up mark)
	// committed.
	LastBatchAt time.Time
	Owner       string
}

// StoredOffsets returns every partition of every topic the hot path owns,
// by topic and partition.
func (db *DB) StoredOffsets(ctx context.Context) ([]StoredOffset, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT topic, partition, next_offset, coalesce(watermark, 'epoch'), updated_at, coalesce(owner, '')
		  FROM stream_offsets ORDER BY topic, partition`)
	if err != nil {
		return nil, fmt.Errorf("read stream offsets: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StoredOffset, error) {
		var s StoredOffset
		err := r.Scan(&s.Topic, &s.Partition, &s.NextOffset, &s.Watermark, &s.LastBatchAt, &s.Owner)
		if s.Watermark.Unix() == 0 {
			s.Watermark = time.Time{}
		}
		s.Watermark, s.LastBatchAt = s.Watermark.UTC(), s.LastBatchAt.UTC()
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read stream offsets: %w", err)
	}
	return out, nil
}

// AlertCount is how many alerts of a type and severity are open.
type AlertCount struct {
	Type     string `json:"type"`
	Severity string `json:"severity"`
	Open     int    `json:"open"`
}

// OpenAlerts returns the open alerts counted by type and severity (most
// first), and the newest limit of them.
func (db *DB) OpenAlerts(ctx context.Context, limit int) ([]AlertCount, []Alert, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT type, severity, count(*) FROM alerts WHERE resolved_at IS NULL
		 GROUP BY type, severity ORDER BY count(*) DESC, type, severity`)
	if err != nil {
		return nil, nil, fmt.Errorf("count open alerts: %w", err)
	}
	counts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertCount, error) {
		var c AlertCount
		return c, r.Scan(&c.Type, &c.Severity, &c.Open)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("count open alerts: %w", err)
	}
	rows, err = db.Pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE resolved_at IS NULL
		 ORDER BY opened_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("read open alerts: %w", err)
	}
	latest, err := pgx.CollectRows(rows, scanAlert)
	if err != nil {
		return nil, nil, fmt.Errorf("read open alerts: %w", err)
	}
	return counts, latest, nil
}
