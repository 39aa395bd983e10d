package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// BatchMeta is the topic-independent part of one partition's micro-batch:
// where it is in the log, who commits it and its dead letters.
type BatchMeta struct {
	Topic      string
	Partition  int
	Start, End int64
	Owner      string
	// CaughtUp says the batch reached the partition's end offset.
	CaughtUp    bool
	DeadLetters []DeadLetter
}

// ApplyFunc writes one topic kind's results inside a fenced batch
// transaction. watermark is the partition's watermark before the batch (zero
// if none). It returns what it applied; the Watermark it returns is the
// latest event time it applied (zero if none), which CommitBatch merges into
// the partition's watermark. It must not commit or roll back tx.
type ApplyFunc func(ctx context.Context, tx pgx.Tx, watermark time.Time) (BatchResult, error)

// CommitBatch is the exactly-once commit shared by every topic kind: in one
// transaction it locks the partition's offset row, checks that it is at
// m.Start (else ErrFenced and nothing changes), runs apply, stores the dead
// letters, and moves the offset to m.End with the watermark and caught-up
// mark, fenced again by m.Start (DESIGN.md invariant 1).
func (db *DB) CommitBatch(ctx context.Context, m BatchMeta, apply ApplyFunc) (BatchResult, error) {
	var res BatchResult
	if m.End < m.Start {
		return res, fmt.Errorf("commit batch %s/%d: end %d before start %d", m.Topic, m.Partition, m.End, m.Start)
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		// The batch's results and its offset commit together or not at all,
		// so a commit lost in a Postgres crash loses both, and the batch is
		// read again from Kafka: exactly-once does not need the flush to
		// disk before the commit returns, and the hot path's latency does
		// not pay for it.
		// (set_config(..., true) is SET LOCAL, in the same round trip as
		// the lock: small batches of the quiet topics pay per statement.)
		var stored int64
		var watermark *time.Time
		var relaxed string
		err := tx.QueryRow(ctx, `
			SELECT next_offset, watermark, set_config('synchronous_commit', 'off', true) FROM stream_offsets
			 WHERE topic = $1 AND partition = $2 FOR UPDATE`, m.Topic, m.Partition).Scan(&stored, &watermark, &relaxed)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("partition %s/%d has no stored offset: %w", m.Topic, m.Partition, ErrFenced)
		}
		if err != nil {
			return fmt.Errorf("lock offset: %w", err)
		}
		if stored != m.Start {
			return fmt.Errorf("partition %s/%d is at %d, batch starts at %d: %w", m.Topic, m.Partition, stored, m.Start, ErrFenced)
		}
		var prev time.Time
		if watermark != nil {
			prev = watermark.UTC()
		}
		res, err = apply(ctx, tx, prev)
		if err != nil {
			return err
		}
		if prev.After(res.Watermark) {
			res.Watermark = prev
		}
		res.Watermark = res.Watermark.UTC()
		if err := storeDeadLetters(ctx, tx, m.Topic, m.Partition, m.DeadLetters); err != nil {
			return err
		}
		res.DeadLetters = len(m.DeadLetters)

		var wm *time.Time
		if !res.Watermark.IsZero() {
			wm = &res.Watermark
		}
		tag, err := tx.Exec(ctx, `
			UPDATE stream_offsets
			   SET next_offset = $3, watermark = $4, owner = $5, updated_at = now(),
			       caught_up_at = CASE WHEN $6 THEN now() ELSE caught_up_at END
			 WHERE topic = $1 AND partition = $2 AND next_offset = $7`,
			m.Topic, m.Partition, m.End, wm, m.Owner, m.CaughtUp, m.Start)
		if err != nil {
			return fmt.Errorf("move offset: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("partition %s/%d moved during the batch: %w", m.Topic, m.Partition, ErrFenced)
		}
		return nil
	})
	if err != nil {
		return BatchResult{}, fmt.Errorf("commit batch %s/%d [%d,%d): %w", m.Topic, m.Partition, m.Start, m.End, err)
	}
	return res, nil
}

// isLateMinute says an event at t is late: its minute was already behind the
// partition's watermark wm when it arrived.
func isLateMinute(wm, t time.Time) bool {
	return !wm.IsZero() && !t.UTC().Truncate(time.Minute).Add(time.Minute).After(wm)
}

// storeDeadLetters records a batch's dead letters, once per Kafka position.
func storeDeadLetters(ctx context.Context, tx pgx.Tx, topic string, partition int, dls []DeadLetter) error {
	if len(dls) == 0 {
		return nil
	}
	n := len(dls)
	offsets, reasons := make([]int64, n), make([]string, n)
	keys, payloads := make([][]byte, n), make([][]byte, n)
	for i, d := range dls {
		offsets[i], reasons[i], keys[i], payloads[i] = d.Offset, d.Reason, d.Key, d.Payload
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO dead_letters (topic, partition, kafka_offset, reason, key, payload)
		SELECT $1, $2, u.* FROM unnest($3::bigint[], $4::text[], $5::bytea[], $6::bytea[]) AS u
		ON CONFLICT DO NOTHING`, topic, partition, offsets, reasons, keys, payloads)
	if err != nil {
		return fmt.Errorf("insert dead letters: %w", err)
	}
	return nil
}
