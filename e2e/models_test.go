package e2e

import (
	"math"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/streaming"
	"github.com/shoppulse/shoppulse/workflows"
)

// TestEndToEnd_FraudModelAndDemandForecasts simulates two months of a shop
// (orders, payments and chargebacks of its fraud patterns), lets the worker
// consume them, then runs FraudModelTraining and DemandForecast on the dev
// server: the fraud model is compared with the rules on a time-based
// holdout and promoted only when better, after which the hot path scores
// new orders with it without a restart; forecasts are stored per product
// with their MASE, and a re-run for the same day changes nothing.
func TestEndToEnd_FraudModelAndDemandForecasts(t *testing.T) {
	h := newHarness(t)
	ctx := testenv.Context(t, 20*time.Minute)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	const days = 60
	shop := ingest.NewShop(ingest.ShopConfig{Seed: 11, Start: today.AddDate(0, 0, -days-1), Days: days,
		EventsPerSecond: 0.4, Customers: 1500, Products: 60, Warehouses: 1})
	var evs []events.Event
	for {
		ev, ok := shop.Next()
		if !ok {
			break
		}
		if tp := ev.Topic(); tp == events.TopicOrders || tp == events.TopicPayments {
			evs = append(evs, ev)
		}
	}
	st := shop.Stats()
	t.Logf("simulated %d days: %d orders, %d fraudulent, %d chargebacks", days, st.Orders, st.FraudOrders, st.Chargebacks)
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: h.brokers,
		TopicMap: map[string]string{events.TopicOrders: h.topic, events.TopicPayments: h.payTopic}})
	defer p.Close()
	for i := 0; i < len(evs); i += 2000 {
		if err := p.Publish(ctx, evs[i:min(i+2000, len(evs))]...); err != nil {
			t.Fatal(err)
		}
	}
	// Two months of history: bigger batches than the harness's 40 (the
	// test is about the batch side), and a heartbeat timeout that a loaded
	// machine does not trip (the last value of a variable wins).
	h.env = append(h.env, "SHOPPULSE_STREAM_BATCH_SIZE=1000", "SHOPPULSE_STREAM_HEARTBEAT_TIMEOUT=30s")
	h.startWorker()
	h.waitForTopicEnd(ctx, h.topic)
	h.waitForTopicEnd(ctx, h.payTopic)

	// A decision on the fraud queue, made before the as-of: the first order
	// of the training window marked fraud counts as a positive beside the
	// chargebacks.
	asOf := today.Add(-time.Hour)
	windowFrom := asOf.AddDate(0, 0, -workflows.DefaultFraudLabelDelayDays-30)
	if _, err := h.schema.DB.Pool.Exec(ctx, `
		INSERT INTO fraud_labels (order_id, label, decided_by, decided_at)
		SELECT order_id, 'fraud', 'e2e-analyst', $1 FROM fraud_scores WHERE event_time >= $2 ORDER BY event_time LIMIT 1`,
		asOf.Add(-24*time.Hour), windowFrom); err != nil {
		t.Fatal(err)
	}

	run, err := h.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: h.queue},
		workflows.NameFraudModelTraining, workflows.FraudTrainingInput{AsOf: asOf, TrainDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	var fr workflows.FraudTrainingResult
	if err := run.Get(ctx, &fr); err != nil {
		t.Fatalf("fraud training: %v", err)
	}
	t.Logf("fraud model %s: train %d orders (%d fraud), holdout from %s", fr.Version, fr.TrainRows, fr.TrainFraud, fr.SplitAt.Format(time.RFC3339))
	t.Logf("holdout: candidate AUC %.4f precision %.3f recall %.3f at %.2f (%d flagged of %d, %d fraud); %s AUC %.4f precision %.3f recall %.3f",
		fr.Candidate.AUC, fr.Candidate.Precision, fr.Candidate.Recall, fr.Candidate.Threshold, fr.Candidate.Flagged, fr.Candidate.N,
		fr.Candidate.Positive, fr.BaselineVersion, fr.Baseline.AUC, fr.Baseline.Precision, fr.Baseline.Recall)
	if fr.Labels.DecidedFraud != 1 || fr.Labels.Chargebacks == 0 {
		t.Errorf("labels: %+v, want chargebacks and the one decision", fr.Labels)
	}
	if fr.BaselineVersion != analytics.RulesVersion || fr.BaselineActive != "" {
		t.Errorf("baseline: got %s (active %q), want the rules with none active", fr.BaselineVersion, fr.BaselineActive)
	}
	if fr.Candidate.Positive == 0 || fr.Candidate.Positive != fr.Baseline.Positive || fr.Candidate.N != fr.Baseline.N {
		t.Fatalf("candidate and baseline not on the same holdout: %+v vs %+v", fr.Candidate, fr.Baseline)
	}
	if want := fr.Candidate.AUC > fr.Baseline.AUC; fr.Promoted != want {
		t.Fatalf("promoted %v, want %v (AUC %.4f vs %.4f)", fr.Promoted, want, fr.Candidate.AUC, fr.Baseline.AUC)
	}
	active, err := h.schema.DB.ActiveModel(ctx, activities.FraudModelName)
	if !fr.Promoted {
		t.Fatalf("the model did not beat the rules (AUC %.4f vs %.4f): the rest needs a promoted model", fr.Candidate.AUC, fr.Baseline.AUC)
	}
	if err != nil || active.Version != fr.Version || active.PromotedBy == "" {
		t.Fatalf("active fraud model: %+v, %v", active, err)
	}

	// A re-run for the same as-of: the same version, still active, and the
	// comparison is now against itself, so nothing is promoted again.
	run2, err := h.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: h.queue},
		workflows.NameFraudModelTraining, workflows.FraudTrainingInput{AsOf: asOf, TrainDays: 30})
	if err != nil {
		t.Fatal(err)
	}
	var fr2 workflows.FraudTrainingResult
	if err := run2.Get(ctx, &fr2); err != nil {
		t.Fatal(err)
	}
	if fr2.Version != fr.Version || fr2.BaselineActive != fr.Version || fr2.Promoted || fr2.Candidate.AUC != fr.Candidate.AUC {
		t.Fatalf("re-run: %+v", fr2)
	}

	// Demand forecasts for today from the simulated history.
	frun, err := h.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: h.queue},
		workflows.NameDemandForecast, workflows.ForecastInput{AsOf: today, HistoryDays: days + 1})
	if err != nil {
		t.Fatal(err)
	}
	var fc activities.ForecastResult
	if err := frun.Get(ctx, &fc); err != nil {
		t.Fatalf("demand forecast: %v", err)
	}
	t.Logf("forecasts %s: %d products (%d Holt-Winters, %d Croston-SBA), %d rows; MASE median %.3f mean %.3f (seasonal naive median %.3f) over %d products, %d beat the seasonal naive",
		fc.Version, fc.Products, fc.HoltWinters, fc.CrostonSBA, fc.Rows, fc.MedianMASE, fc.MeanMASE, fc.MedianSnaive, fc.WithMASE, fc.BeatSnaive)
	if fc.Products == 0 || fc.HoltWinters == 0 || fc.CrostonSBA == 0 || fc.Rows != int64(fc.Products*workflows.DefaultForecastHorizon) || fc.WithMASE == 0 {
		t.Fatalf("forecast result: %+v", fc)
	}
	snapshot := func() (rows, acc int64, sum float64) {
		if err := h.schema.DB.Pool.QueryRow(ctx, `
			SELECT (SELECT count(*) FROM demand_forecasts WHERE as_of = $1),
			       (SELECT count(*) FROM demand_forecast_accuracy WHERE as_of = $1 AND mase IS NOT NULL),
			       (SELECT coalesce(sum(forecast), 0) FROM demand_forecasts WHERE as_of = $1)`, today).Scan(&rows, &acc, &sum); err != nil {
			t.Fatal(err)
		}
		return
	}
	r1, a1, s1 := snapshot()
	if r1 != fc.Rows || a1 != int64(fc.WithMASE) {
		t.Fatalf("stored %d forecasts and %d accuracy rows, the run says %d and %d", r1, a1, fc.Rows, fc.WithMASE)
	}
	frun2, err := h.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: h.queue},
		workflows.NameDemandForecast, workflows.ForecastInput{AsOf: today, HistoryDays: days + 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := frun2.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if r2, a2, s2 := snapshot(); r2 != r1 || a2 != a1 || math.Abs(s2-s1) > 1e-6 {
		t.Fatalf("re-run changed the day's forecasts: %d/%d/%g -> %d/%d/%g", r1, a1, s1, r2, a2, s2)
	}
	fm, err := h.schema.DB.ActiveModel(ctx, activities.ForecastModelName)
	if err != nil || fm.Version != fc.Version || len(fm.Metrics) < 10 {
		t.Fatalf("forecast model: %+v, %v", fm, err)
	}
	var lineage int
	if err := h.schema.DB.Pool.QueryRow(ctx, `
		SELECT count(*) FROM lineage WHERE step IN ('train-fraud-model', 'promote-fraud-model', 'forecast-demand')
		   AND inputs ? 'stream_offsets' OR step = 'promote-fraud-model'`).Scan(&lineage); err != nil {
		t.Fatal(err)
	}
	// two training runs, one promotion, two forecast runs
	if lineage != 5 {
		t.Fatalf("lineage rows: %d, want 5", lineage)
	}

	// The hot path reloads the active model every 30 s: orders produced
	// after that are scored by the new version, with its weights.
	time.Sleep(streaming.DefaultFraudModelReload + 2*time.Second)
	fresh := simulate(5, 20, time.Now().UTC().Add(-time.Minute))
	p2 := ingest.NewProducer(ingest.ProducerConfig{Brokers: h.brokers, Topic: h.topic})
	defer p2.Close()
	// The shared broker may move a leader under load: retry the write (the
	// orders have fixed event ids, so a repeat is stored once).
	for attempt := 1; ; attempt++ {
		err := p2.Produce(ctx, fresh...)
		if err == nil {
			break
		}
		if attempt == 5 {
			t.Fatalf("produce new orders: %v", err)
		}
		time.Sleep(5 * time.Second)
	}
	h.waitForTopicEnd(ctx, h.topic)
	model, err := analytics.ParseFraudModel(active.Version, active.Algorithm, active.Params)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(fresh))
	for i, o := range fresh {
		ids[i] = o.OrderID
	}
	scores, err := h.schema.DB.FraudScores(ctx, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	seen := 0
	for _, s := range scores {
		if !want[s.OrderID] {
			continue
		}
		seen++
		if s.ModelVersion != fr.Version {
			t.Errorf("order %s scored by %s, want %s", s.OrderID, s.ModelVersion, fr.Version)
		}
		if got := model.Score(s.Features); math.Abs(got-s.Score) > 1e-12 {
			t.Errorf("order %s: stored score %g, the registry's model gives %g", s.OrderID, s.Score, got)
		}
	}
	if seen != len(fresh) {
		t.Fatalf("%d of %d new orders scored", seen, len(fresh))
	}

}
