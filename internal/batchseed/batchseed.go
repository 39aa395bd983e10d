// Package batchseed writes what the batch side computes (customer models,
// demand forecasts, pricing recommendations, data-quality results) through
// the same store functions the workflows write with, and runs a real
// replenishment workflow to an order awaiting approval, for the tests of
// the read API and the dashboard. Test code only: it takes a testing.TB
// and fails it on error.
package batchseed

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/workers"
	"github.com/shoppulse/shoppulse/workflows"
)

// Results names what Seed wrote.
type Results struct {
	AsOf time.Time // the as-of date of the model results (yesterday, UTC)
	// Customers with features, churn scores and recommendations; the first
	// is the most at risk.
	Customers []string
	// Products with forecasts and similar products.
	Products []string
	// Pricing holds the proposed recommendations' ids, by product.
	Pricing map[string]int64
	// FailedCheck is a data-quality check that failed on Table.
	Table, FailedCheck string
}

// Seed writes one run of each batch result. Its numbers are fixed: tests
// compare the API's answers to them.
func Seed(t testing.TB, ctx context.Context, db *store.DB) Results {
	t.Helper()
	asOf := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	r := Results{AsOf: asOf, Customers: []string{"c-gone", "c-loyal", "c-new"}, Products: []string{"p-kettle", "p-mug"},
		Pricing: map[string]int64{}, Table: "orders", FailedCheck: "volume"}
	lin := func(step string) store.Lineage {
		return store.Lineage{RunID: "seed-" + step, Workflow: "batchseed", Step: step, Started: time.Now().UTC(),
			Inputs: map[string]any{}, Outputs: map[string]any{}}
	}
	run := func(step, version string) store.ModelRun {
		return store.ModelRun{AsOf: asOf, ModelVersion: version, Lineage: lin(step)}
	}
	first := asOf.AddDate(0, -6, 0)
	fs := []store.CustomerFeature{
		{CustomerID: "c-gone", FirstOrderAt: first, LastOrderAt: asOf.AddDate(0, -5, 0), RecencyDays: 150, Orders: 2, MonetaryMinor: 4000,
			Currency: "GBP", RScore: 1, FScore: 2, MScore: 2, RFM: "122", Segment: "hibernating", Cluster: 0},
		{CustomerID: "c-loyal", FirstOrderAt: first, LastOrderAt: asOf.AddDate(0, 0, -2), RecencyDays: 2, Orders: 14, MonetaryMinor: 56000,
			Currency: "GBP", RScore: 5, FScore: 5, MScore: 5, RFM: "555", Segment: "champions", Cluster: 1},
		{CustomerID: "c-new", FirstOrderAt: asOf.AddDate(0, 0, -3), LastOrderAt: asOf.AddDate(0, 0, -3), RecencyDays: 3, Orders: 1, MonetaryMinor: 2500,
			Currency: "GBP", RScore: 5, FScore: 1, MScore: 1, RFM: "511", Segment: "new_customers", Cluster: 1},
	}
	segs := []store.CustomerSegment{
		{Cluster: 0, Customers: 1, MeanRecencyDays: 150, MeanOrders: 2, MeanMonetaryMinor: 4000, Centroid: []float64{1.2, -0.7, -0.5}, TopSegment: "hibernating"},
		{Cluster: 1, Customers: 2, MeanRecencyDays: 2.5, MeanOrders: 7.5, MeanMonetaryMinor: 29250, Centroid: []float64{-0.6, 0.4, 0.3}, TopSegment: "champions"},
	}
	must(t, "customer features", db.ReplaceCustomerFeatures(ctx, run("features", "seg-seed"), fs, segs))
	must(t, "churn scores", db.ReplaceChurnScores(ctx, run("churn", "churn-seed"), []store.ChurnScore{
		{CustomerID: "c-gone", Frequency: 1, RecencyWeeks: 4, AgeWeeks: 26, PAlive: 0.12, ExpectedPurchases: 0.05, HorizonDays: 90, ExpectedSpendMinor: 2000, CLVMinor: 100, Currency: "GBP"},
		{CustomerID: "c-loyal", Frequency: 13, RecencyWeeks: 25.5, AgeWeeks: 26, PAlive: 0.97, ExpectedPurchases: 6.2, HorizonDays: 90, ExpectedSpendMinor: 4000, CLVMinor: 24800, Currency: "GBP"},
		{CustomerID: "c-new", Frequency: 0, RecencyWeeks: 0, AgeWeeks: 0.4, PAlive: 1, ExpectedPurchases: 0.8, HorizonDays: 90, ExpectedSpendMinor: 2500, CLVMinor: 2000, Currency: "GBP"},
	}))
	must(t, "recommendations", db.ReplaceRecommendations(ctx, run("recommendations", "rec-seed"),
		[]store.ProductSimilarity{
			{ProductID: "p-kettle", Rank: 1, SimilarProductID: "p-teapot", Score: 0.82},
			{ProductID: "p-kettle", Rank: 2, SimilarProductID: "p-mug", Score: 0.41},
			{ProductID: "p-mug", Rank: 1, SimilarProductID: "p-kettle", Score: 0.41},
		},
		[]store.CustomerRecommendation{
			{CustomerID: "c-loyal", Rank: 1, ProductID: "p-teapot", Score: 0.82, Source: "similar"},
			{CustomerID: "c-loyal", Rank: 2, ProductID: "p-kite", Score: 0.2, Source: "popular"},
			{CustomerID: "c-new", Rank: 1, ProductID: "p-mug", Score: 0.3, Source: "popular"},
		}))

	mase, sn := 0.71, 1.0
	fc := func(base float64) []float64 {
		out := make([]float64, 28)
		for i := range out {
			out[i] = base + float64(i%7)
		}
		return out
	}
	_, err := db.SaveDemandForecasts(ctx, store.DemandForecastRun{
		AsOf: asOf, RunID: "seed-forecast", Lineage: lin("forecast"), Promoter: "batchseed",
		Model: store.ModelVersion{Model: "forecast", Version: "forecast-seed", Algorithm: "holt-winters|croston-sba", TrainedBy: "batchseed"},
		Products: []store.ProductForecast{
			{ProductID: "p-kettle", HistoryDays: 90, HoldoutDays: 14, Result: analytics.DemandForecast{Method: "holt-winters",
				Class: analytics.DemandClass{ADI: 1.02, CV2: 0.12, NonZero: 88, Class: "smooth"}, Forecast: fc(10),
				MASE: mase, SeasonalNaiveMASE: sn, HasMASE: true, Params: map[string]any{"alpha": 0.3}}},
			{ProductID: "p-mug", HistoryDays: 20, HoldoutDays: 0, Result: analytics.DemandForecast{Method: "croston-sba",
				Class: analytics.DemandClass{ADI: 3.5, CV2: 0.3, NonZero: 6, Class: "intermittent"}, Forecast: fc(0.5),
				Params: map[string]any{"alpha": 0.1}}},
		},
	})
	must(t, "demand forecasts", err)

	opt := 1590.0
	_, err = db.StorePricingRecommendations(ctx, "pricing-seed", []store.PricingRecommendation{
		{RunID: "seed-pricing", ProductID: "p-kettle", Currency: "GBP", CurrentPriceMinor: 1500, RecommendedPriceMinor: 1590, UnitCostMinor: 900,
			CompetitorMinMinor: 1650, Elasticity: -1.8, ElasticitySE: 0.2, R2: 0.61, Observations: 60, Binding: []string{"max_step_up"}, OptimumMinor: &opt},
		{RunID: "seed-pricing", ProductID: "p-mug", Currency: "GBP", CurrentPriceMinor: 800, RecommendedPriceMinor: 760, UnitCostMinor: 400,
			Elasticity: -2.6, ElasticitySE: 0.4, R2: 0.44, Observations: 40},
	}, lin("pricing"))
	must(t, "pricing recommendations", err)
	recs, err := db.PricingRecommendations(ctx, store.PriceProposed)
	must(t, "read pricing recommendations", err)
	for _, x := range recs {
		r.Pricing[x.ProductID] = x.ID
	}

	hour := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
	must(t, "data quality", db.RecordQuality(ctx, &store.DQResult{Table: "orders", Grain: "hour", Start: hour, Rows: 120, Checks: []store.DQCheck{
		{Name: "freshness", Value: 42, Threshold: 900, Passed: true},
		{Name: "volume", Value: 4.2, Threshold: 3, Passed: false, Details: map[string]any{"median": 300}},
	}}, "seed-dq", "batchseed", []string{"orders"}))
	must(t, "data quality", db.RecordQuality(ctx, &store.DQResult{Table: "sessions", Grain: "hour", Start: hour, Rows: 40, Checks: []store.DQCheck{
		{Name: "nulls", Value: 0, Threshold: 0.01, Passed: true},
	}}, "seed-dq", "batchseed", []string{"sessions"}))
	return r
}

func must(t testing.TB, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("seed %s: %v", what, err)
	}
}

// Replenisher runs the replenishment workflows on a task queue of their own
// on the Temporal dev server, against db.
type Replenisher struct {
	C         client.Client
	Queue     string
	db        *store.DB
	topic     string
	next      int64
	Warehouse string
}

// StartReplenisher starts a worker with the replenishment workflow and
// activities, registered as the real worker registers them; it stops, and
// its workflows are terminated, when the test ends.
func StartReplenisher(t testing.TB, ctx context.Context, db *store.DB) *Replenisher {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.Dial(client.Options{HostPort: testenv.TemporalAddress(t), Logger: log.NewStructuredLogger(quiet)})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(c.Close)
	r := &Replenisher{C: c, Queue: testenv.Name("replen"), db: db, topic: testenv.Name("seed.inventory"), Warehouse: "wh-1"}
	w := worker.New(c, r.Queue, worker.Options{})
	workers.Register(w, workers.Deps{Replenishment: &activities.Replenishment{DB: db, Client: c, TaskQueue: r.Queue}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	must(t, "inventory offsets", db.InitOffsets(ctx, r.topic, 1))
	return r
}

// Policy is the replenishment policy of the seeded workflows: 28 days of
// history, approval above 100.00, a receipt looked for every second.
func Policy() activities.ReplenishPolicy {
	return activities.ReplenishPolicy{HistoryDays: 28, ApprovalThresholdMinor: 10000, PollInterval: activities.Duration(time.Second)}
}

// AwaitApproval stores four weeks of a product's sales (5 a day, 4 left on
// hand, bought from sup-1 at 10.00 with a 2-day lead time), starts its
// ReplenishProduct workflow for one review and waits until it has drafted
// an order awaiting approval: 79 units (reorder point 13, order-up-to 83),
// so an approver may set at most 237 (3 x the plan).
func (r *Replenisher) AwaitApproval(t testing.TB, ctx context.Context, product string) store.PurchaseOrder {
	t.Helper()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var moves []events.InventoryAdjusted
	var sold int64
	for d := 28; d >= 1; d-- {
		q := int64(4 + 2*(d%2))
		sold += q
		moves = append(moves, r.movement(fmt.Sprintf("%s-sale-%d", product, d), today.AddDate(0, 0, -d).Add(15*time.Hour), product, -q, "sale"))
	}
	moves = append([]events.InventoryAdjusted{r.movement(product+"-open", today.AddDate(0, 0, -40), product, sold+4, "receipt")}, moves...)
	b := store.InventoryBatch{BatchMeta: store.BatchMeta{Topic: r.topic, Start: r.next, End: r.next + int64(len(moves)), Owner: "batchseed"}, DefaultReorderPoint: 10}
	for i, m := range moves {
		b.Movements = append(b.Movements, store.PositionedMovement{Movement: m, Offset: r.next + int64(i)})
	}
	r.next += int64(len(moves))
	if _, err := r.db.CommitInventoryBatch(ctx, b); err != nil {
		t.Fatalf("seed inventory of %s: %v", product, err)
	}
	k := store.StockKey{ProductID: product, WarehouseID: r.Warehouse}
	wid := activities.ReplenishWorkflowID(k)
	run, err := r.C.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wid, TaskQueue: r.Queue, WorkflowExecutionTimeout: 30 * time.Minute},
		workflows.NameReplenishProduct, activities.ReplenishInput{ProductID: product, WarehouseID: r.Warehouse, Policy: Policy(), Cycles: 1})
	if err != nil {
		t.Fatalf("start %s: %v", wid, err)
	}
	t.Cleanup(func() { _ = r.C.TerminateWorkflow(context.Background(), wid, run.GetRunID(), "test over") })
	var po store.PurchaseOrder
	r.WaitFor(t, ctx, "an order of "+product+" awaiting approval", func() bool {
		pos, err := r.db.PurchaseOrders(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if len(pos) > 0 {
			po = pos[len(pos)-1]
		}
		return po.Status == store.POAwaitingApproval
	})
	return po
}

func (r *Replenisher) movement(id string, at time.Time, product string, delta int64, reason string) events.InventoryAdjusted {
	m := events.InventoryAdjusted{
		Header:    events.Header{EventID: id, Type: events.TypeInventoryAdjusted, SchemaVersion: 1, EventTime: at},
		ProductID: product, WarehouseID: r.Warehouse, Delta: delta, Reason: reason,
	}
	if reason == "receipt" {
		m.SupplierID, m.LeadTimeDays, m.UnitCostMinor, m.Currency = "sup-1", 2, 1000, "GBP"
	}
	return m
}

// WaitFor polls cond every 200ms until it holds, failing the test when ctx
// ends first.
func (r *Replenisher) WaitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
