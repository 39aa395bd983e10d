package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

var anomalyBase = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

func exec(t *testing.T, db *store.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// setWatermark stores one partition of topic with its watermark at w.
func setWatermark(t *testing.T, db *store.DB, topic string, w time.Time) {
	t.Helper()
	exec(t, db, `INSERT INTO stream_offsets (topic, partition, next_offset, watermark) VALUES ($1, 0, 1, $2)
		ON CONFLICT (topic, partition) DO UPDATE SET watermark = excluded.watermark`, topic, w)
}

// recorder is a scorer that keeps what it was given, counts minutes in its
// state, and opens an alert at minute 3 and closes it at minute 6.
type recorder struct{ points [][]store.AnomalyPoint }

func (r *recorder) score(state json.RawMessage, points []store.AnomalyPoint) (store.AnomalyOutcome, error) {
	r.points = append(r.points, points)
	var seen int
	if len(state) > 0 {
		if err := json.Unmarshal(state, &seen); err != nil {
			return store.AnomalyOutcome{}, err
		}
	}
	var out store.AnomalyOutcome
	for _, p := range points {
		i := int(p.Minute.Sub(anomalyBase) / time.Minute)
		out.Scores = append(out.Scores, store.AnomalyScore{
			Minute: p.Minute, Actual: p.Value, Scored: i > 0, Expected: 5, Deviation: 1, Z: p.Value - 5,
			Anomalous: i >= 3 && i < 6, Sustained: i >= 3 && i < 6,
		})
		switch i {
		case 3:
			out.Alerts = append(out.Alerts, store.AnomalyAlertChange{Open: true, At: p.Minute, Details: map[string]any{"expected": 5}})
		case 6:
			out.Alerts = append(out.Alerts, store.AnomalyAlertChange{At: p.Minute})
		}
		seen++
	}
	b, _ := json.Marshal(seen)
	out.State = b
	return out, nil
}

func TestScoreAnomalies_CompleteMinutesOnceWithAlertsAndLineage(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	// Orders in minutes 0, 2, 3, 4, 5, 7 (minute 1 and 6 have none).
	for _, m := range []int{0, 2, 3, 4, 5, 7} {
		exec(t, db, `INSERT INTO revenue_minute (minute, currency, orders, units, revenue_minor) VALUES ($1, 'EUR', $2, 1, 100), ($1, 'USD', 1, 1, 50)`,
			anomalyBase.Add(time.Duration(m)*time.Minute), m+1)
	}
	run := store.AnomalyRun{Series: store.SeriesOrders, Topic: "orders", RunID: "run-1", Workflow: "AnomalyDetector", Bootstrap: time.Hour}
	var rec recorder

	// No partitions stored: nothing is complete.
	res, err := db.ScoreAnomalies(ctx, run, rec.score)
	if err != nil || res.Rows != 0 || len(rec.points) != 0 {
		t.Fatalf("without watermarks: %+v, %v, %v", res, err, rec.points)
	}

	// The watermark inside minute 7: minutes 0 to 6 are complete, scored
	// with the missing minutes as zero.
	setWatermark(t, db, "orders", anomalyBase.Add(7*time.Minute+30*time.Second))
	res, err = db.ScoreAnomalies(ctx, run, rec.score)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 7 || res.Opened != 1 || res.Closed != 1 || res.More || !res.From.Equal(anomalyBase) {
		t.Fatalf("first run: %+v", res)
	}
	if got := fmt.Sprint(rec.points[0]); len(rec.points[0]) != 7 || rec.points[0][1].Value != 0 || rec.points[0][6].Value != 0 || rec.points[0][2].Value != 4 {
		t.Fatalf("points %s", got)
	}

	// A retry finds nothing new.
	res, err = db.ScoreAnomalies(ctx, run, rec.score)
	if err != nil || res.Rows != 0 || len(rec.points) != 1 {
		t.Fatalf("retry: %+v, %v", res, err)
	}

	// The watermark moves on: minute 7 alone, continuing from the state.
	setWatermark(t, db, "orders", anomalyBase.Add(9*time.Minute))
	res, err = db.ScoreAnomalies(ctx, run, rec.score)
	if err != nil || res.Rows != 2 || len(rec.points[1]) != 2 || rec.points[1][0].Value != 9 {
		t.Fatalf("second run: %+v, %v, %v", res, err, rec.points)
	}

	scores, err := db.AnomalyScores(ctx, store.SeriesOrders, anomalyBase, anomalyBase.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != 9 || scores[0].Scored || !scores[1].Scored || !scores[3].Anomalous || scores[6].Sustained {
		t.Fatalf("scores %+v", scores)
	}
	alerts, err := db.Alerts(ctx, store.AlertFilter{Type: store.AlertAnomaly})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 1 || alerts[0].Entity != "orders" || alerts[0].DedupKey != "anomaly:orders" ||
		!alerts[0].OpenedAt.Equal(anomalyBase.Add(3*time.Minute)) || !alerts[0].ResolvedAt.Equal(anomalyBase.Add(6*time.Minute)) {
		t.Fatalf("alerts %+v", alerts)
	}
	var lineage int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM lineage WHERE run_id = 'run-1' AND step = 'anomaly-scores:orders'`).Scan(&lineage); err != nil || lineage != 1 {
		t.Fatalf("lineage rows %d, %v", lineage, err)
	}
}

func TestScoreAnomalies_PaymentFailureRateAndRevenuePerCurrency(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	exec(t, db, `INSERT INTO revenue_minute (minute, currency, orders, units, revenue_minor) VALUES
		($1, 'EUR', 3, 3, 300), ($1, 'USD', 1, 1, 70), ($1 + interval '2 minutes', 'EUR', 2, 2, 200)`, anomalyBase)
	// Payment attempts: minute 0 has 3 of 6 failed over two currencies,
	// minute 1 none, minute 2 one authorized.
	exec(t, db, `INSERT INTO payments_minute (minute, currency, authorized, failed) VALUES
		($1, 'EUR', 2, 2), ($1, 'USD', 1, 1), ($1 + interval '2 minutes', 'EUR', 1, 0)`, anomalyBase)
	setWatermark(t, db, "orders", anomalyBase.Add(3*time.Minute))
	setWatermark(t, db, "payments", anomalyBase.Add(3*time.Minute))

	series, err := db.AnomalySeries(ctx, "orders", "clicks", "payments")
	if err != nil {
		t.Fatal(err)
	}
	if want := "[{orders orders} {payment_failure_rate payments} {revenue:EUR orders} {revenue:USD orders} {traffic clicks}]"; fmt.Sprint(series) != want {
		t.Fatalf("series %v, want %s", series, want)
	}
	for _, tt := range []struct {
		series string
		want   string
	}{
		// Three failed attempts of six; minute 1 has no attempts, so no rate.
		{store.SeriesPaymentFailureRate, "[0.5 0]"},
		{"revenue:USD", "[70 0 0]"},
		{"revenue:EUR", "[300 0 200]"},
	} {
		var rec recorder
		topic := "orders"
		if tt.series == store.SeriesPaymentFailureRate {
			topic = "payments"
		}
		if _, err := db.ScoreAnomalies(ctx, store.AnomalyRun{Series: tt.series, Topic: topic, RunID: "r", Bootstrap: time.Hour}, rec.score); err != nil {
			t.Fatal(err)
		}
		var got []float64
		for _, p := range rec.points[0] {
			got = append(got, p.Value)
		}
		if fmt.Sprint(got) != tt.want {
			t.Fatalf("%s: %v, want %s", tt.series, got, tt.want)
		}
	}
	if _, err := db.ScoreAnomalies(ctx, store.AnomalyRun{Series: "nonsense", Topic: "orders"}, (&recorder{}).score); err == nil {
		t.Fatal("want an error for an unknown series")
	}
}
