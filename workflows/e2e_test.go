package workflows_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/workers"
	"github.com/shoppulse/shoppulse/workflows"
)

// devWorker runs every workflow and activity, registered as the real worker
// does, on a task queue of its own on the Temporal dev server, against a
// fresh schema.
type devWorker struct {
	c     client.Client
	queue string
	s     testenv.Schema
}

func startDevWorker(t *testing.T, deps func(*store.DB) workers.Deps) *devWorker {
	t.Helper()
	s := testenv.DB(t)
	c, err := client.Dial(client.Options{HostPort: testenv.TemporalAddress(t)})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(c.Close)
	queue := testenv.Name("batch")
	w := worker.New(c, queue, worker.Options{})
	d := workers.Deps{
		Stream:      &activities.Stream{DB: s.DB},
		Rollup:      &activities.Rollup{DB: s.DB},
		Partitions:  &activities.Partitions{DB: s.DB},
		Alerts:      &activities.Alerts{DB: s.DB},
		Anomalies:   &activities.Anomalies{DB: s.DB},
		BatchAlerts: &activities.BatchAlerts{DB: s.DB},
		Erasure:     &activities.Erasure{DB: s.DB},
		Quality:     &activities.Quality{DB: s.DB, Brokers: testenv.Brokers(t)},
	}
	if deps != nil {
		d = deps(s.DB)
	}
	workers.Register(w, d)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return &devWorker{c: c, queue: queue, s: s}
}

func (w *devWorker) run(ctx context.Context, t *testing.T, id, wf string, in, out any) {
	t.Helper()
	r, err := w.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: w.queue, WorkflowExecutionTimeout: 8 * time.Minute}, wf, in)
	if err != nil {
		t.Fatalf("start %s: %v", wf, err)
	}
	if err := r.Get(ctx, out); err != nil {
		t.Fatalf("%s %s: %v", wf, id, err)
	}
}

// seedDays stores n days of orders, lines, receipts, minute figures and
// sessions from first, and stream positions past them on every rollup topic.
func seedDays(ctx context.Context, t *testing.T, db *store.DB, first time.Time, n int) {
	t.Helper()
	if err := db.EnsurePartitionsAhead(ctx, first, n); err != nil {
		t.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("seed: %v\n%s", err, sql)
		}
	}
	exec(`INSERT INTO inventory_movements (event_id, event_time, product_id, warehouse_id, delta, reason, unit_cost_minor, currency, topic, partition, kafka_offset)
	      VALUES ('r1', $1, 'P1', 'W1', 100, 'receipt', 400, 'EUR', 'i', 0, 1)`, first.Add(-time.Hour))
	for d := range n {
		day := first.AddDate(0, 0, d)
		for i := range 3 + d {
			at := day.Add(time.Duration(2+i*5) * time.Hour)
			ev := fmt.Sprintf("e-%d-%d", d, i)
			cust := fmt.Sprintf("C%d", i%2)
			exec(`INSERT INTO orders (event_id, event_time, order_id, customer_id, country, currency, channel, total_minor, units, line_count, topic, partition, kafka_offset)
			      VALUES ($1, $2, $1, $3, 'DE', 'EUR', 'web', 2000, 2, 1, 'o', 0, 1)`, ev, at, cust)
			exec(`INSERT INTO order_lines (event_id, event_time, line_no, order_id, product_id, category, quantity, unit_price_minor)
			      VALUES ($1, $2, 1, $1, 'P1', 'shoes', 2, 1000)`, ev, at)
			exec(`INSERT INTO revenue_minute (minute, currency, orders, units, revenue_minor) VALUES ($1, 'EUR', 1, 2, 2000)`, at)
			exec(`INSERT INTO traffic_minute (minute, page_views) VALUES ($1, 7)`, at)
		}
	}
	for _, topic := range workflows.DefaultRollupTopics {
		exec(`INSERT INTO stream_offsets (topic, partition, next_offset, watermark) VALUES ($1, 0, 10, $2)`, topic, first.AddDate(0, 0, n+1))
	}
}

// rollupSnapshot is every rollup row without run_id and computed_at.
func rollupSnapshot(ctx context.Context, t *testing.T, db *store.DB) []string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT to_jsonb(r) - 'run_id' - 'computed_at' FROM rollup_sales r`,
		`SELECT to_jsonb(r) - 'run_id' - 'computed_at' FROM rollup_traffic r`,
		`SELECT to_jsonb(r) - 'run_id' - 'computed_at' FROM rollup_payments r`,
		`SELECT to_jsonb(r) - 'id' - 'created_at' - 'opened_at' FROM alerts r`,
		`SELECT to_jsonb(r) - 'run_id' - 'checked_at' FROM dq_results r`,
		`SELECT to_jsonb(r) - 'run_id' - 'checked_at' FROM dq_scores r`,
	} {
		rows, err := db.Pool.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				t.Fatal(err)
			}
			out = append(out, string(b))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

func TestBackfill_TwiceChangesNothingOnTheDevServer(t *testing.T) {
	w := startDevWorker(t, nil)
	ctx := testenv.Context(t, 9*time.Minute)
	first := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	seedDays(ctx, t, w.s.DB, first, 3)

	in := workflows.BackfillInput{Workflow: workflows.NameRollupDaily, From: "2026-10-01", To: "2026-10-03", Concurrency: 2}
	dq := workflows.BackfillInput{Workflow: workflows.NameDataQuality, From: "2026-10-01", To: "2026-10-03", Concurrency: 3}
	id, dqID := testenv.Name("backfill"), testenv.Name("backfill-dq")
	var res workflows.BackfillResult
	w.run(ctx, t, id, workflows.NameBackfill, in, &res)
	if res.Days != 3 || len(res.Failed) != 0 {
		t.Fatalf("first backfill %+v", res)
	}
	w.run(ctx, t, dqID, workflows.NameBackfill, dq, &res)
	if res.Days != 3 || len(res.Failed) != 0 {
		t.Fatalf("first data quality backfill %+v", res)
	}
	once := rollupSnapshot(ctx, t, w.s.DB)
	var scores int
	if err := w.s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM dq_scores WHERE grain = 'day'`).Scan(&scores); err != nil || scores != 3*7 {
		t.Fatalf("%d daily scores (%v), want 3 days x 7 tables", scores, err)
	}
	var days int
	if err := w.s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM rollup_sales WHERE grain = 'day' AND dimension = 'total'`).Scan(&days); err != nil || days != 3 {
		t.Fatalf("%d daily totals (%v), want 3", days, err)
	}
	var revenue, margin int64
	if err := w.s.DB.Pool.QueryRow(ctx, `SELECT revenue_minor, margin_minor FROM rollup_sales_margin WHERE grain = 'day' AND period_start = $1 AND dimension = 'product'`,
		first.AddDate(0, 0, 2)).Scan(&revenue, &margin); err != nil || revenue != 5*2000 || margin != 5*2*(1000-400) {
		t.Fatalf("day 3 product revenue %d margin %d (%v)", revenue, margin, err)
	}

	// Again under another ID (a second backfill), and under the same ID (a
	// resumed one): the rows are the same.
	w.run(ctx, t, testenv.Name("backfill"), workflows.NameBackfill, in, &res)
	w.run(ctx, t, id, workflows.NameBackfill, in, &res)
	w.run(ctx, t, dqID, workflows.NameBackfill, dq, &res)
	if twice := rollupSnapshot(ctx, t, w.s.DB); !slices.Equal(once, twice) {
		t.Fatalf("second backfill changed the rollups:\nonce  %v\ntwice %v", once, twice)
	}
	var lineage int
	if err := w.s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM lineage WHERE workflow = $1`, workflows.NameRollupDaily).Scan(&lineage); err != nil || lineage != 9 {
		t.Fatalf("%d lineage rows (%v), want one per day and run: 9", lineage, err)
	}
}

// temporalCLI is the temporal CLI's path; missing, the test is skipped (or
// fails when the services are required).
func temporalCLI(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("SHOPPULSE_TEMPORAL_CLI")
	if bin == "" {
		home, _ := os.UserHomeDir()
		bin = filepath.Join(home, ".cache", "shoppulse", "bin", "temporal")
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("SHOPPULSE_REQUIRE_SERVICES") == "1" {
			t.Fatalf("temporal CLI not found at %s (set SHOPPULSE_TEMPORAL_CLI)", bin)
		}
		t.Skipf("temporal CLI not found at %s", bin)
	}
	return bin
}

// The README's way to start a workflow: the temporal CLI with a JSON input.
func TestTemporalCLI_StartsRollupDailyWithJSONInput(t *testing.T) {
	bin := temporalCLI(t)
	w := startDevWorker(t, nil)
	ctx := testenv.Context(t, 2*time.Minute)
	first := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	seedDays(ctx, t, w.s.DB, first, 1)
	id := testenv.Name("cli-rollup")
	cmd := exec.CommandContext(ctx, bin, "workflow", "execute", "--address", testenv.TemporalAddress(t),
		"--type", workflows.NameRollupDaily, "--task-queue", w.queue, "--workflow-id", id,
		"--input", `{"day":"2026-09-01T00:00:00Z","watermark_wait":"30s"}`, "--output", "json")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("temporal workflow execute: %v\n%s", err, out)
	}
	var res workflows.RollupDailyResult
	if err := w.c.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
		t.Fatalf("result of %s: %v\nCLI said %s", id, err, out)
	}
	if !res.Complete || !res.Day.Equal(first) || res.Period.RevenueMinor != 3*2000 {
		t.Fatalf("result %+v\nCLI said %s", res, out)
	}
}

// tablesHolding lists the columns of the schema's tables (partitions
// included through their parents) holding needle in their text.
func tablesHolding(ctx context.Context, t *testing.T, db *store.DB, schema, needle string) []string {
	t.Helper()
	rows, err := db.Pool.Query(ctx, `
		SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
		  JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
		 WHERE c.table_schema = $1 AND t.table_type = 'BASE TABLE'
		   AND c.data_type IN ('text', 'character varying', 'character', 'jsonb', 'json', 'bytea')`, schema)
	if err != nil {
		t.Fatal(err)
	}
	type col struct{ table, column, typ string }
	var cols []col
	var c col
	if _, err := pgx.ForEachRow(rows, []any{&c.table, &c.column, &c.typ}, func() error { cols = append(cols, c); return nil }); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cols {
		expr := fmt.Sprintf(`strpos(%s::text, $1) > 0`, pgx.Identifier{c.column}.Sanitize())
		if c.typ == "bytea" {
			expr = fmt.Sprintf(`position(convert_to($1, 'UTF8') IN %s) > 0`, pgx.Identifier{c.column}.Sanitize())
		}
		var n int
		if err := db.Pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s`, pgx.Identifier{c.table}.Sanitize(), expr), needle).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			out = append(out, c.table+"."+c.column)
		}
	}
	return out
}

func TestEraseCustomer_OnTheDevServer(t *testing.T) {
	w := startDevWorker(t, nil)
	ctx := testenv.Context(t, 3*time.Minute)
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -2)
	seedDays(ctx, t, w.s.DB, day, 1) // customers C0 and C1, stream positions past the day
	cust := testenv.Name("gdpr")
	ip, card := cust+"-ip", cust+"-card"
	if _, err := w.s.DB.Pool.Exec(ctx, `
		INSERT INTO orders (event_id, event_time, order_id, customer_id, country, currency, channel, total_minor, units, line_count, topic, partition, kafka_offset, ip, card_fingerprint)
		VALUES ('g1', $1, 'G1', $2, 'DE', 'EUR', 'web', 999, 1, 1, 'o', 0, 9, $3, $4)`, day.Add(time.Hour), cust, ip, card); err != nil {
		t.Fatal(err)
	}
	if _, err := w.s.DB.Pool.Exec(ctx, `
		INSERT INTO payments (event_id, event_time, payment_id, order_id, customer_id, status, method, amount_minor, currency, card_fingerprint, topic, partition, kafka_offset)
		VALUES ('gp1', $1, 'GP1', 'G1', $2, 'authorized', 'card', 999, 'EUR', $3, 'p', 0, 1)`, day.Add(time.Hour), cust, card); err != nil {
		t.Fatal(err)
	}
	req := testenv.Name("req")
	var res workflows.ErasureResult
	w.run(ctx, t, workflows.ErasureWorkflowID(req), workflows.NameEraseCustomer, workflows.ErasureInput{RequestID: req, CustomerID: cust}, &res)
	if res.Overdue || res.Rows["orders"] != 1 || res.Rows["payments"] != 1 || len(res.RecomputedDays) != 1 || !res.RecomputedDays[0].Equal(day) {
		t.Fatalf("result %+v", res)
	}
	for _, id := range []string{cust, ip, card} {
		if where := tablesHolding(ctx, t, w.s.DB, w.s.Name, id); len(where) > 0 {
			t.Errorf("%q still in %v", id, where)
		}
	}
	audit, err := w.s.DB.ErasureAuditOf(ctx, req)
	if err != nil || audit.Finished == nil || len(audit.RecomputedDays) != 1 || audit.Overdue {
		t.Fatalf("audit %+v (%v)", audit, err)
	}
	var total int64
	if err := w.s.DB.Pool.QueryRow(ctx, `SELECT revenue_minor FROM rollup_sales WHERE grain = 'day' AND period_start = $1 AND dimension = 'total'`, day).Scan(&total); err != nil || total != 3*2000 {
		t.Fatalf("recomputed day total %d (%v)", total, err)
	}
	// The history carries ids only: no ip or card fingerprint.
	it := w.c.GetWorkflowHistory(ctx, workflows.ErasureWorkflowID(req), "", false, 0)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		if s := ev.String(); strings.Contains(s, ip) || strings.Contains(s, card) {
			t.Fatalf("history event %d carries personal data: %s", ev.EventId, s)
		}
	}
	// A second request run changes nothing.
	w.run(ctx, t, workflows.ErasureWorkflowID(req)+"-again", workflows.NameEraseCustomer, workflows.ErasureInput{RequestID: req, CustomerID: cust}, &res)
	if !res.Already {
		t.Fatalf("second run %+v, want already done", res)
	}
}

// The README's own start commands of a few workflows, run as documented
// (only the task queue and workflow ID changed) with `temporal workflow
// execute`, complete on the dev server.
func TestTemporalCLI_DocumentedStartsComplete(t *testing.T) {
	bin := temporalCLI(t)
	w := startDevWorker(t, nil)
	ctx := testenv.Context(t, 4*time.Minute)
	// BackfillDay's documented day, with complete data.
	seedDays(ctx, t, w.s.DB, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), 1)
	want := []string{workflows.NameAlertNotifier, workflows.NameAnomalyDetector, workflows.NamePartitionMaintenance, workflows.NameBackfillDay}
	ran := map[string]bool{}
	for _, d := range readmeStarts(t) {
		if !d.inSection || !slices.Contains(want, d.typ) || ran[d.typ] {
			continue
		}
		ran[d.typ] = true
		id := testenv.Name("cli-" + d.typ)
		out, err := exec.CommandContext(ctx, bin, "workflow", "execute", "--address", testenv.TemporalAddress(t),
			"--type", d.typ, "--task-queue", w.queue, "--workflow-id", id, "--input", d.input, "--output", "json").CombinedOutput()
		if err != nil {
			t.Errorf("README.md:%d: temporal workflow execute --type %s --input '%s': %v\n%s", d.line, d.typ, d.input, err, out)
			continue
		}
		if err := w.c.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
			t.Errorf("README.md:%d: %s: %v", d.line, d.typ, err)
		}
	}
	for _, typ := range want {
		if !ran[typ] {
			t.Errorf("no documented start of %s in the README's CLI section", typ)
		}
	}
}
