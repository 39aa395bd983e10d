package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// seedSales stores, on day: two orders (EUR) of two products, receipts that
// give P1 a cost of 600 before the day and 700 after its end, P2 no cost,
// the matching revenue_minute rows, one minute of traffic, one session with
// a purchase and one minute of payments.
func seedSales(ctx context.Context, t *testing.T, db *store.DB, day time.Time) {
	t.Helper()
	if err := db.EnsurePartitionsAhead(ctx, day, 1); err != nil {
		t.Fatal(err)
	}
	at := day.Add(10 * time.Hour)
	stmts := []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO orders (event_id, event_time, order_id, customer_id, country, currency, channel, total_minor, units, line_count, topic, partition, kafka_offset)
		  VALUES ('e1', $1, 'O1', 'C1', 'DE', 'EUR', 'web', 3000, 3, 2, 't', 0, 1),
		         ('e2', $2, 'O2', 'C2', 'FR', 'EUR', 'app', 1000, 1, 1, 't', 0, 2)`, []any{at, at.Add(time.Hour)}},
		{`INSERT INTO order_lines (event_id, event_time, line_no, order_id, product_id, category, quantity, unit_price_minor)
		  VALUES ('e1', $1, 1, 'O1', 'P1', 'shoes', 2, 1000), ('e1', $1, 2, 'O1', 'P2', 'hats', 1, 1000),
		         ('e2', $2, 1, 'O2', 'P1', 'shoes', 1, 1000)`, []any{at, at.Add(time.Hour)}},
		{`INSERT INTO inventory_movements (event_id, event_time, product_id, warehouse_id, delta, reason, unit_cost_minor, currency, topic, partition, kafka_offset)
		  VALUES ('r1', $1, 'P1', 'W1', 10, 'receipt', 500, 'EUR', 'i', 0, 1),
		         ('r2', $2, 'P1', 'W1', 10, 'receipt', 600, 'EUR', 'i', 0, 2),
		         ('r3', $3, 'P1', 'W1', 10, 'receipt', 700, 'EUR', 'i', 0, 3)`,
			[]any{day.AddDate(0, 0, -3), day.Add(-time.Hour), day.AddDate(0, 0, 2)}},
		{`INSERT INTO revenue_minute (minute, currency, orders, units, revenue_minor, cancellations, cancelled_minor)
		  VALUES ($1, 'EUR', 1, 3, 3000, 0, 0), ($2, 'EUR', 1, 1, 1000, 1, 500)`, []any{at, at.Add(time.Hour)}},
		{`INSERT INTO traffic_minute (minute, page_views, product_views, searches, cart_adds, cart_removes, checkouts)
		  VALUES ($1, 10, 5, 2, 3, 1, 2)`, []any{at}},
		{`INSERT INTO click_sessions (session_key, session_id, customer_id, started_at, ended_at, timeout_at, events, pages,
		                              page_views, product_views, products_viewed, searches, cart_adds, cart_removes, checkout)
		  VALUES ('S1@x', 'S1', 'C1', $1, $1, $2, 4, 2, 1, 1, 1, 0, 1, 0, true),
		         ('S2@x', 'S2', '', $1, $1, $2, 1, 1, 1, 0, 0, 0, 0, 0, false)`, []any{at.Add(-time.Minute), at.Add(30 * time.Minute)}},
		{`INSERT INTO session_purchases (event_id, event_time, session_id, order_id, customer_id, total_minor, currency)
		  VALUES ('e1', $1, 'S1', 'O1', 'C1', 3000, 'EUR')`, []any{at}},
		{`INSERT INTO payments_minute (minute, currency, authorized, failed, authorized_minor, refunds, refunded_minor, chargebacks, chargeback_minor)
		  VALUES ($1, 'EUR', 2, 1, 4000, 1, 500, 0, 0)`, []any{at}},
	}
	for _, s := range stmts {
		if _, err := db.Pool.Exec(ctx, s.sql, s.args...); err != nil {
			t.Fatalf("seed: %v\n%s", err, s.sql)
		}
	}
}

type salesRow struct {
	Dimension, Value                                                        string
	Orders, Units, Revenue, Cancellations, CostedUnits, CostedRevenue, Cost int64
}

func readSales(ctx context.Context, t *testing.T, db *store.DB, grain string, start time.Time) map[string]salesRow {
	t.Helper()
	rows, err := db.Pool.Query(ctx, `
		SELECT dimension, value, orders, units, revenue_minor, cancellations, costed_units, costed_revenue_minor, cost_minor
		  FROM rollup_sales WHERE grain = $1 AND period_start = $2`, grain, start)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]salesRow{}
	var r salesRow
	_, err = pgx.ForEachRow(rows, []any{&r.Dimension, &r.Value, &r.Orders, &r.Units, &r.Revenue, &r.Cancellations, &r.CostedUnits, &r.CostedRevenue, &r.Cost}, func() error {
		out[r.Dimension+"/"+r.Value] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRollupPeriod_DayWithCostsMarginTrafficAndPayments(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	seedSales(ctx, t, s.DB, day)

	req := store.PeriodRollupRequest{Grain: store.GrainDay, Start: day.Add(5 * time.Hour), RunID: "run-1", Workflow: "RollupDaily", Topics: []string{"t"}, Complete: true}
	res, err := s.DB.RollupPeriod(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Start.Equal(day) || res.TrafficRows != 1 || res.PaymentsRows != 1 {
		t.Fatalf("result %+v", res)
	}
	got := readSales(ctx, t, s.DB, store.GrainDay, day)
	// P1: 3 units at 1000, cost 600 each (the receipt in force at the day's
	// end); P2: no receipt, so uncosted.
	want := map[string]salesRow{
		"total/":         {"total", "", 2, 4, 4000, 1, 3, 3000, 1800},
		"product/P1":     {"product", "P1", 2, 3, 3000, 0, 3, 3000, 1800},
		"product/P2":     {"product", "P2", 1, 1, 1000, 0, 0, 0, 0},
		"category/shoes": {"category", "shoes", 2, 3, 3000, 0, 3, 3000, 1800},
		"category/hats":  {"category", "hats", 1, 1, 1000, 0, 0, 0, 0},
		"country/DE":     {"country", "DE", 1, 3, 3000, 0, 2, 2000, 1200},
		"country/FR":     {"country", "FR", 1, 1, 1000, 0, 1, 1000, 600},
		"channel/web":    {"channel", "web", 1, 3, 3000, 0, 2, 2000, 1200},
		"channel/app":    {"channel", "app", 1, 1, 1000, 0, 1, 1000, 600},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows %+v, want %d", len(got), got, len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %+v, want %+v", k, got[k], w)
		}
	}
	if res.RevenueMinor != 4000 || res.MarginMinor != 1200 || res.SalesRows != int64(len(want)) {
		t.Fatalf("result %+v", res)
	}
	var rate float64
	if err := s.DB.Pool.QueryRow(ctx, `SELECT margin_rate FROM rollup_sales_margin WHERE grain='day' AND period_start=$1 AND dimension='product' AND value='P1'`, day).Scan(&rate); err != nil || rate != 0.4 {
		t.Fatalf("margin rate %v (%v), want 0.4", rate, err)
	}
	var sessions, purchase, pageViews, authorized int64
	if err := s.DB.Pool.QueryRow(ctx, `SELECT sessions, funnel_purchase, page_views FROM rollup_traffic WHERE grain='day' AND period_start=$1`, day).Scan(&sessions, &purchase, &pageViews); err != nil {
		t.Fatal(err)
	}
	if err := s.DB.Pool.QueryRow(ctx, `SELECT authorized FROM rollup_payments WHERE grain='day' AND period_start=$1`, day).Scan(&authorized); err != nil {
		t.Fatal(err)
	}
	if sessions != 2 || purchase != 1 || pageViews != 10 || authorized != 2 {
		t.Fatalf("traffic %d sessions, %d purchases, %d page views; %d authorized", sessions, purchase, pageViews, authorized)
	}

	// Idempotent: a second run replaces the rows with the same figures.
	req.RunID = "run-2"
	if _, err := s.DB.RollupPeriod(ctx, req); err != nil {
		t.Fatal(err)
	}
	again := readSales(ctx, t, s.DB, store.GrainDay, day)
	for k, w := range want {
		if again[k] != w {
			t.Errorf("second run %s: got %+v, want %+v", k, again[k], w)
		}
	}
	var lineage int
	var rows int64
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*), max((outputs->'rows'->>'rollup_sales')::bigint) FROM lineage WHERE run_id IN ('run-1','run-2') AND step = $1`,
		"rollup-day-"+day.Format(time.RFC3339)).Scan(&lineage, &rows); err != nil || lineage != 2 || rows != int64(len(want)) {
		t.Fatalf("lineage rows %d, sales rows recorded %d (%v)", lineage, rows, err)
	}

	// The hour of the first order holds it alone.
	hour, err := s.DB.RollupPeriod(ctx, store.PeriodRollupRequest{Grain: store.GrainHour, Start: day.Add(10 * time.Hour), RunID: "run-3", Topics: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	if hour.RevenueMinor != 3000 || hour.MarginMinor != 800 {
		t.Fatalf("hour %+v", hour)
	}
}

func TestRollupPeriod_RejectsAnUnknownGrain(t *testing.T) {
	s := testenv.DB(t)
	if _, err := s.DB.RollupPeriod(testenv.Context(t, time.Minute), store.PeriodRollupRequest{Grain: "week"}); err == nil {
		t.Fatal("want an error for grain week")
	}
}
