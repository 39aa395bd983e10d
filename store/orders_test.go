package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

func order(id string, at time.Time, qty, price int64) events.OrderPlaced {
	return events.OrderPlaced{
		Header:  events.Header{EventID: "ev-" + id, Type: events.TypeOrderPlaced, SchemaVersion: 1, EventTime: at},
		OrderID: "o-" + id, CustomerID: "c-1", Country: "GB", Currency: "GBP", Channel: "web",
		Lines:      []events.OrderLine{{ProductID: "p-1", Quantity: qty, UnitPriceMinor: price}},
		TotalMinor: qty * price,
	}
}

type minuteRow struct {
	orders, units, revenue, late int64
}

func minutes(t *testing.T, db *store.DB) map[time.Time]minuteRow {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT minute, orders, units, revenue_minor, late_events FROM revenue_minute WHERE currency = 'GBP'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[time.Time]minuteRow{}
	for rows.Next() {
		var m time.Time
		var r minuteRow
		if err := rows.Scan(&m, &r.orders, &r.units, &r.revenue, &r.late); err != nil {
			t.Fatal(err)
		}
		out[m.UTC()] = r
	}
	return out
}

func TestCommitOrderBatch_StaleOwnerIsFencedAndChangesNothing(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	if err := s.DB.InitOffsets(ctx, "orders", 1); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 10, 0, 30, 0, time.UTC)
	// Two owners both read offset 0 and built a batch of the same messages.
	batch := func(owner string) store.OrderBatch {
		return store.OrderBatch{Topic: "orders", Partition: 0, Start: 0, End: 2, Owner: owner,
			Orders: []store.PositionedOrder{{Order: order("1", at, 2, 1050), Offset: 0}, {Order: order("2", at, 1, 99), Offset: 1}}}
	}
	if _, err := s.DB.CommitOrderBatch(ctx, batch("new-owner")); err != nil {
		t.Fatalf("first owner: %v", err)
	}
	before := minutes(t, s.DB)
	_, err := s.DB.CommitOrderBatch(ctx, batch("zombie"))
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("stale owner's commit: want ErrFenced, got %v", err)
	}
	after := minutes(t, s.DB)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("fenced commit changed revenue: before %v after %v", before, after)
	}
	want := minuteRow{orders: 2, units: 3, revenue: 2199}
	if got := after[at.Truncate(time.Minute)]; got != want {
		t.Fatalf("minute: want %+v, got %+v", want, got)
	}
	states, err := s.DB.Offsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if states[0].NextOffset != 2 {
		t.Fatalf("next offset: want 2, got %d", states[0].NextOffset)
	}
}

func TestCommitOrderBatch_RepeatedEventIDCountsOnce(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	if err := s.DB.InitOffsets(ctx, "orders", 1); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	o := order("dup", at, 1, 500)
	res, err := s.DB.CommitOrderBatch(ctx, store.OrderBatch{Topic: "orders", Start: 0, End: 2,
		Orders: []store.PositionedOrder{{Order: o, Offset: 0}, {Order: o, Offset: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	res2, err := s.DB.CommitOrderBatch(ctx, store.OrderBatch{Topic: "orders", Start: 2, End: 3,
		Orders: []store.PositionedOrder{{Order: o, Offset: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 1 || res.Duplicates != 1 || res2.Applied != 0 || res2.Duplicates != 1 {
		t.Fatalf("want 1 applied then duplicates, got %+v and %+v", res, res2)
	}
	if got := minutes(t, s.DB)[at]; got.orders != 1 || got.revenue != 500 {
		t.Fatalf("a repeated event id was counted twice: %+v", got)
	}
}

func TestCommitOrderBatch_LateEventGoesToItsOwnMinuteAndIsCounted(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	if err := s.DB.InitOffsets(ctx, "orders", 1); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 10, 0, 10, 0, time.UTC)
	t1 := t0.Add(5 * time.Minute)
	if _, err := s.DB.CommitOrderBatch(ctx, store.OrderBatch{Topic: "orders", Start: 0, End: 1,
		Orders: []store.PositionedOrder{{Order: order("a", t1, 1, 100), Offset: 0}}}); err != nil {
		t.Fatal(err)
	}
	res, err := s.DB.CommitOrderBatch(ctx, store.OrderBatch{Topic: "orders", Start: 1, End: 2,
		Orders: []store.PositionedOrder{{Order: order("b", t0, 1, 200), Offset: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Late != 1 || !res.Watermark.Equal(t1) {
		t.Fatalf("want 1 late event and the watermark kept at %s, got %+v", t1, res)
	}
	got := minutes(t, s.DB)[t0.Truncate(time.Minute)]
	if got != (minuteRow{orders: 1, units: 1, revenue: 200, late: 1}) {
		t.Fatalf("late minute: %+v", got)
	}
}

func TestCommitOrderBatch_OldEventCreatesItsDayPartition(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	if err := s.DB.InitOffsets(ctx, "orders", 1); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2010, 12, 1, 8, 26, 0, 0, time.UTC)
	dl := store.DeadLetter{Offset: 1, Reason: "invalid event: $: malformed", Payload: []byte("{")}
	if _, err := s.DB.CommitOrderBatch(ctx, store.OrderBatch{Topic: "orders", Start: 0, End: 2,
		Orders:      []store.PositionedOrder{{Order: order("old", at, 3, 255), Offset: 0}},
		DeadLetters: []store.DeadLetter{dl}}); err != nil {
		t.Fatal(err)
	}
	var part string
	if err := s.DB.Pool.QueryRow(ctx, `SELECT tableoid::regclass::text FROM orders WHERE event_id = 'ev-old'`).Scan(&part); err != nil {
		t.Fatal(err)
	}
	if part != s.Name+".orders_20101201" && part != "orders_20101201" {
		t.Fatalf("order stored in partition %q, want orders_20101201", part)
	}
	var reason string
	if err := s.DB.Pool.QueryRow(ctx, `SELECT reason FROM dead_letters WHERE kafka_offset = 1`).Scan(&reason); err != nil || reason != dl.Reason {
		t.Fatalf("dead letter: %q, %v", reason, err)
	}
}

func TestRollupRevenueHour_RunTwiceSameRows(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	if err := s.DB.InitOffsets(ctx, "orders", 1); err != nil {
		t.Fatal(err)
	}
	h := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	if _, err := s.DB.CommitOrderBatch(ctx, store.OrderBatch{Topic: "orders", Start: 0, End: 3, Orders: []store.PositionedOrder{
		{Order: order("1", h.Add(time.Minute), 1, 1000), Offset: 0},
		{Order: order("2", h.Add(59*time.Minute), 2, 250), Offset: 1},
		{Order: order("3", h.Add(61*time.Minute), 1, 7), Offset: 2}, // next hour
	}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		res, err := s.DB.RollupRevenueHour(ctx, store.RollupRequest{Hour: h.Add(30 * time.Minute), RunID: "run-1", Workflow: "test", Topic: "orders", Complete: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != 1 || res.Orders != 2 || res.RevenueMinor != 1500 {
			t.Fatalf("run %d: %+v", i, res)
		}
	}
	var n, lineage int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*), (SELECT count(*) FROM lineage WHERE run_id = 'run-1') FROM revenue_hourly`).Scan(&n, &lineage); err != nil {
		t.Fatal(err)
	}
	if n != 1 || lineage != 1 {
		t.Fatalf("want one hourly row and one lineage row, got %d and %d", n, lineage)
	}
}

func TestCommitOrderBatch_CancellationSubtractsInItsOwnMinuteOnce(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	if err := s.DB.InitOffsets(ctx, "orders", 1); err != nil {
		t.Fatal(err)
	}
	placed := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	cancelledAt := placed.Add(90 * time.Minute)
	cancel := events.OrderCancelled{
		Header:  events.Header{EventID: "cx-1", Type: events.TypeOrderCancelled, SchemaVersion: 1, EventTime: cancelledAt},
		OrderID: "o-1", CustomerID: "c-1", AmountMinor: 700, Currency: "GBP", Reason: "customer_request",
	}
	res, err := s.DB.CommitOrderBatch(ctx, store.OrderBatch{Topic: "orders", Start: 0, End: 3,
		Orders:        []store.PositionedOrder{{Order: order("1", placed, 1, 700), Offset: 0}},
		Cancellations: []store.PositionedCancellation{{Cancellation: cancel, Offset: 1}, {Cancellation: cancel, Offset: 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 2 || res.Duplicates != 1 {
		t.Fatalf("want the order and one cancellation applied, the repeat a duplicate: %+v", res)
	}
	var orders, revenue, cancels, cancelled int64
	err = s.DB.Pool.QueryRow(ctx, `SELECT sum(orders), sum(revenue_minor), sum(cancellations), sum(cancelled_minor) FROM revenue_minute`).Scan(&orders, &revenue, &cancels, &cancelled)
	if err != nil {
		t.Fatal(err)
	}
	if orders != 1 || revenue != 700 || cancels != 1 || cancelled != 700 {
		t.Fatalf("got orders %d revenue %d cancellations %d cancelled %d", orders, revenue, cancels, cancelled)
	}
	var at time.Time
	if err := s.DB.Pool.QueryRow(ctx, `SELECT minute FROM revenue_minute WHERE cancellations > 0`).Scan(&at); err != nil || !at.Equal(cancelledAt) {
		t.Fatalf("cancellation counted in minute %s (%v), want %s", at, err, cancelledAt)
	}
}
