package store_test

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// recomputeFeaturesSQL is the definition of every fraud feature written
// once more, independently of the hot path's query: one self-join of the
// order facts of a single partition, each order with every order stored
// before it (earlier offset and earlier event time), aggregated with
// filters per key and window.
const recomputeFeaturesSQL = `
WITH x AS (
  SELECT o.event_id, o.event_time, o.total_minor, o.device_id,
         o.billing_country, o.shipping_country,
         count(p.event_id) FILTER (WHERE p.customer_id = o.customer_id AND p.event_time >= o.event_time - interval '1 minute') AS c1m,
         count(p.event_id) FILTER (WHERE p.customer_id = o.customer_id AND p.event_time >= o.event_time - interval '1 hour') AS c1h,
         count(p.event_id) FILTER (WHERE p.customer_id = o.customer_id AND p.event_time >= o.event_time - interval '1 day') AS c24h,
         count(p.event_id) FILTER (WHERE p.customer_id = o.customer_id) AS prior,
         avg(p.total_minor) FILTER (WHERE p.customer_id = o.customer_id) AS mean,
         stddev_samp(p.total_minor) FILTER (WHERE p.customer_id = o.customer_id) AS sd,
         min(p.event_time) FILTER (WHERE p.customer_id = o.customer_id) AS first_seen,
         count(p.device_id) FILTER (WHERE p.customer_id = o.customer_id) AS with_device,
         count(p.event_id) FILTER (WHERE p.customer_id = o.customer_id AND p.device_id = o.device_id) AS same_device,
         count(p.event_id) FILTER (WHERE p.card_fingerprint = o.card_fingerprint AND p.event_time >= o.event_time - interval '1 minute') AS k1m,
         count(p.event_id) FILTER (WHERE p.card_fingerprint = o.card_fingerprint AND p.event_time >= o.event_time - interval '1 hour') AS k1h,
         count(p.event_id) FILTER (WHERE p.card_fingerprint = o.card_fingerprint AND p.event_time >= o.event_time - interval '1 day') AS k24h,
         count(p.event_id) FILTER (WHERE p.ip = o.ip AND p.event_time >= o.event_time - interval '1 minute') AS i1m,
         count(p.event_id) FILTER (WHERE p.ip = o.ip AND p.event_time >= o.event_time - interval '1 hour') AS i1h,
         count(p.event_id) FILTER (WHERE p.ip = o.ip AND p.event_time >= o.event_time - interval '1 day') AS i24h,
         count(DISTINCT p.card_fingerprint) FILTER (WHERE p.ip = o.ip AND p.event_time >= o.event_time - interval '1 hour') AS ic1h,
         count(DISTINCT p.card_fingerprint) FILTER (WHERE p.ip = o.ip AND p.event_time >= o.event_time - interval '1 day') AS ic24h,
         count(p.event_id) FILTER (WHERE p.device_id = o.device_id AND p.event_time >= o.event_time - interval '1 minute') AS d1m,
         count(p.event_id) FILTER (WHERE p.device_id = o.device_id AND p.event_time >= o.event_time - interval '1 hour') AS d1h,
         count(p.event_id) FILTER (WHERE p.device_id = o.device_id AND p.event_time >= o.event_time - interval '1 day') AS d24h
    FROM orders o
    LEFT JOIN orders p ON p.kafka_offset < o.kafka_offset AND p.event_time < o.event_time
   GROUP BY o.event_id, o.event_time, o.total_minor, o.device_id, o.billing_country, o.shipping_country)
SELECT event_id, jsonb_build_object(
         'customer_orders_1m', c1m, 'customer_orders_1h', c1h, 'customer_orders_24h', c24h,
         'card_orders_1m', k1m, 'card_orders_1h', k1h, 'card_orders_24h', k24h,
         'ip_orders_1m', i1m, 'ip_orders_1h', i1h, 'ip_orders_24h', i24h,
         'device_orders_1m', d1m, 'device_orders_1h', d1h, 'device_orders_24h', d24h,
         'ip_cards_1h', ic1h, 'ip_cards_24h', ic24h,
         'amount_minor', total_minor, 'customer_prior_orders', prior,
         'amount_ratio', CASE WHEN prior > 0 AND mean > 0 THEN total_minor / mean::float8 ELSE 1 END,
         'amount_z', CASE WHEN prior >= 5 AND sd > 0 THEN (total_minor - mean::float8) / sd::float8 ELSE 0 END,
         'country_mismatch', CASE WHEN billing_country <> shipping_country THEN 1 ELSE 0 END,
         'account_age_hours', coalesce(extract(epoch FROM event_time - first_seen)::float8 / 3600, 0),
         'new_device', CASE WHEN device_id IS NOT NULL AND with_device > 0 AND same_device = 0 THEN 1 ELSE 0 END)
  FROM x`

func TestFraudFeatures_EqualTheSameFeaturesRecomputedBySQLFromTheFacts(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, 3*time.Minute)
	const topic = "orders"
	if err := s.DB.InitOffsets(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	// Simulated orders, fraud patterns included, on one partition, in
	// batches of changing sizes, with every 50th order sent twice.
	shop := ingest.NewShop(ingest.ShopConfig{Seed: 11, EventsPerSecond: 20, Customers: 150, Products: 40})
	var orders []events.OrderPlaced
	patterns := map[string]int{}
	for len(orders) < 3000 {
		ev, ok := shop.Next()
		if !ok {
			break
		}
		if o, ok := ev.(*events.OrderPlaced); ok {
			orders = append(orders, *o)
			if p := shop.FraudPattern(o.OrderID); p != "" {
				patterns[p]++
			}
			if len(orders)%50 == 0 {
				orders = append(orders, *o)
			}
		}
	}
	t.Logf("%d orders, fraud patterns %v", len(orders), patterns)
	scoring := &store.FraudScoring{Version: "test", Score: func(f store.FraudFeatures) float64 { return 0 }}
	var next int64
	sizes := []int{1, 7, 120, 3, 400, 1, 64}
	for i := 0; len(orders) > 0; i++ {
		n := min(sizes[i%len(sizes)], len(orders))
		b := store.OrderBatch{Topic: topic, Partition: 0, Start: next, End: next + int64(n), Owner: "test", Fraud: scoring}
		for j, o := range orders[:n] {
			b.Orders = append(b.Orders, store.PositionedOrder{Order: o, Offset: next + int64(j)})
		}
		if _, err := s.DB.CommitOrderBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
		orders, next = orders[n:], next+int64(n)
	}

	stored := map[string]store.FraudFeatures{}
	rows, err := s.DB.Pool.Query(ctx, `SELECT event_id, features FROM fraud_scores`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var f store.FraudFeatures
		if err := rows.Scan(&id, &f); err != nil {
			t.Fatal(err)
		}
		stored[id] = f
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err = s.DB.Pool.Query(ctx, recomputeFeaturesSQL)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n, withHistory, withVelocity int
	for rows.Next() {
		var id string
		var raw []byte
		if err := rows.Scan(&id, &raw); err != nil {
			t.Fatal(err)
		}
		var want store.FraudFeatures
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		got, ok := stored[id]
		if !ok {
			t.Errorf("order %s has no score", id)
			continue
		}
		n++
		if want.CustomerPriorOrders >= store.MinZHistory {
			withHistory++
		}
		if want.IPOrders1h > 0 {
			withVelocity++
		}
		if !sameFeatures(got, want) {
			t.Errorf("order %s:\n stream %+v\n sql    %+v", id, got, want)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(stored) || n < 2900 {
		t.Fatalf("compared %d orders, %d scores stored", n, len(stored))
	}
	// The comparison means something only if the features are not all zero.
	if withHistory < 50 || withVelocity < 5 {
		t.Fatalf("too little history (%d) or velocity (%d) in the sample to compare", withHistory, withVelocity)
	}
	t.Logf("%d orders equal, %d with a z-score, %d with IP velocity", n, withHistory, withVelocity)
}

// sameFeatures compares counts exactly and the derived ratios within a
// rounding error of the float arithmetic.
func sameFeatures(a, b store.FraudFeatures) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(y)) }
	if !near(a.AmountRatio, b.AmountRatio) || !near(a.AmountZ, b.AmountZ) || !near(a.AccountAgeHours, b.AccountAgeHours) {
		return false
	}
	a.AmountRatio, a.AmountZ, a.AccountAgeHours = b.AmountRatio, b.AmountZ, b.AccountAgeHours
	return a == b
}
