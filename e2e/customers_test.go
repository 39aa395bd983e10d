package e2e

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
	"github.com/shoppulse/shoppulse/workers"
	"github.com/shoppulse/shoppulse/workflows"
)

// storeShop stores days of the shop simulator's orders and cancellations,
// and its product views and cart changes from clicksFrom on, as the
// consumers would (through the same store batches), and returns the number
// of orders stored.
func storeShop(t *testing.T, ctx context.Context, db *store.DB, start time.Time, days int, clicksFrom time.Time) int {
	t.Helper()
	shop := ingest.NewShop(ingest.ShopConfig{Seed: 3, Start: start, Days: days, EventsPerSecond: 0.02, Customers: 400, Products: 60})
	ordersTopic, clicksTopic := testenv.Name("orders"), testenv.Name("clicks")
	for _, topic := range []string{ordersTopic, clicksTopic} {
		if err := db.InitOffsets(ctx, topic, 1); err != nil {
			t.Fatal(err)
		}
	}
	var orderOff, clickOff int64
	ob := store.OrderBatch{Topic: ordersTopic, Owner: "e2e"}
	sink := streaming.ClickstreamSink{DB: db}
	cb := sink.NewBatch(2000)
	clicks := 0
	flushOrders := func() {
		ob.End = orderOff
		if ob.End > ob.Start {
			if _, err := db.CommitOrderBatch(ctx, ob); err != nil {
				t.Fatal(err)
			}
		}
		ob = store.OrderBatch{Topic: ordersTopic, Owner: "e2e", Start: orderOff}
	}
	clickStart := int64(0)
	flushClicks := func() {
		if clicks == 0 {
			return
		}
		if _, err := cb.Commit(ctx, store.BatchMeta{Topic: clicksTopic, Start: clickStart, End: clickOff, Owner: "e2e"}); err != nil {
			t.Fatal(err)
		}
		cb, clicks, clickStart = sink.NewBatch(2000), 0, clickOff
	}
	stored := 0
	for {
		ev, ok := shop.Next()
		if !ok {
			break
		}
		switch e := ev.(type) {
		case *events.OrderPlaced:
			ob.Orders = append(ob.Orders, store.PositionedOrder{Order: *e, Offset: orderOff})
			orderOff++
			stored++
		case *events.OrderCancelled:
			ob.Cancellations = append(ob.Cancellations, store.PositionedCancellation{Cancellation: *e, Offset: orderOff})
			orderOff++
		case *events.ProductView, *events.CartChange:
			if ev.Head().EventTime.Before(clicksFrom) {
				continue
			}
			if cb.Add(ev, clickOff) {
				clickOff++
				clicks++
			}
		}
		if len(ob.Orders)+len(ob.Cancellations) >= 500 {
			flushOrders()
		}
		if clicks >= 2000 {
			flushClicks()
		}
	}
	flushOrders()
	flushClicks()
	return stored
}

// TestEndToEnd_CustomerModelsFromTheSimulator stores 120 simulated days of
// orders and the last 30 of product views,
// runs the three customer model workflows on the dev server through a worker
// registered as `shoppulse worker` registers it, and checks the result
// tables, the registry and lineage; a second run for the same date changes
// nothing.
func TestEndToEnd_CustomerModelsFromTheSimulator(t *testing.T) {
	s := testenv.DB(t)
	addr := testenv.TemporalAddress(t)
	ctx := testenv.Context(t, 15*time.Minute)
	asOf := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	const days, recDays = 120, 30
	began := time.Now()
	orders := storeShop(t, ctx, s.DB, asOf.AddDate(0, 0, -days), days, asOf.AddDate(0, 0, -recDays))
	t.Logf("stored %d simulated orders in %v", orders, time.Since(began))

	tc, err := client.Dial(client.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	queue := testenv.Name("customers")
	w := worker.New(tc, queue, worker.Options{})
	workers.Register(w, workers.Deps{Customers: &activities.Customers{DB: s.DB}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	run := func(name string, in, out any) {
		t.Helper()
		r, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: testenv.Name(name), TaskQueue: queue}, name, in)
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		if err := r.Get(ctx, out); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s took %v", name, time.Since(began))
	}
	count := func(q string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := s.DB.Pool.QueryRow(ctx, q, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	// The CLI's JSON input.
	var fin workflows.CustomerFeaturesInput
	if err := json.Unmarshal([]byte(`{"as_of":"2026-09-01","window_days":365}`), &fin); err != nil {
		t.Fatal(err)
	}

	// Customer features.
	var feat workflows.CustomerFeaturesResult
	run(workflows.NameCustomerFeatures, fin, &feat)
	t.Logf("segmentation %s: %d customers, k=%d, silhouette %.3f, segments %v", feat.ModelVersion, feat.Customers, feat.K, feat.Silhouette, feat.Segments)
	wantCustomers := count(`SELECT count(DISTINCT customer_id) FROM orders o WHERE event_time < $1 AND customer_id <> ''
		AND NOT EXISTS (SELECT 1 FROM order_cancellations c WHERE c.order_id = o.order_id)`, asOf)
	if feat.Skipped != "" || !feat.Promoted || int64(feat.Customers) != wantCustomers || wantCustomers < 100 {
		t.Fatalf("features %+v, want %d customers, promoted", feat, wantCustomers)
	}
	if n := count(`SELECT count(*) FROM customer_features WHERE as_of = $1`, asOf); n != wantCustomers {
		t.Errorf("customer_features rows %d, want %d", n, wantCustomers)
	}
	if n := count(`SELECT coalesce(sum(customers), 0) FROM customer_segments WHERE as_of = $1`, asOf); n != wantCustomers {
		t.Errorf("customer_segments sizes sum to %d, want %d", n, wantCustomers)
	}
	if n := count(`SELECT count(*) FROM customer_segments WHERE as_of = $1`, asOf); n != int64(feat.K) {
		t.Errorf("%d cluster profiles, want k = %d", n, feat.K)
	}
	// Features agree with the facts: one customer's orders and spend.
	if n := count(`SELECT count(*) FROM customer_features f
		WHERE as_of = $1 AND (orders, monetary_minor) <> (
			SELECT count(*), sum(total_minor) FROM orders o WHERE o.customer_id = f.customer_id AND o.event_time < $1
			   AND NOT EXISTS (SELECT 1 FROM order_cancellations c WHERE c.order_id = o.order_id))`, asOf); n != 0 {
		t.Errorf("%d customers whose orders or spend disagree with the facts", n)
	}
	// Segments follow the documented grid.
	rows, err := s.DB.Pool.Query(ctx, `SELECT DISTINCT r_score, f_score, segment FROM customer_features WHERE as_of = $1`, asOf)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r, f int
		var seg string
		if err := rows.Scan(&r, &f, &seg); err != nil {
			t.Fatal(err)
		}
		if analytics.RFMSegment(r, f) != seg {
			t.Errorf("R %d F %d is in %q, want %q", r, f, seg, analytics.RFMSegment(r, f))
		}
	}
	rows.Close()

	// Churn and lifetime value.
	var churn workflows.ChurnLTVResult
	run(workflows.NameChurnLTV, workflows.ChurnLTVInput{AsOf: workflows.Date{Time: asOf}}, &churn)
	t.Logf("churn %s: %d customers (%d repeaters), bg/nbd %+v, gamma-gamma %+v, mean P(alive) %.3f, converged %v, holdout predicted %.1f actual %.0f",
		churn.ModelVersion, churn.Customers, churn.Repeaters, churn.BGNBD, churn.GammaGamma, churn.MeanPAlive, churn.Converged, churn.HoldoutPredicted, churn.HoldoutActual)
	if churn.Skipped != "" || int64(churn.Customers) != wantCustomers || churn.Repeaters < 20 {
		t.Fatalf("churn %+v", churn)
	}
	if n := count(`SELECT count(*) FROM churn_scores WHERE as_of = $1`, asOf); n != wantCustomers {
		t.Errorf("churn_scores rows %d, want %d", n, wantCustomers)
	}
	if n := count(`SELECT count(*) FROM churn_scores WHERE as_of = $1 AND NOT (
		p_alive BETWEEN 0 AND 1 AND expected_purchases >= 0 AND expected_spend_minor > 0 AND clv_minor >= 0
		AND recency_weeks <= age_weeks AND (frequency > 0 OR p_alive = 1))`, asOf); n != 0 {
		t.Errorf("%d churn scores out of range", n)
	}
	// A customer who bought recently and often is more likely alive than
	// one with the same frequency whose last purchase is long past.
	// (recency_weeks is the time from the first purchase to the last: more is
	// more recent.)
	if n := count(`SELECT count(*) FROM churn_scores a JOIN churn_scores b
		ON a.as_of = b.as_of AND a.frequency = b.frequency AND a.age_weeks = b.age_weeks
		WHERE a.as_of = $1 AND a.frequency > 0 AND a.recency_weeks < b.recency_weeks AND a.p_alive > b.p_alive + 1e-12`, asOf); n != 0 {
		t.Errorf("%d pairs where P(alive) rises as the last purchase recedes", n)
	}

	// Recommendations.
	var rec workflows.RecommendationsResult
	run(workflows.NameRecommendations, workflows.RecommendationsInput{AsOf: workflows.Date{Time: asOf}, WindowDays: recDays}, &rec)
	t.Logf("recommendations %s: %d products, %d customers; holdout hit rate@10 %.3f vs popularity %.3f over %d users; promoted %v",
		rec.ModelVersion, rec.Products, rec.Customers, rec.HitRate, rec.PopularityHitRate, rec.EvaluatedUsers, rec.Promoted)
	if rec.Skipped != "" || rec.Products < 10 || rec.Customers < 50 {
		t.Fatalf("recommendations %+v", rec)
	}
	if rec.Promoted != (rec.EvaluatedUsers > 0 && rec.HitRate >= rec.PopularityHitRate) {
		t.Errorf("promoted %v with hit rate %v against %v", rec.Promoted, rec.HitRate, rec.PopularityHitRate)
	}
	if n := count(`SELECT count(*) FROM customer_recommendations r WHERE as_of = $1 AND EXISTS (
		SELECT 1 FROM order_lines l JOIN orders o ON o.event_id = l.event_id AND o.event_time = l.event_time
		 WHERE o.customer_id = r.customer_id AND l.product_id = r.product_id
		   AND l.event_time >= $1::timestamptz - interval '30 days' AND l.event_time < $1
		   AND NOT EXISTS (SELECT 1 FROM order_cancellations c WHERE c.order_id = o.order_id))`, asOf); n != 0 {
		t.Errorf("%d recommendations of a product the customer bought", n)
	}
	if n := count(`SELECT count(*) FROM (SELECT customer_id FROM customer_recommendations WHERE as_of = $1
		GROUP BY customer_id HAVING count(*) > 10 OR max(rank) <> count(*)) x`, asOf); n != 0 {
		t.Errorf("%d customers with more than 10 recommendations or gaps in rank", n)
	}
	if n := count(`SELECT count(*) FROM product_similarities WHERE as_of = $1 AND (score <= 0 OR score > 1 + 1e-9 OR product_id = similar_product_id)`, asOf); n != 0 {
		t.Errorf("%d similarities out of range", n)
	}

	// The registry: every model with its window and metrics.
	for _, m := range []struct {
		model, version, metric string
		active                 bool
	}{
		{activities.ModelSegmentation, feat.ModelVersion, "silhouette", true},
		{activities.ModelChurn, churn.ModelVersion, "bgnbd_log_likelihood", churn.Promoted},
		{activities.ModelRecommendations, rec.ModelVersion, "popularity_hit_rate_at_k", rec.Promoted},
	} {
		vs, err := s.DB.Models(ctx, m.model)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 || vs[0].Version != m.version || !vs[0].TrainTo.Equal(asOf) || vs[0].TrainedBy == "" {
			t.Fatalf("registry of %s: %+v", m.model, vs)
		}
		var metrics map[string]any
		if err := json.Unmarshal(vs[0].Metrics, &metrics); err != nil || metrics[m.metric] == nil {
			t.Errorf("%s metrics %s lack %s", m.model, vs[0].Metrics, m.metric)
		}
		if (vs[0].Status == store.ModelActive) != m.active {
			t.Errorf("%s status %s, want active %v", m.model, vs[0].Status, m.active)
		}
	}
	if n := count(`SELECT count(*) FROM lineage WHERE step IN ('customer-features', 'churn-ltv', 'recommendations')`); n != 3 {
		t.Errorf("%d lineage rows, want 3", n)
	}

	// Same input, same output: a second run for the date replaces its rows
	// with identical ones and registers nothing new.
	digest := func() string {
		var d string
		err := s.DB.Pool.QueryRow(ctx, `SELECT md5(string_agg(x, '|' ORDER BY x)) FROM (
			SELECT concat_ws(',', customer_id, r_score, f_score, m_score, segment, cluster, model_version) x FROM customer_features WHERE as_of = $1
			UNION ALL SELECT concat_ws(',', customer_id, p_alive, clv_minor, model_version) FROM churn_scores WHERE as_of = $1
			UNION ALL SELECT concat_ws(',', customer_id, rank, product_id, score) FROM customer_recommendations WHERE as_of = $1) t`, asOf).Scan(&d)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	before := digest()
	var feat2 workflows.CustomerFeaturesResult
	run(workflows.NameCustomerFeatures, fin, &feat2)
	var churn2 workflows.ChurnLTVResult
	run(workflows.NameChurnLTV, workflows.ChurnLTVInput{AsOf: workflows.Date{Time: asOf}}, &churn2)
	var rec2 workflows.RecommendationsResult
	run(workflows.NameRecommendations, workflows.RecommendationsInput{AsOf: workflows.Date{Time: asOf}, WindowDays: recDays}, &rec2)
	if feat2.ModelVersion != feat.ModelVersion || churn2.ModelVersion != churn.ModelVersion || rec2.ModelVersion != rec.ModelVersion {
		t.Errorf("a re-run gave new versions: %s %s %s", feat2.ModelVersion, churn2.ModelVersion, rec2.ModelVersion)
	}
	if after := digest(); after != before {
		t.Error("a re-run for the same date changed the results")
	}
	if n := count(`SELECT count(*) FROM model_registry WHERE model IN ('segmentation', 'churn', 'recommendations')`); n != 3 {
		t.Errorf("%d registry rows after the re-run, want 3", n)
	}
}
