package ingest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// farFuture is a receiver clock that accepts every simulated time.
var farFuture = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)

func encodeAll(t testing.TB, s *Shop, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for range n {
		ev, ok := s.Next()
		if !ok {
			break
		}
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatalf("encode %T: %v", ev, err)
		}
		out = append(out, b)
	}
	return out
}

func TestShopSameSeedSameStream(t *testing.T) {
	cfg := ShopConfig{Seed: 42, EventsPerSecond: 5, Customers: 500, Products: 80}
	a := encodeAll(t, NewShop(cfg), 20000)
	b := encodeAll(t, NewShop(cfg), 20000)
	if len(a) != 20000 || len(b) != 20000 {
		t.Fatalf("got %d and %d events, want 20000", len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			t.Fatalf("event %d differs:\n%s\n%s", i, a[i], b[i])
		}
	}
	cfg.Seed = 43
	c := encodeAll(t, NewShop(cfg), 100)
	same := 0
	for i := range c {
		if bytes.Equal(a[i], c[i]) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("seeds 42 and 43 share %d of the first 100 events", same)
	}
}

// TestShopGolden pins the stream: the first opening-stock and market events,
// the first session and order events verbatim, and a SHA-256 of the first
// 20,000 events. Any change to the model shows up here; run
// go test ./ingest -run TestShopGolden -update to accept a deliberate one.
func TestShopGolden(t *testing.T) {
	s := NewShop(ShopConfig{Seed: 1, Customers: 200, Products: 20, Warehouses: 1, EventsPerSecond: 1})
	var lines [][]byte
	other, traffic := 0, 0
	h := sha256.New()
	for range 20000 {
		ev, ok := s.Next()
		if !ok {
			t.Fatal("stream ended")
		}
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(b)
		h.Write([]byte("\n"))
		switch tp := ev.Topic(); {
		case (tp == events.TopicClickstream || tp == events.TopicOrders) && traffic < 30:
			traffic++
			lines = append(lines, b)
		case tp != events.TopicClickstream && tp != events.TopicOrders && other < 6:
			other++
			lines = append(lines, b)
		}
	}
	lines = append(lines, []byte(fmt.Sprintf("sha256 of the first 20000 events: %x", h.Sum(nil))))
	got := append(bytes.Join(lines, []byte("\n")), '\n')
	path := filepath.Join("testdata", "shop_golden.txt")
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ingest -run TestShopGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the stream changed; if deliberate, run go test ./ingest -run TestShopGolden -update\ngot:\n%s", got)
	}
}

// TestShopEventsValid: every event of three simulated days decodes and
// validates, times never go back and stay in the period, and every customer
// is registered before anything names them. (A low rate keeps it fast:
// events.Decode costs far more than the simulation.)
func TestShopEventsValid(t *testing.T) {
	cfg := ShopConfig{Seed: 7, Days: 3, EventsPerSecond: 0.15, Customers: 400, Products: 60, Warehouses: 3}
	s := NewShop(cfg)
	start, end := DefaultShopStart, DefaultShopStart.Add(72*time.Hour)
	var last time.Time
	registered := map[string]bool{}
	types := map[string]int{}
	n := 0
	for {
		ev, ok := s.Next()
		if !ok {
			break
		}
		n++
		h := ev.Head()
		types[h.Type]++
		if h.EventTime.Before(last) {
			t.Fatalf("event %d at %s is before the previous one at %s", n, h.EventTime, last)
		}
		if h.EventTime.Before(start) || !h.EventTime.Before(end) {
			t.Fatalf("event %d at %s is outside [%s, %s)", n, h.EventTime, start, end)
		}
		last = h.EventTime
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatalf("encode %T: %v", ev, err)
		}
		dec, err := events.Decode(b, farFuture)
		if err != nil {
			t.Fatalf("event %d does not validate: %v\n%s", n, err, b)
		}
		if dec.Head().Type != h.Type || dec.Topic() != ev.Topic() || !bytes.Equal(dec.Key(), ev.Key()) {
			t.Fatalf("event %d changed in a round trip: %s", n, b)
		}
		var cust string
		switch e := ev.(type) {
		case *events.CustomerRegistered:
			if registered[e.CustomerID] {
				t.Fatalf("customer %s registered twice", e.CustomerID)
			}
			registered[e.CustomerID] = true
		case *events.PageView:
			cust = e.CustomerID
		case *events.ProductView:
			cust = e.CustomerID
		case *events.CartChange:
			cust = e.CustomerID
		case *events.CheckoutStarted:
			cust = e.CustomerID
		case *events.OrderPlaced:
			cust = e.CustomerID
		case *events.Payment:
			cust = e.CustomerID
		case *events.CustomerUpdated:
			cust = e.CustomerID
		}
		if cust != "" && !registered[cust] {
			t.Fatalf("event %d (%s) names customer %s before they registered", n, h.Type, cust)
		}
	}
	for _, typ := range events.Types() {
		rare := typ == events.TypeChargeback || typ == events.TypeErasureRequested || typ == events.TypeCustomerUpdated || typ == events.TypePriceChanged
		if types[typ] == 0 && !rare {
			t.Errorf("no %s in three simulated days", typ)
		}
	}
	t.Logf("%d events: %v", n, types)
}

// weekRun is one simulated week, summarised once for several tests.
type weekSummary struct {
	cfg                      ShopConfig
	perDay                   [7]int
	perHour                  [24]int
	sessions, viewed, carted int
	checkedOut               int
	stats                    ShopStats
}

var (
	weekOnce sync.Once
	week     weekSummary
)

func simulatedWeek() weekSummary {
	weekOnce.Do(func() {
		week.cfg = ShopConfig{Seed: 3, Days: 7, EventsPerSecond: 1, Customers: 3000, Products: 300}
		s := NewShop(week.cfg)
		type funnel struct{ view, cart, checkout bool }
		sess := map[string]*funnel{}
		get := func(id string) *funnel {
			f := sess[id]
			if f == nil {
				f = &funnel{}
				sess[id] = f
			}
			return f
		}
		for {
			ev, ok := s.Next()
			if !ok {
				break
			}
			at := ev.Head().EventTime
			week.perDay[int(at.Sub(DefaultShopStart)/(24*time.Hour))]++
			week.perHour[at.Hour()]++
			switch e := ev.(type) {
			case *events.PageView:
				get(e.SessionID)
			case *events.ProductView:
				get(e.SessionID).view = true
			case *events.CartChange:
				if e.Type == events.TypeAddToCart {
					get(e.SessionID).cart = true
				}
			case *events.CheckoutStarted:
				get(e.SessionID).checkout = true
			}
		}
		for _, f := range sess {
			week.sessions++
			if f.view {
				week.viewed++
			}
			if f.cart {
				week.carted++
			}
			if f.checkout {
				week.checkedOut++
			}
		}
		week.stats = s.Stats()
	})
	return week
}

func TestShopFunnelConversion(t *testing.T) {
	w := simulatedWeek()
	orders := int(w.stats.SessionOrders)
	for _, c := range []struct {
		step     string
		num, den int
		lo, hi   float64
	}{
		{"page_view -> product_view", w.viewed, w.sessions, 0.60, 0.70},
		{"product_view -> add_to_cart", w.carted, w.viewed, 0.08, 0.12},
		{"add_to_cart -> checkout", w.checkedOut, w.carted, 0.42, 0.58},
		{"checkout -> order", orders, w.checkedOut, 0.62, 0.78},
		{"overall conversion", orders, w.sessions, 0.01, 0.04},
	} {
		r := float64(c.num) / float64(c.den)
		t.Logf("%-28s %6.2f%% (%d/%d)", c.step, 100*r, c.num, c.den)
		if r < c.lo || r > c.hi {
			t.Errorf("%s: %.2f%%, want %.0f%% to %.0f%%", c.step, 100*r, 100*c.lo, 100*c.hi)
		}
	}
}

func TestShopSeasonality(t *testing.T) {
	w := simulatedWeek()
	evening := w.perHour[19] + w.perHour[20] + w.perHour[21]
	night := w.perHour[2] + w.perHour[3] + w.perHour[4]
	t.Logf("events 19-22h: %d, 2-5h: %d", evening, night)
	if evening < 3*night {
		t.Errorf("evening %d is not well above the night %d", evening, night)
	}
	// The week starts on a Monday: days 5 and 6 are the weekend.
	weekday := float64(w.perDay[0]+w.perDay[1]+w.perDay[2]+w.perDay[3]+w.perDay[4]) / 5
	weekend := float64(w.perDay[5]+w.perDay[6]) / 2
	t.Logf("events per weekday %.0f, per weekend day %.0f", weekday, weekend)
	if weekend < 1.08*weekday {
		t.Errorf("weekend %.0f is not above weekdays %.0f", weekend, weekday)
	}
}

func TestShopRate(t *testing.T) {
	w := simulatedWeek()
	for d, n := range w.perDay {
		rate := float64(n) / 86400
		t.Logf("day %d: %.3f events/s", d, rate)
		if rate < 0.85*w.cfg.EventsPerSecond || rate > 1.15*w.cfg.EventsPerSecond {
			t.Errorf("day %d: %.3f events/s, want within 15%% of %g", d, rate, w.cfg.EventsPerSecond)
		}
	}
}

// TestShopStockAndFraud runs five simulated weeks: stock never goes
// negative, stockouts are followed by receipts (or one is on order at the
// end), and chargebacks come 3 to 30 days after fraudulent orders only.
func TestShopStockAndFraud(t *testing.T) {
	cfg := ShopConfig{Seed: 11, Days: 35, EventsPerSecond: 0.3, Customers: 2000, Products: 150, Warehouses: 2}
	s := NewShop(cfg)
	end := DefaultShopStart.Add(35 * 24 * time.Hour)
	type pos struct{ product, warehouse string }
	stock := map[pos]int64{}
	outSince := map[pos]time.Time{}
	var stockouts, refilled int
	orderAt := map[string]time.Time{}
	fraudByPattern := map[string]int{}
	charged := map[string]bool{}
	types := map[string]int{}
	for {
		ev, ok := s.Next()
		if !ok {
			break
		}
		types[ev.Head().Type]++
		switch e := ev.(type) {
		case *events.InventoryAdjusted:
			k := pos{e.ProductID, e.WarehouseID}
			stock[k] += e.Delta
			switch {
			case stock[k] < 0:
				t.Fatalf("%s in %s: stock %d after %s %d at %s", k.product, k.warehouse, stock[k], e.Reason, e.Delta, e.EventTime)
			case stock[k] == 0:
				stockouts++
				outSince[k] = e.EventTime
			case e.Reason == "receipt":
				if _, ok := outSince[k]; ok {
					refilled++
					delete(outSince, k)
				}
			default:
				delete(outSince, k) // a return
			}
		case *events.OrderPlaced:
			if p := s.FraudPattern(e.OrderID); p != "" {
				orderAt[e.OrderID] = e.EventTime
				fraudByPattern[p]++
			}
		case *events.Chargeback:
			at, ok := orderAt[e.OrderID]
			if !ok {
				t.Fatalf("chargeback %s for order %s, which is not a fraud order", e.ChargebackID, e.OrderID)
			}
			if d := e.EventTime.Sub(at); d < 3*24*time.Hour || d > 30*24*time.Hour+time.Minute {
				t.Errorf("chargeback for %s came %s after the order, want 3 to 30 days", e.OrderID, d)
			}
			if e.Reason != "fraud" {
				t.Errorf("chargeback %s: reason %q, want fraud", e.ChargebackID, e.Reason)
			}
			charged[e.OrderID] = true
		}
	}
	for _, typ := range events.Types() {
		if types[typ] == 0 {
			t.Errorf("no %s in five simulated weeks", typ)
		}
	}
	st := s.Stats()
	t.Logf("stockouts %d, refilled by a receipt %d, still out %d; stats %+v", stockouts, refilled, len(outSince), st)
	if stockouts == 0 || refilled == 0 {
		t.Errorf("stockouts %d, refilled %d: want some of each", stockouts, refilled)
	}
	for k := range outSince {
		pi := -1
		for i := range s.products {
			if s.products[i].id == k.product {
				pi = i
			}
		}
		wh := -1
		for i, w := range s.warehouses {
			if w == k.warehouse {
				wh = i
			}
		}
		if !s.onOrder[pi*cfg.Warehouses+wh] {
			t.Errorf("%s in %s is out of stock at the end with nothing on order", k.product, k.warehouse)
		}
	}
	// Every authorized fraud order old enough has its chargeback.
	for id, at := range orderAt {
		if at.Before(end.Add(-31*24*time.Hour)) && !charged[id] {
			t.Errorf("fraud order %s of %s has no chargeback", id, at)
		}
	}
	for _, p := range []string{FraudAccountTakeover, FraudVelocity, FraudCardTesting} {
		if fraudByPattern[p] == 0 {
			t.Errorf("no %s fraud in five weeks", p)
		}
	}
	rate := float64(st.FraudOrders) / float64(st.AuthorizedOrders)
	t.Logf("fraud: %v, %d of %d authorized orders (%.2f%%), %d chargebacks", fraudByPattern, st.FraudOrders, st.AuthorizedOrders, 100*rate, st.Chargebacks)
	if rate < 0.005 || rate > 0.02 {
		t.Errorf("fraud rate %.2f%% of authorized orders, want 0.5%% to 2%%", 100*rate)
	}
}

func TestShopConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  ShopConfig
		ok   bool
	}{
		{"defaults", ShopConfig{}, true},
		{"negative days", ShopConfig{Days: -1}, false},
		{"negative rate", ShopConfig{EventsPerSecond: -1}, false},
		{"too few products", ShopConfig{Products: 3}, false},
		{"too many warehouses", ShopConfig{Warehouses: 1000}, false},
		{"start before 2000", ShopConfig{Start: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
	} {
		if err := c.cfg.Validate(); (err == nil) != c.ok {
			t.Errorf("%s: Validate() = %v, want ok %v", c.name, err, c.ok)
		}
	}
}

func TestShopEndsAfterDays(t *testing.T) {
	s := NewShop(ShopConfig{Days: 1, EventsPerSecond: 0.05, Products: 10, Customers: 10})
	n := 0
	for {
		if _, ok := s.Next(); !ok {
			break
		}
		n++
	}
	if _, ok := s.Next(); ok {
		t.Error("Next after the end returned an event")
	}
	if n == 0 {
		t.Error("no events in a day")
	}
}

func BenchmarkShopNext(b *testing.B) {
	s := NewShop(ShopConfig{Seed: 1, EventsPerSecond: 50})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, ok := s.Next(); !ok {
			b.Fatal("stream ended")
		}
	}
}

// TestShopSourceRun drives the shop through Run, as generate does: every
// event reaches the publisher, in event-time order.
func TestShopSourceRun(t *testing.T) {
	s := NewShop(ShopConfig{Seed: 5, EventsPerSecond: 10})
	var got []events.Event
	pub := PublisherFunc(func(_ context.Context, evs ...events.Event) error {
		got = append(got, evs...)
		return nil
	})
	st, err := Run(context.Background(), s.Source(), pub, RunConfig{Count: 3000})
	if err != nil {
		t.Fatal(err)
	}
	if st.Produced != 3000 || len(got) != 3000 {
		t.Fatalf("produced %d, published %d, want 3000", st.Produced, len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Head().EventTime.Before(got[i-1].Head().EventTime) {
			t.Fatalf("event %d goes back in time", i)
		}
	}
}
