package streaming_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

func movement(base time.Time, n int, product string, delta int64, reason string) *events.InventoryAdjusted {
	return &events.InventoryAdjusted{
		Header:    events.Header{EventID: fmt.Sprintf("mv-%d", n), Type: events.TypeInventoryAdjusted, SchemaVersion: 1, EventTime: base.Add(time.Duration(n) * time.Minute)},
		ProductID: product, WarehouseID: "W1", Delta: delta, Reason: reason,
	}
}

func produceEvents(t *testing.T, ctx context.Context, p *ingest.Producer, evs ...events.Event) {
	t.Helper()
	for _, ev := range evs {
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceRaw(ctx, ev.Key(), b); err != nil {
			t.Fatal(err)
		}
	}
}

// consumeInventory runs an inventory consumer until it has consumed the topic.
func consumeInventory(t *testing.T, ctx context.Context, db *store.DB, cfg streaming.Config) {
	t.Helper()
	consumeWith(t, ctx, db, cfg, streaming.InventorySink{DB: db, DefaultReorderPoint: 10})
}

func TestInventoryConsumer_StockAndAlertsAcrossBatchesAndARestart(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	topic := testenv.Topic(t, brokers, 1)
	dlq := testenv.Topic(t, brokers, 1)
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()
	sim := ingest.NewSimulator(ingest.SimConfig{Seed: 7, Customers: 5, Products: 5})
	order := sim.Next(base)

	e1 := movement(base, 1, "P1", -3, "sale")
	produceEvents(t, ctx, p,
		movement(base, 0, "P1", 12, "receipt"), // 12
		e1,                                     // 9: low stock opens (alert 1)
		movement(base, 2, "P1", -9, "sale"),    // 0: stockout opens (alert 2)
		e1,                                     // a producer retry: counted once
		movement(base, 4, "P1", 2, "return"),   // 2: stockout resolved
		&order,                                 // an order on the inventory topic: a dead letter
	)
	if err := p.ProduceRaw(ctx, []byte("P1"), []byte(`{"type":"inventory_adjusted"`)); err != nil {
		t.Fatal(err)
	}
	cfg := streaming.Config{
		Brokers: brokers, Topic: topic, DLQTopic: dlq, Partitions: []int{0},
		BatchSize: 3, BatchWait: 50 * time.Millisecond, IdleCheck: 50 * time.Millisecond, Owner: "first",
	}
	consumeInventory(t, ctx, s.DB, cfg)

	// A new owner starts from what Postgres holds.
	produceEvents(t, ctx, p,
		movement(base, 5, "P1", 20, "receipt"),   // 22: low stock resolved
		movement(base, 6, "P1", -13, "sale"),     // 9: low stock opens (alert 3)
		movement(base, 7, "P1", -9, "shrinkage"), // 0: stockout opens (alert 4)
		movement(base, 8, "P1", 40, "receipt"),   // 40: alerts 3 and 4 resolved
		movement(base, 9, "P2", 3, "receipt"),    // P2 3: low stock opens (alert 5)
	)
	cfg.Owner, cfg.BatchSize = "second", 100
	consumeInventory(t, ctx, s.DB, cfg)

	levels, err := s.DB.StockLevels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range levels {
		got = append(got, fmt.Sprintf("%s=%d", l.StockKey, l.OnHand))
	}
	if want := "[P1/W1=40 P2/W1=3]"; fmt.Sprint(got) != want {
		t.Fatalf("stock: want %s, got %v", want, got)
	}
	alerts, err := s.DB.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		typ, entity      string
		opened, resolved int
	}
	want := []row{
		{store.AlertLowStock, "P1/W1", 1, 5},
		{store.AlertStockout, "P1/W1", 2, 4},
		{store.AlertLowStock, "P1/W1", 6, 8},
		{store.AlertStockout, "P1/W1", 7, 8},
		{store.AlertLowStock, "P2/W1", 9, -1},
	}
	if len(alerts) != len(want) {
		t.Fatalf("want %d alerts, got %d: %+v", len(want), len(alerts), alerts)
	}
	minute := func(at time.Time) int {
		if at.IsZero() {
			return -1
		}
		return int(at.Sub(base) / time.Minute)
	}
	for i, a := range alerts {
		if got := (row{a.Type, a.Entity, minute(a.OpenedAt), minute(a.ResolvedAt)}); got != want[i] {
			t.Errorf("alert %d: want %+v, got %+v", i+1, want[i], got)
		}
	}
	var moves, dead int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM inventory_movements), (SELECT count(*) FROM dead_letters)`).Scan(&moves, &dead); err != nil {
		t.Fatal(err)
	}
	if moves != 9 || dead != 2 {
		t.Fatalf("want 9 movements and 2 dead letters, got %d and %d", moves, dead)
	}
}

func TestInventoryConsumer_StopsWhenAnotherOwnerMovesItsPartition(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	base := time.Now().UTC().Add(-time.Hour)
	runStaleOwner(t, ctx, s.DB, brokers, streaming.InventorySink{DB: s.DB, DefaultReorderPoint: 10},
		movement(base, 0, "P1", 5, "receipt"), movement(base, 1, "P1", -5, "sale"))
	var moves, stock, alerts int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM inventory_movements), (SELECT count(*) FROM stock_levels), (SELECT count(*) FROM alerts)`).Scan(&moves, &stock, &alerts); err != nil {
		t.Fatal(err)
	}
	if moves+stock+alerts != 0 {
		t.Fatalf("the stale owner stored %d movements, %d stock levels, %d alerts", moves, stock, alerts)
	}
}
