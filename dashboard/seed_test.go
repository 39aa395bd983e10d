package dashboard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/store"
)

// shop is a seeded database: what the hot path would have stored after a
// few hours of a small shop, written through the same store functions the
// hot path commits with (fenced batches on the shop's own topics).
type shop struct {
	db                  *store.DB
	orders, clicks      string // topics
	inventory           string
	now, midnight       time.Time
	next                map[string]int64 // next offset per topic (one partition each)
	seq                 int
	fraudOrders         []string // order ids scored at or above 0.5
	fraudModel          string
	products            []string
	categoryOf          map[string]string
	defaultReorderPoint int64
}

// fraudModelVersion is the seeded scores' model: big orders are suspect.
const fraudModelVersion = "browser-test-rules"

func seedShop(t *testing.T, ctx context.Context, db *store.DB) *shop {
	t.Helper()
	now := time.Now().UTC()
	s := &shop{
		db: db, orders: "seed.orders", clicks: "seed.clickstream", inventory: "seed.inventory",
		now: now, midnight: now.Truncate(24 * time.Hour), next: map[string]int64{},
		products:   []string{"p-kettle", "p-teapot", "p-mug", "p-spade", "p-rake", "p-kite"},
		categoryOf: map[string]string{"p-kettle": "kitchen", "p-teapot": "kitchen", "p-mug": "kitchen", "p-spade": "garden", "p-rake": "garden", "p-kite": "toys"},
		fraudModel: fraudModelVersion, defaultReorderPoint: 10,
	}
	for _, topic := range []string{s.orders, s.clicks, s.inventory} {
		if err := db.InitOffsets(ctx, topic, 1); err != nil {
			t.Fatal(err)
		}
	}
	// Three hours of orders, one every three minutes, and the same a week
	// before; big ones score as fraud.
	var hist, lastWeek []events.OrderPlaced
	for m := 180; m >= 3; m -= 3 {
		at := now.Add(-time.Duration(m) * time.Minute)
		hist = append(hist, s.order("c-"+fmt.Sprint(m%7), at, "GBP", m%5+1, ""))
		lastWeek = append(lastWeek, s.order("c-"+fmt.Sprint(m%7), at.Add(-7*24*time.Hour), "GBP", m%3+1, ""))
	}
	s.commitOrders(t, ctx, lastWeek)
	s.commitOrders(t, ctx, hist)

	// Today: twenty sessions walking the funnel, three of them buying, and
	// big suspicious orders; a few euro orders.
	var clicks []store.ClickEvent
	var today []events.OrderPlaced
	for i := range 20 {
		sid := fmt.Sprintf("s-%02d", i)
		start := s.today(time.Duration(20-i) * 40 * time.Second)
		click := func(typ string, after time.Duration, product string) {
			clicks = append(clicks, store.ClickEvent{EventID: fmt.Sprintf("%s-%s", sid, typ), Type: typ, EventTime: start.Add(after),
				SessionID: sid, CustomerID: "c-" + fmt.Sprint(i%7), Device: "desktop", Page: "/", ProductID: product})
		}
		click(events.TypePageView, 0, "")
		if i < 15 {
			click(events.TypeProductView, time.Second, s.products[i%len(s.products)])
		}
		if i < 8 {
			click(events.TypeAddToCart, 2*time.Second, s.products[i%len(s.products)])
		}
		if i < 5 {
			click(events.TypeCheckoutStarted, 3*time.Second, "")
		}
		if i < 3 {
			today = append(today, s.order("c-"+fmt.Sprint(i%7), start.Add(4*time.Second), "GBP", 2, sid))
		}
	}
	for i := range 4 {
		big := s.order(fmt.Sprintf("c-new-%d", i), s.today(time.Duration(i+1)*25*time.Second), "GBP", 1, "")
		big.Lines[0].Quantity, big.TotalMinor = 40, 40*big.Lines[0].UnitPriceMinor
		today = append(today, big)
	}
	for i := range 2 {
		today = append(today, s.order("c-eu", s.today(time.Duration(i+1)*33*time.Second), "EUR", 1, ""))
	}
	s.commitClicks(t, ctx, clicks)
	s.commitOrders(t, ctx, today)
	for _, o := range today[3:7] {
		s.fraudOrders = append(s.fraudOrders, o.OrderID)
	}

	// Stock: one product runs low, one runs out.
	s.commitStock(t, ctx, []events.InventoryAdjusted{
		s.movement("p-kettle", 100, "receipt", 30*time.Minute), s.movement("p-kettle", -95, "sale", 20*time.Minute),
		s.movement("p-kite", 5, "receipt", 30*time.Minute), s.movement("p-kite", -5, "sale", 10*time.Minute),
		s.movement("p-mug", 500, "receipt", 30*time.Minute),
	})

	// Anomaly scores of the orders series, as the one-minute schedule would.
	an := &activities.Anomalies{DB: db, Config: analytics.AnomalyConfig{}}
	if _, err := an.ScoreAnomalies(ctx, activities.ScoreAnomaliesInput{Series: store.SeriesOrders, Topic: s.orders,
		RunID: "seed", Workflow: "test", Bootstrap: 4 * time.Hour}); err != nil {
		t.Fatalf("score anomalies: %v", err)
	}
	return s
}

// today is d before now, but not before today's midnight (UTC, the
// browser's zone in the test).
func (s *shop) today(d time.Duration) time.Time {
	at := s.now.Add(-d)
	if at.Before(s.midnight) {
		return s.midnight.Add(time.Duration(s.seq) * time.Millisecond)
	}
	return at
}

func (s *shop) order(customer string, at time.Time, currency string, qty int, session string) events.OrderPlaced {
	s.seq++
	p := s.products[s.seq%len(s.products)]
	price := int64(500 + 250*(s.seq%len(s.products)))
	id := fmt.Sprintf("%d", s.seq)
	return events.OrderPlaced{
		Header:  events.Header{EventID: "ev-o-" + id, Type: events.TypeOrderPlaced, SchemaVersion: 1, EventTime: at},
		OrderID: "o-" + id, CustomerID: customer, Country: "GB", Currency: currency, Channel: "web", SessionID: session,
		Lines:      []events.OrderLine{{ProductID: p, Category: s.categoryOf[p], Quantity: int64(qty), UnitPriceMinor: price}},
		TotalMinor: int64(qty) * price,
	}
}

func (s *shop) meta(topic string, n int) store.BatchMeta {
	start := s.next[topic]
	s.next[topic] = start + int64(n)
	return store.BatchMeta{Topic: topic, Partition: 0, Start: start, End: start + int64(n), Owner: "seed"}
}

func (s *shop) commitOrders(t *testing.T, ctx context.Context, orders []events.OrderPlaced) {
	t.Helper()
	m := s.meta(s.orders, len(orders))
	b := store.OrderBatch{Topic: m.Topic, Partition: m.Partition, Start: m.Start, End: m.End, Owner: m.Owner,
		Fraud: &store.FraudScoring{Version: s.fraudModel, AlertThreshold: 0.9, Score: func(f store.FraudFeatures) float64 {
			if f.AmountMinor >= 10000 {
				return 0.93
			}
			return 0.04
		}}}
	for i, o := range orders {
		b.Orders = append(b.Orders, store.PositionedOrder{Order: o, Offset: m.Start + int64(i)})
	}
	if _, err := s.db.CommitOrderBatch(ctx, b); err != nil {
		t.Fatalf("seed orders: %v", err)
	}
}

func (s *shop) commitClicks(t *testing.T, ctx context.Context, clicks []store.ClickEvent) {
	t.Helper()
	m := s.meta(s.clicks, len(clicks))
	for i := range clicks {
		clicks[i].Offset = m.Start + int64(i)
	}
	if _, err := s.db.CommitClickstreamBatch(ctx, store.ClickstreamBatch{BatchMeta: m, Events: clicks}); err != nil {
		t.Fatalf("seed clickstream: %v", err)
	}
}

func (s *shop) movement(product string, delta int64, reason string, ago time.Duration) events.InventoryAdjusted {
	s.seq++
	return events.InventoryAdjusted{
		Header:    events.Header{EventID: fmt.Sprintf("ev-inv-%d", s.seq), Type: events.TypeInventoryAdjusted, SchemaVersion: 1, EventTime: s.now.Add(-ago)},
		ProductID: product, WarehouseID: "w-1", Delta: delta, Reason: reason,
	}
}

func (s *shop) commitStock(t *testing.T, ctx context.Context, moves []events.InventoryAdjusted) {
	t.Helper()
	m := s.meta(s.inventory, len(moves))
	b := store.InventoryBatch{BatchMeta: m, DefaultReorderPoint: s.defaultReorderPoint}
	for i, mv := range moves {
		b.Movements = append(b.Movements, store.PositionedMovement{Movement: mv, Offset: m.Start + int64(i)})
	}
	if _, err := s.db.CommitInventoryBatch(ctx, b); err != nil {
		t.Fatalf("seed stock: %v", err)
	}
}

// ordersToday is what the KPI "Orders today" must show: the GBP orders
// since midnight (UTC), from revenue_minute.
func (s *shop) ordersToday(t *testing.T, ctx context.Context) int64 {
	t.Helper()
	var n int64
	if err := s.db.Pool.QueryRow(ctx, `SELECT coalesce(sum(orders), 0)::bigint FROM revenue_minute
		WHERE currency = 'GBP' AND minute >= $1`, s.midnight).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
