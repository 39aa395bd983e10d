package store_test

import (
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// A run for an as-of date replaces that date's rows (a re-run leaves its
// own, no more) and leaves other dates alone; each run records its lineage
// with the row counts.
func TestReplaceCustomerResults_ReplacesOneDate(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	d1 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	d2 := d1.AddDate(0, 0, 1)
	at := d1.Add(-48 * time.Hour)
	feature := func(id string) store.CustomerFeature {
		return store.CustomerFeature{CustomerID: id, FirstOrderAt: at, LastOrderAt: at, RecencyDays: 2, Orders: 1, MonetaryMinor: 500,
			Currency: "GBP", RScore: 3, FScore: 1, MScore: 2, RFM: "312", Segment: "About to sleep"}
	}
	seg := []store.CustomerSegment{{Cluster: 0, Customers: 2, MeanRecencyDays: 2, MeanOrders: 1, MeanMonetaryMinor: 500, Centroid: []float64{0, 0, 0}, TopSegment: "About to sleep"}}
	run := func(day time.Time, runID string, ids ...string) {
		t.Helper()
		var fs []store.CustomerFeature
		for _, id := range ids {
			fs = append(fs, feature(id))
		}
		err := db.ReplaceCustomerFeatures(ctx, store.ModelRun{AsOf: day, ModelVersion: "v-" + runID, Lineage: store.Lineage{
			RunID: runID, Workflow: "CustomerFeatures", Step: "customer-features", Started: time.Now(),
			Inputs: map[string]any{"tables": []string{"orders"}},
		}}, fs, seg)
		if err != nil {
			t.Fatal(err)
		}
	}
	run(d1, "r1", "c1", "c2", "c3")
	run(d2, "r2", "c1")
	run(d1, "r3", "c1", "c2") // a re-run for d1 with different facts
	counts := map[string]int{}
	rows, err := db.Pool.Query(ctx, `SELECT as_of::text || '/' || run_id, count(*) FROM customer_features GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		counts[k] = n
	}
	if len(counts) != 2 || counts["2026-09-01/r3"] != 2 || counts["2026-09-02/r2"] != 1 {
		t.Errorf("rows per date and run: %v", counts)
	}
	var rowsOut int64
	if err := db.Pool.QueryRow(ctx, `SELECT (outputs->>'customer_features_rows')::bigint FROM lineage WHERE run_id = 'r3'`).Scan(&rowsOut); err != nil || rowsOut != 2 {
		t.Errorf("lineage of r3: %d rows, %v", rowsOut, err)
	}
}

// The facts the models read: orders of known customers in the window and
// currency, without cancelled ones; purchases and views per user.
func TestCustomerOrdersAndInteractions(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	t0 := time.Date(2026, 8, 10, 12, 0, 0, 0, time.UTC)
	order := func(id, cust, cur string, at time.Time, total int64) events.OrderPlaced {
		return events.OrderPlaced{Header: events.Header{EventID: "e-" + id, Type: "order_placed", EventTime: at}, OrderID: id,
			CustomerID: cust, Country: "GB", Currency: cur, Channel: "web", TotalMinor: total,
			Lines: []events.OrderLine{{ProductID: "p-" + id, Quantity: 1, UnitPriceMinor: total}}}
	}
	orders := []events.OrderPlaced{
		order("o1", "c1", "GBP", t0, 100),
		order("o2", "c1", "GBP", t0.Add(time.Hour), 200),
		order("o3", "c2", "GBP", t0.Add(2*time.Hour), 300),  // cancelled
		order("o4", "c2", "EUR", t0.Add(3*time.Hour), 400),  // other currency
		order("o5", "c3", "GBP", t0.AddDate(0, 0, 30), 500), // outside the window
	}
	if err := db.InitOffsets(ctx, "o", 1); err != nil {
		t.Fatal(err)
	}
	b := store.OrderBatch{Topic: "o", Start: 0, End: int64(len(orders) + 1), Owner: "t"}
	for i, o := range orders {
		b.Orders = append(b.Orders, store.PositionedOrder{Order: o, Offset: int64(i)})
	}
	b.Cancellations = []store.PositionedCancellation{{Offset: int64(len(orders)), Cancellation: events.OrderCancelled{
		Header: events.Header{EventID: "x-o3", Type: "order_cancelled", EventTime: t0.Add(4 * time.Hour)}, OrderID: "o3", CustomerID: "c2", AmountMinor: 300, Currency: "GBP"}}}
	if _, err := db.CommitOrderBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	from, to := t0.Add(-time.Hour), t0.AddDate(0, 0, 1)
	if cur, err := db.MainCurrency(ctx, from, to); err != nil || cur != "GBP" {
		t.Fatalf("main currency %q, %v", cur, err)
	}
	got, err := db.CustomerOrders(ctx, from, to, "GBP")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].TotalMinor != 100 || got[1].TotalMinor != 200 || got[0].CustomerID != "c1" {
		t.Errorf("customer orders %+v", got)
	}
	ints, err := db.ProductInteractions(ctx, from, to)
	if err != nil {
		t.Fatal(err)
	}
	// o1, o2 and o4 (any currency: a purchase is a purchase); not o3 or o5.
	if len(ints) != 3 || ints[0].ProductID != "p-o1" || !ints[0].Purchase || !ints[0].Customer || ints[2].ProductID != "p-o4" {
		t.Errorf("interactions %+v", ints)
	}
}
