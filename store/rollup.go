package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// WatermarkResult says whether every partition of a topic has passed a time.
type WatermarkResult struct {
	Ready   bool
	Lagging []int
	// LaggingPartitions names the lagging partitions as "topic/partition"
	// ("topic/none" for a topic with no stored partition) when several
	// topics were checked (WatermarksPassed).
	LaggingPartitions []string `json:",omitempty"`
}

// WatermarkPassed reports whether every partition of topic has applied an
// event at or after until, or was found fully consumed after until (an idle
// partition holds nothing older). A topic with no stored partitions is not
// ready.
func (db *DB) WatermarkPassed(ctx context.Context, topic string, until time.Time) (WatermarkResult, error) {
	states, err := db.Offsets(ctx, topic)
	if err != nil {
		return WatermarkResult{}, err
	}
	res := WatermarkResult{Ready: len(states) > 0}
	for _, s := range states {
		if s.Watermark.Before(until) && s.CaughtUpAt.Before(until) {
			res.Ready = false
			res.Lagging = append(res.Lagging, s.Partition)
		}
	}
	return res, nil
}

// RollupRequest is one hour of revenue to roll up.
type RollupRequest struct {
	Hour     time.Time
	RunID    string
	Workflow string
	Topic    string
	Complete bool
}

// RollupResult is what a rollup wrote.
type RollupResult struct {
	Hour         time.Time
	Rows         int64
	Orders       int64
	RevenueMinor int64
}

// RollupRevenueHour replaces revenue_hourly's rows of one hour with the sums
// of revenue_minute, and records the run's lineage, in one transaction.
func (db *DB) RollupRevenueHour(ctx context.Context, r RollupRequest) (RollupResult, error) {
	hour := r.Hour.UTC().Truncate(time.Hour)
	res := RollupResult{Hour: hour}
	started := time.Now()
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM revenue_hourly WHERE hour = $1`, hour); err != nil {
			return fmt.Errorf("clear hour: %w", err)
		}
		err := tx.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO revenue_hourly (hour, currency, orders, units, revenue_minor, cancellations, cancelled_minor, complete, run_id)
				SELECT $1, currency, sum(orders), sum(units), sum(revenue_minor), sum(cancellations), sum(cancelled_minor), $3, $4
				  FROM revenue_minute
				 WHERE minute >= $1 AND minute < $2
				 GROUP BY currency
				RETURNING orders, revenue_minor)
			SELECT count(*), coalesce(sum(orders), 0), coalesce(sum(revenue_minor), 0) FROM ins`,
			hour, hour.Add(time.Hour), r.Complete, r.RunID).Scan(&res.Rows, &res.Orders, &res.RevenueMinor)
		if err != nil {
			return fmt.Errorf("insert hour: %w", err)
		}
		offsets, err := db.offsetsTx(ctx, tx, r.Topic)
		if err != nil {
			return err
		}
		return recordLineage(ctx, tx, Lineage{
			RunID: r.RunID, Workflow: r.Workflow, Step: "rollup-revenue-hour", Started: started,
			Inputs: map[string]any{
				"tables": []string{"revenue_minute"}, "from": hour, "to": hour.Add(time.Hour),
				"complete": r.Complete, "stream_offsets": offsets,
			},
			Outputs: map[string]any{
				"tables": []string{"revenue_hourly"}, "rows": res.Rows, "orders": res.Orders, "revenue_minor": res.RevenueMinor,
			},
		})
	})
	if err != nil {
		return RollupResult{}, fmt.Errorf("roll up revenue for %s: %w", hour.Format(time.RFC3339), err)
	}
	return res, nil
}

// Lineage is what one step of a batch run read and wrote.
type Lineage struct {
	RunID, Workflow, Step string
	Started               time.Time
	Inputs, Outputs       map[string]any
}

// recordLineage upserts a lineage row, so a retried step keeps one row, the last.
func recordLineage(ctx context.Context, tx pgx.Tx, l Lineage) error {
	in, err := json.Marshal(l.Inputs)
	if err != nil {
		return fmt.Errorf("lineage inputs: %w", err)
	}
	out, err := json.Marshal(l.Outputs)
	if err != nil {
		return fmt.Errorf("lineage outputs: %w", err)
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO lineage (run_id, workflow, step, inputs, outputs, started_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (run_id, step) DO UPDATE SET
			workflow = excluded.workflow, inputs = excluded.inputs, outputs = excluded.outputs,
			started_at = excluded.started_at, finished_at = now()`,
		l.RunID, l.Workflow, l.Step, in, out, l.Started)
	if err != nil {
		return fmt.Errorf("record lineage: %w", err)
	}
	return nil
}

// offsetsTx returns the stored offsets of a topic as partition -> next offset.
func (db *DB) offsetsTx(ctx context.Context, tx pgx.Tx, topic string) (map[string]int64, error) {
	rows, err := tx.Query(ctx, `SELECT partition, next_offset FROM stream_offsets WHERE topic = $1`, topic)
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	out := map[string]int64{}
	var p int
	var off int64
	_, err = pgx.ForEachRow(rows, []any{&p, &off}, func() error {
		out[fmt.Sprint(p)] = off
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read offsets: %w", err)
	}
	return out, nil
}
