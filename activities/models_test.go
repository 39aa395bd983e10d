package activities_test

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/internal/testenv"
)

func TestTrainFraudModel_RefusesWithoutBothClasses(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	a := &activities.FraudTraining{DB: db, AlertThreshold: 0.8}
	in := activities.TrainFraudInput{AsOf: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), TrainWindow: 30 * 24 * time.Hour,
		LabelDelay: 0, HoldoutFraction: 0.25, RunID: "r", Workflow: "w"}
	_, err := a.TrainFraudModel(ctx, in)
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != activities.ErrNotEnoughLabels || !ae.NonRetryable() {
		t.Fatalf("empty data: got %v, want a non-retryable %s", err, activities.ErrNotEnoughLabels)
	}
	in.HoldoutFraction = 1
	if _, err := a.TrainFraudModel(ctx, in); !errors.As(err, &ae) || ae.Type() != "InvalidInput" {
		t.Fatalf("holdout fraction 1: got %v", err)
	}
}

// TestForecastDemand_ChoosesPerProductAndReplacesItsDay stores six weeks
// of order lines: a product sold every day with a weekly shape and one sold
// every fourth day. The first gets Holt-Winters, the second Croston-SBA
// with the forecast R's croston would give; a re-run leaves the same rows.
func TestForecastDemand_ChoosesPerProductAndReplacesItsDay(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, 2*time.Minute)
	d0 := time.Date(2026, 9, 7, 0, 0, 0, 0, time.UTC)
	const days = 42
	if err := db.EnsurePartitionsAhead(ctx, d0, days); err != nil {
		t.Fatal(err)
	}
	weekly := []int64{6, 5, 5, 6, 8, 12, 10}
	var sparse []float64
	for d := 0; d < days; d++ {
		at := d0.AddDate(0, 0, d).Add(10 * time.Hour)
		q := weekly[d%7] + int64(d%3) - 1
		if _, err := db.Pool.Exec(ctx, `INSERT INTO order_lines (event_id, event_time, line_no, order_id, product_id, quantity, unit_price_minor)
			VALUES ($1, $2, 1, $1, 'p-daily', $3, 100)`, "d"+at.Format("0102"), at, q); err != nil {
			t.Fatal(err)
		}
		var s float64
		if d%4 == 1 {
			s = float64(2 + d%3)
			if _, err := db.Pool.Exec(ctx, `INSERT INTO order_lines (event_id, event_time, line_no, order_id, product_id, quantity, unit_price_minor)
				VALUES ($1, $2, 1, $1, 'p-sparse', $3, 100)`, "s"+at.Format("0102"), at, int64(s)); err != nil {
				t.Fatal(err)
			}
		}
		if d >= 1 { // the sparse series starts on its first sale
			sparse = append(sparse, s)
		}
	}
	var env testsuite.WorkflowTestSuite
	aenv := env.NewTestActivityEnvironment()
	a := &activities.Forecasts{DB: db, OrdersTopic: "shop.orders.v1"}
	aenv.RegisterActivity(a.ForecastDemand)
	asOf := d0.AddDate(0, 0, days)
	in := activities.ForecastInput{AsOf: asOf, HistoryDays: days, Horizon: 7, Holdout: 7, Period: 7, Alpha: 0.1, RunID: "r1", Workflow: "DemandForecast"}
	var res activities.ForecastResult
	for run := 0; run < 2; run++ {
		v, err := aenv.ExecuteActivity(a.ForecastDemand, in)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&res); err != nil {
			t.Fatal(err)
		}
	}
	if res.Products != 2 || res.HoltWinters != 1 || res.CrostonSBA != 1 || res.Rows != 14 || res.WithMASE != 2 {
		t.Fatalf("result: %+v", res)
	}
	rows, err := db.Pool.Query(ctx, `SELECT product_id, method, count(*), min(forecast), max(forecast)
		FROM demand_forecasts WHERE as_of = $1 GROUP BY 1, 2 ORDER BY 1`, asOf)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	c, _ := analytics.FitCroston(sparse, 0.1)
	got := 0
	for rows.Next() {
		var p, m string
		var n int
		var lo, hi float64
		if err := rows.Scan(&p, &m, &n, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		got++
		switch p {
		case "p-daily":
			if m != analytics.MethodHoltWinters || n != 7 || lo <= 0 {
				t.Errorf("daily: %s %d rows, min %g", m, n, lo)
			}
		case "p-sparse":
			if m != analytics.MethodCrostonSBA || n != 7 || lo != c.SBA() || hi != c.SBA() {
				t.Errorf("sparse: %s %d rows, %g..%g, want %g", m, n, lo, hi, c.SBA())
			}
		}
	}
	if got != 2 {
		t.Fatalf("%d products stored", got)
	}
}
