package ingest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

var simStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// simulate returns n orders, one a second from simStart.
func simulate(cfg SimConfig, n int) []events.OrderPlaced {
	s := NewSimulator(cfg)
	out := make([]events.OrderPlaced, n)
	for i := range out {
		out[i] = s.Next(simStart.Add(time.Duration(i) * time.Second))
	}
	return out
}

func TestSimulator_SameSeedSameEvents(t *testing.T) {
	cfg := SimConfig{Seed: 42, Customers: 500, Products: 100}
	a, b := simulate(cfg, 2000), simulate(cfg, 2000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two simulators with the same seed diverged")
	}
	c := simulate(SimConfig{Seed: 43, Customers: 500, Products: 100}, 2000)
	for i := range a {
		if a[i].EventID == c[i].EventID || a[i].OrderID == c[i].OrderID || a[i].CustomerID == c[i].CustomerID {
			t.Fatalf("event %d: seeds 42 and 43 share an id: %s %s %s", i, a[i].EventID, a[i].OrderID, a[i].CustomerID)
		}
	}
}

// TestSimulator_GoldenFirstEvent pins the stream, so a change that shifts
// every seed's events is a deliberate one.
func TestSimulator_GoldenFirstEvent(t *testing.T) {
	o := simulate(SimConfig{Seed: 1}, 1)[0]
	b, err := o.Encode()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"id":"e220a839-7b1d-8daf-88b4-fda8c892b50e","type":"order_placed","source":"","time":"2026-03-02T09:00:00Z",` +
		`"schema_version":1,"shop_id":"","seq":1,"data":{"order_id":"ord-910a2dec-0000000001","customer_id":"cust-910a2dec-0000274",` +
		`"country":"NL","currency":"GBP","channel":"app","lines":[` +
		`{"product_id":"sku-910a2dec-000021","category":"jewellery","quantity":1,"unit_price_minor":2495},` +
		`{"product_id":"sku-910a2dec-000083","category":"stationery","quantity":1,"unit_price_minor":69}],` +
		`"total_minor":2564}}`
	if string(b) != want {
		t.Errorf("first event of seed 1:\n%s\nwant\n%s", b, want)
	}
}

func TestSimulator_EveryEventIsValid(t *testing.T) {
	tests := []struct {
		name string
		cfg  SimConfig
	}{
		{"defaults", SimConfig{Seed: 1}},
		{"one customer, one product", SimConfig{Seed: 2, Customers: 1, Products: 1}},
		{"tiny catalogue", SimConfig{Seed: 3, Customers: 50, Products: 3}},
		{"negative seed", SimConfig{Seed: -7, Customers: 100, Products: 1000}},
		{"big shop", SimConfig{Seed: 4, Customers: 100_000, Products: 20_000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orders := simulate(tt.cfg, 5000)
			eventIDs, orderIDs := map[string]bool{}, map[string]bool{}
			for i, o := range orders {
				if err := o.Validate(o.EventTime); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if _, err := events.DecodeOrder(mustEncode(t, o), o.EventTime); err != nil {
					t.Fatalf("event %d does not survive encode/decode: %v", i, err)
				}
				if eventIDs[o.EventID] || orderIDs[o.OrderID] {
					t.Fatalf("event %d: duplicate id %s / %s", i, o.EventID, o.OrderID)
				}
				eventIDs[o.EventID], orderIDs[o.OrderID] = true, true
				if o.Type != events.TypeOrderPlaced || o.SchemaVersion != 1 || o.Currency != "GBP" {
					t.Fatalf("event %d: type %s v%d %s", i, o.Type, o.SchemaVersion, o.Currency)
				}
				products := map[string]bool{}
				for _, l := range o.Lines {
					if products[l.ProductID] {
						t.Fatalf("event %d: product %s on two lines", i, l.ProductID)
					}
					products[l.ProductID] = true
				}
			}
		})
	}
}

func mustEncode(t testing.TB, o events.OrderPlaced) []byte {
	t.Helper()
	b, err := o.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSimulator_SeqPerCustomerFromOne(t *testing.T) {
	last := map[string]int64{}
	for _, o := range simulate(SimConfig{Seed: 9, Customers: 300}, 10_000) {
		if o.Seq != last[o.CustomerID]+1 {
			t.Fatalf("customer %s: seq %d after %d", o.CustomerID, o.Seq, last[o.CustomerID])
		}
		last[o.CustomerID] = o.Seq
	}
}

func TestSimulator_EventTime(t *testing.T) {
	s := NewSimulator(SimConfig{Seed: 1})
	in := time.Date(2026, 3, 2, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	got := s.Next(in).EventTime
	if want := time.Date(2026, 3, 2, 9, 0, 0, 123456000, time.UTC); got != want {
		t.Errorf("event time %v, want %v (UTC, microseconds)", got, want)
	}
	// A monotonic reading is dropped, so the time round-trips exactly.
	if got := s.Next(time.Now()).EventTime; got != got.Round(0) {
		t.Errorf("event time kept a monotonic reading: %v", got)
	}
}

// TestSimulator_ShopLooksReal checks the shape of the data, loosely: these
// are properties of the model, not tuned numbers.
func TestSimulator_ShopLooksReal(t *testing.T) {
	const n = 50_000
	cfg := SimConfig{Seed: 5, Customers: 2000, Products: 300}
	sim := NewSimulator(cfg)
	segOf := map[string]segment{}
	for _, c := range sim.customers {
		segOf[c.id] = c.segment
	}
	var (
		countries = map[string]int{}
		channels  = map[string]int{}
		units     = map[string]int64{}
		segOrders = map[segment]int{}
		segValue  = map[segment]int64{}
		segCusts  = map[segment]map[string]bool{}
		lines     int
	)
	for i := range n {
		o := sim.Next(simStart.Add(time.Duration(i) * time.Second))
		countries[o.Country]++
		channels[o.Channel]++
		s := segOf[o.CustomerID]
		segOrders[s]++
		segValue[s] += o.TotalMinor
		if segCusts[s] == nil {
			segCusts[s] = map[string]bool{}
		}
		segCusts[s][o.CustomerID] = true
		lines += len(o.Lines)
		for _, l := range o.Lines {
			units[l.ProductID] += l.Quantity
		}
	}
	if share := float64(countries["GB"]) / n; share < 0.5 || share > 0.9 {
		t.Errorf("GB share %.2f, want most but not all orders", share)
	}
	if countries["US"] == 0 || countries["DE"] == 0 || countries["IE"] == 0 {
		t.Errorf("countries %v, want some US and EU", countries)
	}
	for ch := range channels {
		if !slices.Contains(events.Channels, ch) {
			t.Errorf("channel %q is not in events.Channels", ch)
		}
	}
	if len(channels) != len(events.Channels) {
		t.Errorf("channels %v, want all of %v", channels, events.Channels)
	}
	// Long tail: the top 10% of products sell far more than their share.
	var all []int64
	var total int64
	for _, u := range units {
		all = append(all, u)
		total += u
	}
	slices.Sort(all)
	slices.Reverse(all)
	var top int64
	for _, u := range all[:len(all)/10] {
		top += u
	}
	if share := float64(top) / float64(total); share < 0.25 {
		t.Errorf("top 10%% of products sell %.2f of units, want a long tail (> 0.25)", share)
	}
	aov := func(s segment) float64 { return float64(segValue[s]) / float64(segOrders[s]) }
	perCustomer := func(s segment) float64 { return float64(segOrders[s]) / float64(len(segCusts[s])) }
	if !(aov(bigSpender) > 3*aov(occasional)) {
		t.Errorf("big spenders' average order %.0f, occasional %.0f: want much bigger", aov(bigSpender), aov(occasional))
	}
	if !(perCustomer(loyal) > 3*perCustomer(occasional)) {
		t.Errorf("loyal orders per customer %.1f, occasional %.1f: want many more", perCustomer(loyal), perCustomer(occasional))
	}
	if avg := float64(lines) / n; avg < 1.5 || avg > 10 {
		t.Errorf("average lines per order %.1f", avg)
	}
}

func TestSimConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  SimConfig
		ok   bool
	}{
		{"zero takes defaults", SimConfig{}, true},
		{"negative customers", SimConfig{Customers: -1}, false},
		{"negative products", SimConfig{Products: -5}, false},
		{"too many products", SimConfig{Products: MaxSimProducts + 1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
	defer func() {
		if recover() == nil {
			t.Error("NewSimulator accepted an invalid config")
		}
	}()
	NewSimulator(SimConfig{Customers: -1})
}

func BenchmarkSimulatorNext(b *testing.B) {
	s := NewSimulator(SimConfig{Seed: 1, Customers: 100_000, Products: 10_000})
	b.ReportAllocs()
	for b.Loop() {
		s.Next(simStart)
	}
}
