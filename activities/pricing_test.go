package activities_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

var pricingAsOf = time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)

// seedPricing stores 60 days of orders: p-elastic at prices moving between
// 900 and 1100 with demand 20 x (p/1000)^-3 a day (last days at 1000),
// p-flat always at 500, p-few on 5 days; a receipt with p-elastic's cost
// (400); and competitor prices.
func seedPricing(t *testing.T, db *store.DB) {
	ctx := context.Background()
	if err := db.InitOffsets(ctx, "orders", 1); err != nil {
		t.Fatal(err)
	}
	if err := db.InitOffsets(ctx, "inventory", 1); err != nil {
		t.Fatal(err)
	}
	prices := []int64{1000, 950, 1100, 900, 1050, 1000}
	var orders []store.PositionedOrder
	add := func(product string, day time.Time, qty, price int64) {
		n := len(orders)
		orders = append(orders, store.PositionedOrder{Offset: int64(n), Order: events.OrderPlaced{
			Header:  events.Header{EventID: fmt.Sprintf("ev-%d", n), Type: events.TypeOrderPlaced, SchemaVersion: 1, EventTime: day.Add(12 * time.Hour)},
			OrderID: fmt.Sprintf("o-%d", n), CustomerID: "c-1", Country: "GB", Currency: "GBP", Channel: "web",
			Lines:      []events.OrderLine{{ProductID: product, Quantity: qty, UnitPriceMinor: price}},
			TotalMinor: qty * price,
		}})
	}
	to := pricingAsOf.Truncate(24 * time.Hour)
	for d := 60; d >= 1; d-- {
		day := to.AddDate(0, 0, -d)
		p := prices[(d/5)%len(prices)]
		if d <= 5 {
			p = 1000
		}
		add("p-elastic", day, int64(math.Round(20*math.Pow(float64(p)/1000, -3))), p)
		add("p-flat", day, 3, 500)
		if d%12 == 0 {
			add("p-few", day, 1, 700+int64(d))
		}
	}
	if _, err := db.CommitOrderBatch(ctx, store.OrderBatch{Topic: "orders", Start: 0, End: int64(len(orders)), Owner: "t", Orders: orders}); err != nil {
		t.Fatal(err)
	}
	receipt := events.InventoryAdjusted{
		Header:    events.Header{EventID: "r-1", Type: events.TypeInventoryAdjusted, SchemaVersion: 1, EventTime: to.AddDate(0, 0, -70)},
		ProductID: "p-elastic", WarehouseID: "wh-1", Delta: 500, Reason: "receipt", SupplierID: "s", LeadTimeDays: 5, UnitCostMinor: 400, Currency: "GBP",
	}
	if _, err := db.CommitInventoryBatch(ctx, store.InventoryBatch{
		BatchMeta: store.BatchMeta{Topic: "inventory", Start: 0, End: 1, Owner: "t"}, DefaultReorderPoint: 10,
		Movements: []store.PositionedMovement{{Movement: receipt, Offset: 0}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `
		INSERT INTO competitor_prices (event_id, product_id, competitor, price_minor, currency, event_time, in_stock, topic, partition, kafka_offset) VALUES
		  ('cp-1', 'p-elastic', 'acme', 1200, 'GBP', $1, true, 'market', 0, 0), ('cp-2', 'p-elastic', 'acme', 1100, 'GBP', $2, true, 'market', 0, 1),
		  ('cp-3', 'p-elastic', 'cheapo', 950, 'GBP', $2, true, 'market', 0, 2), ('cp-4', 'p-elastic', 'stale', 300, 'GBP', $3, true, 'market', 0, 3)`,
		pricingAsOf.Add(-48*time.Hour), pricingAsOf.Add(-24*time.Hour), pricingAsOf.AddDate(0, 0, -20)); err != nil {
		t.Fatal(err)
	}
}

func TestPricing_FitsRegistersAndProposesWithinGuardrails(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	seedPricing(t, s.DB)
	a := &activities.Pricing{DB: s.DB, Policy: activities.PricingPolicy{MinObservations: 14}}
	in := activities.FitInput{AsOf: pricingAsOf, RunID: "run-abcdefgh-1", Workflow: "PricingRecommendations"}
	fit, err := a.FitPriceElasticities(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if fit.Version != "pricing-20261120-run-abcd" || fit.Products != 3 || fit.Fitted != 1 ||
		fit.Skipped["no_price_variation"] != 1 || fit.Skipped["too_few_days"] != 1 {
		t.Fatalf("fit %+v", fit)
	}
	if _, err := a.FitPriceElasticities(ctx, in); err != nil { // a retry
		t.Fatal(err)
	}
	models, err := s.DB.Models(ctx, activities.ModelPricing)
	if err != nil || len(models) != 1 || models[0].Status != store.ModelActive || models[0].Algorithm != "loglog-ols" {
		t.Fatalf("registry: %+v %v", models, err)
	}
	var metrics map[string]any
	if err := json.Unmarshal(models[0].Metrics, &metrics); err != nil || metrics["fitted"] != float64(1) || metrics["median_elasticity"] == nil {
		t.Fatalf("metrics %s %v", models[0].Metrics, err)
	}
	var params activities.PricingModel
	if err := json.Unmarshal(models[0].Params, &params); err != nil {
		t.Fatal(err)
	}
	pf := params.Products["p-elastic"]
	if math.Abs(pf.Elasticity+3) > 0.1 || pf.CurrentPriceMinor != 1000 || pf.N != 60 {
		t.Fatalf("p-elastic fit %+v, want elasticity near -3 at 1000 over 60 days", pf)
	}

	rin := activities.RecommendInput{Version: fit.Version, AsOf: pricingAsOf, RunID: in.RunID, Workflow: in.Workflow}
	rec, err := a.RecommendPrices(ctx, rin)
	if err != nil || rec.Recommended != 1 {
		t.Fatalf("recommend: %+v %v", rec, err)
	}
	if _, err := a.RecommendPrices(ctx, rin); err != nil { // a retry
		t.Fatal(err)
	}
	recs, err := s.DB.PricingRecommendations(ctx, store.PriceProposed)
	if err != nil || len(recs) != 1 {
		t.Fatalf("proposals: %+v %v", recs, err)
	}
	r := recs[0]
	// Optimum 400 x 3/2 = 600 is below a 10% step down from 1000: 900. The
	// competitor cap (cheapest fresh price 950 + 5% = 997) does not bind;
	// the 300 is older than 7 days and ignored.
	if r.RecommendedPriceMinor != 900 || !slices.Equal(r.Binding, []string{"max_step_down"}) || r.CompetitorMinMinor != 950 ||
		r.UnitCostMinor != 400 || r.OptimumMinor == nil || math.Abs(*r.OptimumMinor-400*pf.Elasticity/(1+pf.Elasticity)) > 1e-6 {
		t.Fatalf("recommendation %+v", r)
	}
	got, err := s.DB.DecidePricingRecommendation(ctx, r.ID, true, "pricing-lead", "ok")
	if err != nil || got.Status != store.PriceApproved {
		t.Fatalf("approve: %+v %v", got, err)
	}
	if _, err := s.DB.DecidePricingRecommendation(ctx, r.ID, false, "someone", ""); err == nil {
		t.Fatal("rejecting an approved recommendation: want an error")
	}
	// Re-running keeps the decided row and adds nothing.
	if rec, err := a.RecommendPrices(ctx, rin); err != nil || rec.Recommended != 0 {
		t.Fatalf("re-run: %+v %v", rec, err)
	}
	all, _ := s.DB.PricingRecommendations(ctx, "")
	if len(all) != 1 || all[0].Status != store.PriceApproved {
		t.Fatalf("rows after re-run: %+v", all)
	}
	var lineage int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM lineage WHERE run_id = $1`, in.RunID).Scan(&lineage); err != nil || lineage != 2 {
		t.Fatalf("lineage rows %d %v, want fit and recommend", lineage, err)
	}
}

func TestPricing_RejectsABadPolicy(t *testing.T) {
	a := &activities.Pricing{}
	_, err := a.FitPriceElasticities(context.Background(), activities.FitInput{AsOf: pricingAsOf, RunID: "r", Policy: activities.PricingPolicy{MaxStep: 2}})
	if err == nil {
		t.Fatal("max_step 2: want an error")
	}
}
