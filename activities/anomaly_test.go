package activities_test

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// TestScoreAnomalies_WeeksOfSeasonalDataThenATrafficDrop inserts three weeks
// of minute data with a daily shape (quiet nights, an evening peak, quieter
// weekends) and deterministic noise straight into revenue_minute and
// traffic_minute, then page views fall to a fifth for the last 30 minutes
// while orders carry on. Scoring every series must open exactly one alert,
// on traffic, with the expected value stored beside it; a re-run adds
// nothing, and rebuilding a series from scratch gives the same rows.
func TestScoreAnomalies_WeeksOfSeasonalDataThenATrafficDrop(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, 3*time.Minute)
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 10, 22, 20, 30, 0, 0, time.UTC) // a Thursday evening
	drop := end.Add(-30 * time.Minute)

	// shape(minute) is the mean orders per minute; noise is a deterministic
	// hash of the minute in [-1, 1].
	const shape = `(CASE WHEN extract(hour FROM m) < 7 THEN 10 WHEN extract(hour FROM m) BETWEEN 19 AND 21 THEN 60 ELSE 30 END
		* CASE WHEN extract(isodow FROM m) >= 6 THEN 0.7 ELSE 1 END)`
	const noise = `((((extract(epoch FROM m)::bigint / 60) * 7919) % 101) / 50.0 - 1)`
	for i, q := range []string{
		`INSERT INTO revenue_minute (minute, currency, orders, units, revenue_minor)
		 SELECT m, 'EUR', o, o, o * 2500 FROM (
		   SELECT m, round(` + shape + ` * (1 + 0.15 * ` + noise + `))::bigint AS o
		     FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 minute', interval '1 minute') m) s`,
		// Payments fail at a steady 5% of attempts (the rate series).
		`INSERT INTO payments_minute (minute, currency, authorized, failed)
		 SELECT m, 'EUR', 19 * o, o FROM (
		   SELECT m, round(` + shape + ` * (1 + 0.15 * ` + noise + `))::bigint AS o
		     FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 minute', interval '1 minute') m) s`,
		`INSERT INTO traffic_minute (minute, page_views)
		 SELECT m, round(` + shape + ` * 20 * (1 + 0.1 * ` + noise + `) * CASE WHEN m >= $3 THEN 0.2 ELSE 1 END)::bigint
		   FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 minute', interval '1 minute') m`,
	} {
		args := []any{start, end, drop}
		if i < 2 {
			args = args[:2]
		}
		if _, err := db.Pool.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, topic := range []string{"shop.orders.v1", "shop.clickstream.v1", "shop.payments.v1"} {
		if _, err := db.Pool.Exec(ctx, `INSERT INTO stream_offsets (topic, partition, next_offset, watermark) VALUES ($1, 0, 1, $2), ($1, 1, 1, $3)`,
			topic, end.Add(10*time.Second), end.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}

	a := &activities.Anomalies{DB: db}
	runAll := func(runID string) int64 {
		t.Helper()
		list, err := a.ListAnomalySeries(ctx, activities.AnomalySeriesInput{OrdersTopic: "shop.orders.v1", ClickstreamTopic: "shop.clickstream.v1", PaymentsTopic: "shop.payments.v1"})
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(list.Series) != "[{orders shop.orders.v1} {payment_failure_rate shop.payments.v1} {revenue:EUR shop.orders.v1} {traffic shop.clickstream.v1}]" {
			t.Fatalf("series %v", list.Series)
		}
		var rows int64
		for _, s := range list.Series {
			for {
				res, err := a.ScoreAnomalies(ctx, activities.ScoreAnomaliesInput{Series: s.Series, Topic: s.Topic, RunID: runID, Workflow: "AnomalyDetector"})
				if err != nil {
					t.Fatal(err)
				}
				rows += res.Rows
				if !res.More {
					break
				}
			}
		}
		return rows
	}
	if rows := runAll("run-1"); rows != 4*int64(end.Sub(start)/time.Minute) {
		t.Fatalf("scored %d rows", rows)
	}

	alerts, err := db.Alerts(ctx, store.AlertFilter{Type: store.AlertAnomaly})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0].Entity != store.SeriesTraffic || !alerts[0].ResolvedAt.IsZero() {
		for _, al := range alerts {
			t.Logf("alert %s at %s resolved %s: %s", al.Entity, al.OpenedAt, al.ResolvedAt, al.Details)
		}
		t.Fatalf("want exactly one open traffic alert, got %d", len(alerts))
	}
	var details struct{ Expected, Actual, Z float64 }
	if err := json.Unmarshal(alerts[0].Details, &details); err != nil || math.Abs(details.Expected-1200) > 120 || details.Actual > 300 || details.Z > -4 {
		t.Fatalf("alert details %s, %v", alerts[0].Details, err)
	}
	opened := alerts[0].OpenedAt
	if opened.Before(drop) || opened.After(drop.Add(5*time.Minute)) {
		t.Fatalf("alert opened at %s, the drop began at %s", opened, drop)
	}

	scores, err := db.AnomalyScores(ctx, store.SeriesTraffic, drop.Add(-time.Minute), end)
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != 31 {
		t.Fatalf("%d scores", len(scores))
	}
	for _, s := range scores[1:] {
		// Thursday 20:00: the evening peak, 60 orders' worth of page views.
		if !s.Scored || math.Abs(s.Expected-1200) > 120 || s.Z > -4 || !s.Anomalous || s.Deviation <= 0 {
			t.Fatalf("score in the drop: %+v", s)
		}
		if s.Minute.Equal(opened) && !s.Sustained {
			t.Fatalf("not sustained where the alert opened: %+v", s)
		}
	}
	if scores[0].Anomalous {
		t.Fatalf("anomalous before the drop: %+v", scores[0])
	}

	// A re-run finds nothing new.
	if rows := runAll("run-2"); rows != 0 {
		t.Fatalf("a re-run scored %d rows", rows)
	}

	// Rebuilding traffic from scratch gives the same rows.
	all, err := db.AnomalyScores(ctx, store.SeriesTraffic, start, end)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ResetAnomalies(ctx, store.SeriesTraffic); err != nil {
		t.Fatal(err)
	}
	for {
		res, err := a.ScoreAnomalies(ctx, activities.ScoreAnomaliesInput{Series: store.SeriesTraffic, Topic: "shop.clickstream.v1", RunID: "run-3"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.More {
			break
		}
	}
	again, err := db.AnomalyScores(ctx, store.SeriesTraffic, start, end)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != len(all) {
		t.Fatalf("rebuilt %d rows, had %d", len(again), len(all))
	}
	for i := range all {
		if all[i] != again[i] {
			t.Fatalf("rebuilt row %d differs: %+v, had %+v", i, again[i], all[i])
		}
	}
	if n, err := db.Alerts(ctx, store.AlertFilter{Type: store.AlertAnomaly}); err != nil || len(n) != 1 {
		t.Fatalf("the rebuild opened another alert: %d, %v", len(n), err)
	}
}
