package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// DQNull is a column whose share of NULL or empty values is held to MaxRate.
type DQNull struct {
	Column  string
	MaxRate float64
}

// DQRange is a rule a row breaks when Violation (an SQL predicate over the
// row) is true; the share of breaking rows is held to MaxRate.
type DQRange struct {
	Name      string
	Violation string
	MaxRate   float64
}

// DQTable is what the data quality checks hold one table to.
type DQTable struct {
	Table string
	// TimeColumn is the event-time column periods are cut on.
	TimeColumn string
	Nulls      []DQNull
	// DuplicateKey is a natural key (besides the primary key) that should be
	// unique; the share of rows repeating one is held to MaxDuplicateRate.
	DuplicateKey     []string
	MaxDuplicateRate float64
	Ranges           []DQRange
	// Freshness is the longest gap allowed between the period's newest row
	// and its end; 0 skips the check (sparse tables).
	Freshness time.Duration
}

// DQ check names.
const (
	CheckFreshness   = "freshness"
	CheckVolume      = "volume"
	CheckDuplicates  = "duplicates"
	CheckSchemaDrift = "schema_drift"
)

// Volume check tuning: the history is the same period of the previous
// VolumeHistory days (hour grain: the same hour), and a robust z beyond
// VolumeMaxZ fails unless the change is under VolumeMinChange of the median.
const (
	VolumeHistory    = 14
	VolumeMinHistory = 5
	VolumeMaxZ       = 4.0
	VolumeMinChange  = 0.5
)

// DQTables are the tables the DataQuality workflow checks.
var DQTables = []DQTable{
	{
		Table: "orders", TimeColumn: "event_time", Freshness: 30 * time.Minute,
		Nulls:        []DQNull{{"customer_id", 0}, {"country", 0}, {"currency", 0}, {"channel", 0}},
		DuplicateKey: []string{"order_id"},
		Ranges: []DQRange{
			{"total_minor_negative", "total_minor < 0", 0},
			{"total_minor_too_large", "total_minor > 100000000", 0},
			{"units_not_positive", "units <= 0", 0},
			{"line_count_not_positive", "line_count <= 0", 0},
			{"event_time_in_future", "event_time > ingested_at + interval '5 minutes'", 0},
		},
	},
	{
		Table: "order_lines", TimeColumn: "event_time", Freshness: 30 * time.Minute,
		Nulls:        []DQNull{{"product_id", 0}, {"category", 0.2}},
		DuplicateKey: []string{"order_id", "line_no"},
		Ranges: []DQRange{
			{"quantity_not_positive", "quantity <= 0", 0},
			{"unit_price_not_positive", "unit_price_minor <= 0", 0},
		},
	},
	{
		Table: "clickstream_events", TimeColumn: "event_time", Freshness: 15 * time.Minute,
		Nulls: []DQNull{{"session_id", 0}, {"type", 0}},
		Ranges: []DQRange{
			{"product_view_without_product", "type = 'product_view' AND product_id = ''", 0},
			{"event_time_in_future", "event_time > ingested_at + interval '5 minutes'", 0},
		},
	},
	{
		Table: "payments", TimeColumn: "event_time", Freshness: time.Hour,
		Nulls:        []DQNull{{"order_id", 0}, {"customer_id", 0}, {"method", 0}},
		DuplicateKey: []string{"payment_id", "status"},
		Ranges:       []DQRange{{"amount_not_positive", "amount_minor <= 0", 0}},
	},
	{
		Table: "refunds", TimeColumn: "event_time",
		Nulls:        []DQNull{{"order_id", 0}},
		DuplicateKey: []string{"refund_id"},
		Ranges:       []DQRange{{"amount_not_positive", "amount_minor <= 0", 0}},
	},
	{
		Table: "chargebacks", TimeColumn: "event_time",
		Nulls:        []DQNull{{"order_id", 0}, {"reason", 0}},
		DuplicateKey: []string{"chargeback_id"},
		Ranges:       []DQRange{{"amount_not_positive", "amount_minor <= 0", 0}},
	},
	{
		Table: "inventory_movements", TimeColumn: "event_time",
		Nulls: []DQNull{{"product_id", 0}, {"warehouse_id", 0}, {"reason", 0}},
		Ranges: []DQRange{
			{"delta_zero", "delta = 0", 0},
			{"cost_negative", "unit_cost_minor < 0", 0},
			{"receipt_without_cost", "reason = 'receipt' AND unit_cost_minor = 0", 0.05},
		},
	},
}

// DQTableByName returns the spec of a checked table.
func DQTableByName(name string) (DQTable, bool) {
	for _, t := range DQTables {
		if t.Table == name {
			return t, true
		}
	}
	return DQTable{}, false
}

// DQCheck is one check's outcome.
type DQCheck struct {
	Name      string         `json:"name"`
	Value     float64        `json:"value"`
	Threshold float64        `json:"threshold"`
	Passed    bool           `json:"passed"`
	Skipped   bool           `json:"skipped,omitempty"`
	Details   map[string]any `json:"details,omitempty"`
}

// DQResult is a table's (or topic's) checks for one period and its score.
type DQResult struct {
	Table  string
	Grain  string
	Start  time.Time
	Rows   int64
	Score  float64
	Checks []DQCheck
	// Failed names the failed checks, in check order.
	Failed []string
}

// DQMeasure is what one pass over a table's period counted.
type DQMeasure struct {
	Start, End time.Time
	Rows       int64
	// Newest is the period's newest time (nil without rows).
	Newest *time.Time
	// Nulls and Ranges count the offending rows, in spec order.
	Nulls, Ranges []int64
	// Distinct counts the distinct duplicate keys (0 without a key).
	Distinct int64
	// History is the row count of the same period on each of the
	// VolumeHistory previous days, oldest first.
	History []int64
}

// MeasureTable counts what the data quality checks of one table and period
// need: rows, the newest time, NULL or empty values, rule violations,
// distinct natural keys and the volume history. It reads only.
func (db *DB) MeasureTable(ctx context.Context, spec DQTable, grain string, at time.Time) (DQMeasure, error) {
	start, end, err := PeriodBounds(grain, at)
	if err != nil {
		return DQMeasure{}, err
	}
	m := DQMeasure{Start: start, End: end}
	tbl, tc := pgx.Identifier{spec.Table}.Sanitize(), pgx.Identifier{spec.TimeColumn}.Sanitize()
	cols := []string{"count(*)", "max(" + tc + ")"}
	for _, n := range spec.Nulls {
		c := pgx.Identifier{n.Column}.Sanitize()
		cols = append(cols, fmt.Sprintf("count(*) FILTER (WHERE %s IS NULL OR %s::text = '')", c, c))
	}
	for _, r := range spec.Ranges {
		cols = append(cols, fmt.Sprintf("count(*) FILTER (WHERE %s)", r.Violation))
	}
	if len(spec.DuplicateKey) > 0 {
		var k []string
		for _, c := range spec.DuplicateKey {
			k = append(k, pgx.Identifier{c}.Sanitize())
		}
		cols = append(cols, "count(DISTINCT ("+strings.Join(k, ", ")+"))")
	}
	m.Nulls, m.Ranges = make([]int64, len(spec.Nulls)), make([]int64, len(spec.Ranges))
	dest := []any{&m.Rows, &m.Newest}
	for i := range m.Nulls {
		dest = append(dest, &m.Nulls[i])
	}
	for i := range m.Ranges {
		dest = append(dest, &m.Ranges[i])
	}
	if len(spec.DuplicateKey) > 0 {
		dest = append(dest, &m.Distinct)
	}
	if err := db.Pool.QueryRow(ctx, fmt.Sprintf(`SELECT %s FROM %s WHERE %s >= $1 AND %s < $2`, strings.Join(cols, ", "), tbl, tc, tc),
		start, end).Scan(dest...); err != nil {
		return m, fmt.Errorf("measure %s: %w", spec.Table, err)
	}
	var starts []time.Time
	for k := VolumeHistory; k >= 1; k-- {
		starts = append(starts, start.AddDate(0, 0, -k))
	}
	rows, err := db.Pool.Query(ctx, fmt.Sprintf(`
		SELECT (SELECT count(*) FROM %s WHERE %s >= s.p AND %s < s.p + $2::interval)
		  FROM unnest($1::timestamptz[]) WITH ORDINALITY AS s(p, i) ORDER BY s.i`, tbl, tc, tc),
		starts, end.Sub(start).String())
	if err != nil {
		return m, fmt.Errorf("volume history of %s: %w", spec.Table, err)
	}
	if m.History, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil {
		return m, fmt.Errorf("volume history of %s: %w", spec.Table, err)
	}
	return m, nil
}

// RecordQuality stores a table's (or topic's) checks and score for a
// period, replacing what an earlier run stored, raises a data_quality alert
// per failed check (resolving the open one of a check that passes, for
// periods of the last two days), and records lineage, in one transaction. It
// sets res.Score and res.Failed.
func (db *DB) RecordQuality(ctx context.Context, res *DQResult, runID, workflow string, inputs []string) error {
	started := time.Now()
	passed, counted := 0, 0
	res.Failed = nil
	for _, c := range res.Checks {
		if c.Skipped {
			continue
		}
		counted++
		if c.Passed {
			passed++
		} else {
			res.Failed = append(res.Failed, c.Name)
		}
	}
	res.Score = 100
	if counted > 0 {
		res.Score = 100 * float64(passed) / float64(counted)
	}
	_, end, err := PeriodBounds(res.Grain, res.Start)
	if err != nil {
		return err
	}
	recent := end.After(time.Now().Add(-48 * time.Hour))
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM dq_results WHERE table_name = $1 AND grain = $2 AND period_start = $3`, res.Table, res.Grain, res.Start); err != nil {
			return fmt.Errorf("clear results: %w", err)
		}
		for _, c := range res.Checks {
			details, err := json.Marshal(c.Details)
			if err != nil {
				return fmt.Errorf("details of %s: %w", c.Name, err)
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO dq_results (table_name, grain, period_start, check_name, value, threshold, passed, skipped, details, run_id)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				res.Table, res.Grain, res.Start, c.Name, finite(c.Value), c.Threshold, c.Passed, c.Skipped, details, runID); err != nil {
				return fmt.Errorf("store %s: %w", c.Name, err)
			}
			key := "dq:" + res.Table + ":" + c.Name
			if !c.Passed {
				if _, err := RaiseAlert(ctx, tx, NewAlert{
					Type: "data_quality", Entity: res.Table, Severity: SeverityWarning, DedupKey: key, OpenedAt: res.Start,
					Details: map[string]any{"check": c.Name, "grain": res.Grain, "period": res.Start, "value": finite(c.Value), "threshold": c.Threshold},
				}); err != nil {
					return err
				}
			} else if recent && !c.Skipped {
				if _, err := ResolveAlert(ctx, tx, key, end, map[string]any{"passed_for": res.Start}); err != nil {
					return err
				}
			}
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO dq_scores (table_name, grain, period_start, score, checks, failed, rows, run_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (table_name, grain, period_start) DO UPDATE SET score = excluded.score, checks = excluded.checks,
				failed = excluded.failed, rows = excluded.rows, run_id = excluded.run_id, checked_at = now()`,
			res.Table, res.Grain, res.Start, res.Score, counted, len(res.Failed), res.Rows, runID); err != nil {
			return fmt.Errorf("store score: %w", err)
		}
		return recordLineage(ctx, tx, Lineage{
			RunID: runID, Workflow: workflow, Step: "dq-" + res.Table + "-" + res.Grain + "-" + res.Start.Format(time.RFC3339), Started: started,
			Inputs:  map[string]any{"tables": inputs, "from": res.Start, "to": end, "rows": res.Rows},
			Outputs: map[string]any{"tables": []string{"dq_results", "dq_scores"}, "rows": len(res.Checks) + 1, "score": res.Score, "failed": res.Failed},
		})
	})
	if err != nil {
		return fmt.Errorf("record quality of %s %s: %w", res.Table, res.Start.Format(time.RFC3339), err)
	}
	return nil
}

// finite maps NaN and infinities to 0 (Postgres stores them, JSON cannot).
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}
