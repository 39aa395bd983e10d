package store_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

func TestFraudTrainingSet_LabelsFromChargebacksAndDecisions(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	t0 := time.Date(2026, 9, 1, 12, 0, 0, 0, time.UTC)
	asOf := t0.AddDate(0, 0, 40)
	// order, minutes after t0, chargeback reason ("" none), chargeback days after t0, decision
	rows := []struct {
		order  string
		min    int
		reason string
		cbDay  int
		label  string
	}{
		{"o-cb", 0, "fraud", 10, ""},
		{"o-dispute", 1, "not_received", 10, ""},    // a dispute, not fraud
		{"o-late-cb", 2, "fraud", 45, ""},           // chargeback after as-of: unknown then
		{"o-decided", 3, "", 0, "fraud"},            // the fraud queue's decision
		{"o-legit-cb", 4, "fraud", 5, "legitimate"}, // a legitimate decision overrides no chargeback
		{"o-legit", 5, "", 0, "legitimate"},
		{"o-plain", 6, "", 0, ""},
		{"o-outside", 60 * 24 * 31, "fraud", 1, ""}, // after the window
	}
	for i, r := range rows {
		at := t0.Add(time.Duration(r.min) * time.Minute)
		feats, _ := json.Marshal(analytics.FraudFeatures{IPOrders1h: int64(i)})
		if _, err := db.Pool.Exec(ctx, `INSERT INTO fraud_scores (event_id, event_time, order_id, customer_id, score, model_version, features)
			VALUES ($1, $2, $3, 'c', 0.1, 'rules-v1', $4)`, "e-"+r.order, at, r.order, feats); err != nil {
			t.Fatal(err)
		}
		if r.reason != "" {
			if _, err := db.Pool.Exec(ctx, `INSERT INTO chargebacks (event_id, event_time, chargeback_id, order_id, customer_id,
				amount_minor, currency, reason, topic, partition, kafka_offset)
				VALUES ($1, $2, $1, $3, 'c', 100, 'USD', $4, 'p', 0, $5)`, "cb-"+r.order, t0.AddDate(0, 0, r.cbDay), r.order, r.reason, i); err != nil {
				t.Fatal(err)
			}
		}
		if r.label != "" {
			if _, err := db.Pool.Exec(ctx, `INSERT INTO fraud_labels (order_id, label, decided_by, decided_at) VALUES ($1, $2, 'analyst', $3)`,
				r.order, r.label, t0.AddDate(0, 0, 2)); err != nil {
				t.Fatal(err)
			}
		}
	}
	set, counts, err := db.FraudTrainingSet(ctx, t0, t0.AddDate(0, 0, 30), asOf)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	var order []string
	for _, o := range set {
		got[o.OrderID] = o.Fraud
		order = append(order, o.OrderID)
	}
	want := map[string]bool{"o-cb": true, "o-dispute": false, "o-late-cb": false, "o-decided": true,
		"o-legit-cb": true, "o-legit": false, "o-plain": false}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("labels: got %v, want %v", got, want)
	}
	if order[0] != "o-cb" || order[6] != "o-plain" || set[2].Features.IPOrders1h != 2 {
		t.Fatalf("not in event-time order with features: %v", order)
	}
	if counts != (store.LabelCounts{Chargebacks: 2, DecidedFraud: 1, DecidedLegitimate: 2}) {
		t.Fatalf("counts: %+v", counts)
	}
}

func TestSaveCandidateModel_ReplacesOnlyCandidates(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	save := func(params string) {
		t.Helper()
		if err := db.SaveCandidateModel(ctx, store.TrainedModel{
			Model:        store.ModelVersion{Model: "fraud", Version: "fraud-lr-1", Algorithm: "logistic", Params: json.RawMessage(params)},
			Lineage:      store.Lineage{RunID: "run-1", Workflow: "FraudModelTraining", Step: "train-fraud-model", Started: time.Now()},
			OffsetsTopic: "shop.orders.v1",
		}); err != nil {
			t.Fatal(err)
		}
	}
	params := func() string {
		ms, err := db.Models(ctx, "fraud")
		if err != nil || len(ms) != 1 {
			t.Fatalf("models: %v %v", ms, err)
		}
		return string(ms[0].Params)
	}
	save(`{"bias": 1, "weights": {}}`)
	save(`{"bias": 2, "weights": {}}`)
	if p := params(); p != `{"bias": 2, "weights": {}}` {
		t.Fatalf("re-saved candidate: %s", p)
	}
	ok, active, err := db.PromoteIfActive(ctx, "fraud", "fraud-lr-1", "", "test",
		store.Lineage{RunID: "run-1", Workflow: "FraudModelTraining", Step: "promote-fraud-model", Started: time.Now()})
	if err != nil || !ok || active != "fraud-lr-1" {
		t.Fatalf("promote: %v %q %v", ok, active, err)
	}
	save(`{"bias": 3, "weights": {}}`)
	if p := params(); p != `{"bias": 2, "weights": {}}` {
		t.Fatalf("an active model's params changed: %s", p)
	}
	// A promotion compared against no active model finds one: refused.
	if err := db.RegisterModel(ctx, store.ModelVersion{Model: "fraud", Version: "fraud-lr-2", Algorithm: "logistic"}); err != nil {
		t.Fatal(err)
	}
	ok, active, err = db.PromoteIfActive(ctx, "fraud", "fraud-lr-2", "", "test",
		store.Lineage{RunID: "run-2", Workflow: "FraudModelTraining", Step: "promote-fraud-model", Started: time.Now()})
	if err != nil || ok || active != "fraud-lr-1" {
		t.Fatalf("stale promotion: %v %q %v", ok, active, err)
	}
	var lineage int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM lineage WHERE run_id IN ('run-1', 'run-2')`).Scan(&lineage); err != nil || lineage != 3 {
		t.Fatalf("lineage rows: %d %v, want 3 (one per run and step)", lineage, err)
	}
}

func TestDailyDemandAndForecastsReplaceTheirDay(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	d0 := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	if err := db.EnsurePartitionsAhead(ctx, d0, 10); err != nil {
		t.Fatal(err)
	}
	line := func(ev, order, product string, day int, q int64) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, `INSERT INTO order_lines (event_id, event_time, line_no, order_id, product_id, quantity, unit_price_minor)
			VALUES ($1, $2, 1, $3, $4, $5, 100)`, ev, d0.AddDate(0, 0, day).Add(13*time.Hour), order, product, q); err != nil {
			t.Fatal(err)
		}
	}
	line("e1", "o1", "p-a", 1, 2)
	line("e2", "o2", "p-a", 1, 3)
	line("e3", "o3", "p-a", 4, 1)
	line("e4", "o4", "p-b", 0, 5)
	line("e5", "o5", "p-b", 2, 7) // cancelled
	line("e6", "o6", "p-c", 9, 1) // after the window
	if _, err := db.Pool.Exec(ctx, `INSERT INTO order_cancellations (event_id, event_time, order_id, customer_id, amount_minor, currency, topic, partition, kafka_offset)
		VALUES ('x5', $1, 'o5', 'c', 700, 'USD', 't', 0, 1)`, d0.AddDate(0, 0, 2)); err != nil {
		t.Fatal(err)
	}
	got, err := db.DailyDemand(ctx, d0, d0.AddDate(0, 0, 6))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.ProductDemand{
		{ProductID: "p-a", Start: d0.AddDate(0, 0, 1), Units: []float64{5, 0, 0, 1, 0}},
		{ProductID: "p-b", Start: d0, Units: []float64{5, 0, 0, 0, 0, 0}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("demand: got %+v, want %+v", got, want)
	}

	asOf := d0.AddDate(0, 0, 6)
	run := func(runID string, products []store.ProductForecast) int64 {
		t.Helper()
		n, err := db.SaveDemandForecasts(ctx, store.DemandForecastRun{AsOf: asOf, RunID: runID, Products: products, Promoter: "test",
			Model:   store.ModelVersion{Model: "forecast", Version: "forecast-2026-09-07", Algorithm: "holt-winters+croston-sba", Metrics: json.RawMessage(`{"products": 2}`)},
			Lineage: store.Lineage{RunID: runID, Workflow: "DemandForecast", Step: "forecast-demand", Started: time.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	pf := func(id string, f ...float64) store.ProductForecast {
		r, err := analytics.ForecastDemand([]float64{1, 0, 2, 0, 0, 1, 0, 3}, analytics.DemandConfig{Horizon: len(f)})
		if err != nil {
			t.Fatal(err)
		}
		r.Forecast = f
		return store.ProductForecast{ProductID: id, HistoryDays: 8, Result: r}
	}
	if n := run("r1", []store.ProductForecast{pf("p-a", 1, 2, 3), pf("p-b", 4, 5, 6)}); n != 6 {
		t.Fatalf("rows: %d", n)
	}
	if n := run("r2", []store.ProductForecast{pf("p-a", 1, 1, 1)}); n != 3 {
		t.Fatalf("rows: %d", n)
	}
	var rows, acc int
	var sum float64
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM demand_forecasts WHERE as_of = $1),
		(SELECT count(*) FROM demand_forecast_accuracy WHERE as_of = $1), (SELECT sum(forecast) FROM demand_forecasts)`, asOf).Scan(&rows, &acc, &sum); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || acc != 1 || sum != 3 {
		t.Fatalf("after the re-run: %d forecasts, %d accuracy rows, sum %g; want only the second run's", rows, acc, sum)
	}
	m, err := db.ActiveModel(ctx, "forecast")
	if err != nil || m.Version != "forecast-2026-09-07" {
		t.Fatalf("forecast model: %+v %v", m, err)
	}
}
