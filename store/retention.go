package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// DroppedPartition is one daily partition dropped past retention.
type DroppedPartition struct {
	Table     string    `json:"table"`
	Partition string    `json:"partition"`
	Until     time.Time `json:"until"`
	Rows      int64     `json:"rows"`
}

// DropPartitionsBefore detaches and drops every partition of the fact tables
// whose upper bound is at or before cutoff, each in its own transaction
// (detach, count, drop, lineage), so a retry after a failure carries on where
// it stopped and a second run finds nothing to do. A partition without a
// plain range bound (a DEFAULT partition) is never dropped.
//
// A hot path in another process that still remembers a dropped day would
// fail to store an event of it: retention must be longer than any lateness
// the stream accepts.
func (db *DB) DropPartitionsBefore(ctx context.Context, cutoff time.Time, runID, workflow string) ([]DroppedPartition, error) {
	var out []DroppedPartition
	for _, parent := range partitionedTables {
		rows, err := db.Pool.Query(ctx, `
			SELECT c.relname, b.until
			  FROM pg_inherits i
			  JOIN pg_class c ON c.oid = i.inhrelid
			  CROSS JOIN LATERAL (SELECT substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz AS until) b
			 WHERE i.inhparent = $1::regclass AND b.until IS NOT NULL AND b.until <= $2
			 ORDER BY b.until`, parent, cutoff)
		if err != nil {
			return out, fmt.Errorf("list partitions of %s: %w", parent, err)
		}
		type part struct {
			name  string
			until time.Time
		}
		parts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (part, error) {
			var p part
			err := r.Scan(&p.name, &p.until)
			return p, err
		})
		if err != nil {
			return out, fmt.Errorf("list partitions of %s: %w", parent, err)
		}
		for _, p := range parts {
			started := time.Now()
			d := DroppedPartition{Table: parent, Partition: p.name, Until: p.until}
			err := db.inTx(ctx, func(tx pgx.Tx) error {
				child := pgx.Identifier{p.name}.Sanitize()
				if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+child).Scan(&d.Rows); err != nil {
					return fmt.Errorf("count: %w", err)
				}
				if _, err := tx.Exec(ctx, `ALTER TABLE `+pgx.Identifier{parent}.Sanitize()+` DETACH PARTITION `+child); err != nil {
					return fmt.Errorf("detach: %w", err)
				}
				if _, err := tx.Exec(ctx, `DROP TABLE `+child); err != nil {
					return fmt.Errorf("drop: %w", err)
				}
				return recordLineage(ctx, tx, Lineage{
					RunID: runID, Workflow: workflow, Step: "drop-partition-" + p.name, Started: started,
					Inputs:  map[string]any{"tables": []string{parent}, "partition": p.name, "to": p.until, "cutoff": cutoff},
					Outputs: map[string]any{"dropped": p.name, "rows": d.Rows},
				})
			})
			if err != nil {
				return out, fmt.Errorf("drop partition %s of %s: %w", p.name, parent, err)
			}
			db.mu.Lock()
			delete(db.partitions, parent+p.until.Add(-time.Hour).UTC().Format(time.DateOnly))
			db.mu.Unlock()
			out = append(out, d)
		}
	}
	return out, nil
}
