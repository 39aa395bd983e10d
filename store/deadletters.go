package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DeadLetterKey names one dead letter: where its message was in Kafka.
type DeadLetterKey struct {
	Topic     string
	Partition int
	Offset    int64
}

// DeadLetterRecord is one row of dead_letters.
type DeadLetterRecord struct {
	DeadLetterKey
	Reason     string
	Key        []byte
	Payload    []byte
	ReceivedAt time.Time
	// ReplayedAt is when `dlq replay` last re-sent it; zero if never.
	ReplayedAt  time.Time
	ReplayCount int
}

// DeadLetterFilter selects dead letters. Zero fields select everything.
type DeadLetterFilter struct {
	Topic string
	// Since keeps dead letters received at or after it.
	Since time.Time
	// Reason keeps those whose reason contains it, ignoring case.
	Reason string
	// Keys keeps exactly these (and no other) dead letters, when not empty.
	Keys []DeadLetterKey
	// NotReplayed drops those already replayed.
	NotReplayed bool
	// Limit caps the rows returned; 0 means no cap.
	Limit int
}

// DeadLetters returns the dead letters f selects, oldest first (by
// received_at, then topic, partition and offset).
func (db *DB) DeadLetters(ctx context.Context, f DeadLetterFilter) ([]DeadLetterRecord, error) {
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Topic != "" {
		where = append(where, "topic = "+arg(f.Topic))
	}
	if !f.Since.IsZero() {
		where = append(where, "received_at >= "+arg(f.Since))
	}
	if f.Reason != "" {
		where = append(where, "strpos(lower(reason), lower("+arg(f.Reason)+")) > 0")
	}
	if f.NotReplayed {
		where = append(where, "replayed_at IS NULL")
	}
	if len(f.Keys) > 0 {
		topics, parts, offs := make([]string, len(f.Keys)), make([]int32, len(f.Keys)), make([]int64, len(f.Keys))
		for i, k := range f.Keys {
			topics[i], parts[i], offs[i] = k.Topic, int32(k.Partition), k.Offset
		}
		where = append(where, fmt.Sprintf("(topic, partition, kafka_offset) IN (SELECT * FROM unnest(%s::text[], %s::int[], %s::bigint[]))",
			arg(topics), arg(parts), arg(offs)))
	}
	q := `SELECT topic, partition, kafka_offset, reason, key, payload, received_at, replayed_at, replay_count FROM dead_letters`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY received_at, topic, partition, kafka_offset"
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	rows, err := db.Pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("query dead letters: %w", err)
	}
	defer rows.Close()
	var out []DeadLetterRecord
	for rows.Next() {
		var (
			r        DeadLetterRecord
			replayed *time.Time
		)
		if err := rows.Scan(&r.Topic, &r.Partition, &r.Offset, &r.Reason, &r.Key, &r.Payload, &r.ReceivedAt, &replayed, &r.ReplayCount); err != nil {
			return nil, fmt.Errorf("scan dead letter: %w", err)
		}
		if replayed != nil {
			r.ReplayedAt = *replayed
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	return out, nil
}

// MarkDeadLettersReplayed records that keys were re-sent at at: it sets
// replayed_at and adds one to replay_count. It returns how many rows it
// marked.
func (db *DB) MarkDeadLettersReplayed(ctx context.Context, keys []DeadLetterKey, at time.Time) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	topics, parts, offs := make([]string, len(keys)), make([]int32, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		topics[i], parts[i], offs[i] = k.Topic, int32(k.Partition), k.Offset
	}
	tag, err := db.Pool.Exec(ctx, `
		UPDATE dead_letters SET replayed_at = $4, replay_count = replay_count + 1
		WHERE (topic, partition, kafka_offset) IN (SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]))`,
		topics, parts, offs, at)
	if err != nil {
		return 0, fmt.Errorf("mark dead letters replayed: %w", err)
	}
	return tag.RowsAffected(), nil
}
