package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

func dimFigures(t *testing.T, db *store.DB) string {
	t.Helper()
	rows, err := db.Pool.Query(testenv.Context(t, time.Minute), `
		SELECT minute, dimension, value, currency, orders, units, revenue_minor, coalesce(avg_order_minor::text, '')
		  FROM revenue_minute_dim_aov ORDER BY minute, dimension, value, currency`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out string
	for rows.Next() {
		var m time.Time
		var dim, value, cur, aov string
		var orders, units, revenue int64
		if err := rows.Scan(&m, &dim, &value, &cur, &orders, &units, &revenue, &aov); err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("%s %s %s %s orders=%d units=%d revenue=%d aov=%s\n", m.UTC().Format("15:04"), dim, value, cur, orders, units, revenue, aov)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCommitOrderBatch_RevenueByDimensionExactWithARetryAndAMultiCategoryOrder(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	if err := s.DB.InitOffsets(ctx, "orders", 1); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 10, 0, 10, 0, time.UTC)
	mk := func(id string, sec int, country, channel string, total int64, lines ...events.OrderLine) events.OrderPlaced {
		return events.OrderPlaced{
			Header:  events.Header{EventID: "ev-" + id, Type: events.TypeOrderPlaced, SchemaVersion: 1, EventTime: at.Add(time.Duration(sec) * time.Second)},
			OrderID: "o-" + id, CustomerID: "c-1", Country: country, Currency: "GBP", Channel: channel,
			Lines: lines, TotalMinor: total,
		}
	}
	// o-1: two categories, and two lines of the shoes category (one order
	// for it); its total includes 100 of shipping on top of its lines' 2600.
	o1 := mk("1", 0, "GB", "web", 2700,
		events.OrderLine{ProductID: "p-shoe", Category: "shoes", Quantity: 2, UnitPriceMinor: 1000},
		events.OrderLine{ProductID: "p-sock", Category: "shoes", Quantity: 1, UnitPriceMinor: 100},
		events.OrderLine{ProductID: "p-hat", Category: "hats", Quantity: 1, UnitPriceMinor: 500})
	o2 := mk("2", 5, "FR", "app", 1000,
		events.OrderLine{ProductID: "p-shoe", Category: "shoes", Quantity: 1, UnitPriceMinor: 1000})
	// o-3 is in the next minute.
	o3 := mk("3", 60, "GB", "app", 1500,
		events.OrderLine{ProductID: "p-hat", Category: "hats", Quantity: 3, UnitPriceMinor: 500})
	_, err := s.DB.CommitOrderBatch(ctx, store.OrderBatch{Topic: "orders", Start: 0, End: 4, Orders: []store.PositionedOrder{
		{Order: o1, Offset: 0}, {Order: o2, Offset: 1}, {Order: o1, Offset: 2}, {Order: o3, Offset: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	// A later retry of o-2 changes nothing.
	if _, err := s.DB.CommitOrderBatch(ctx, store.OrderBatch{Topic: "orders", Start: 4, End: 5,
		Orders: []store.PositionedOrder{{Order: o2, Offset: 4}}}); err != nil {
		t.Fatal(err)
	}
	want := `10:00 category hats GBP orders=1 units=1 revenue=500 aov=500.0000000000000000
10:00 category shoes GBP orders=2 units=4 revenue=3100 aov=1550.0000000000000000
10:00 channel app GBP orders=1 units=1 revenue=1000 aov=1000.0000000000000000
10:00 channel web GBP orders=1 units=4 revenue=2700 aov=2700.0000000000000000
10:00 country FR GBP orders=1 units=1 revenue=1000 aov=1000.0000000000000000
10:00 country GB GBP orders=1 units=4 revenue=2700 aov=2700.0000000000000000
10:00 product p-hat GBP orders=1 units=1 revenue=500 aov=500.0000000000000000
10:00 product p-shoe GBP orders=2 units=3 revenue=3000 aov=1500.0000000000000000
10:00 product p-sock GBP orders=1 units=1 revenue=100 aov=100.0000000000000000
10:01 category hats GBP orders=1 units=3 revenue=1500 aov=1500.0000000000000000
10:01 channel app GBP orders=1 units=3 revenue=1500 aov=1500.0000000000000000
10:01 country GB GBP orders=1 units=3 revenue=1500 aov=1500.0000000000000000
10:01 product p-hat GBP orders=1 units=3 revenue=1500 aov=1500.0000000000000000
`
	if got := dimFigures(t, s.DB); got != want {
		t.Fatalf("revenue by dimension:\nwant\n%s\ngot\n%s", want, got)
	}
}
