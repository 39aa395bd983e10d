package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

var stockBase = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// move is movement n of the test sequence, at minute n after stockBase.
func move(n int, product, warehouse string, delta int64, reason string) events.InventoryAdjusted {
	return events.InventoryAdjusted{
		Header:    events.Header{EventID: fmt.Sprintf("mv-%d", n), Type: events.TypeInventoryAdjusted, SchemaVersion: 1, EventTime: stockBase.Add(time.Duration(n) * time.Minute)},
		ProductID: product, WarehouseID: warehouse, Delta: delta, Reason: reason,
	}
}

// stockSequence is a deterministic sequence of movements, with the stock each
// leaves written beside it. P2/W1 has reorder point 5; the others the default 10.
func stockSequence() []events.InventoryAdjusted {
	return []events.InventoryAdjusted{
		move(0, "P1", "W1", 20, "receipt"),    // P1/W1 20
		move(1, "P1", "W2", 8, "receipt"),     // P1/W2 8: low opens (alert 1)
		move(2, "P2", "W1", 12, "receipt"),    // P2/W1 12
		move(3, "P1", "W1", -7, "sale"),       // P1/W1 13
		move(4, "P1", "W1", -4, "sale"),       // P1/W1 9: low opens (alert 2)
		move(5, "P1", "W1", -9, "sale"),       // P1/W1 0: stockout opens (alert 3)
		move(6, "P1", "W1", 3, "return"),      // P1/W1 3: stockout 3 resolved
		move(7, "P1", "W1", 15, "receipt"),    // P1/W1 18: low 2 resolved
		move(8, "P1", "W1", -10, "sale"),      // P1/W1 8: low opens again (alert 4)
		move(10, "P1", "W1", -8, "shrinkage"), // P1/W1 0: stockout opens again (alert 5)
		move(11, "P2", "W1", -7, "sale"),      // P2/W1 5: low opens (alert 6)
		move(12, "P1", "W2", 5, "count"),      // P1/W2 13: low 1 resolved
		move(14, "P1", "W1", 30, "receipt"),   // P1/W1 30: low 4 and stockout 5 resolved
		move(15, "P2", "W1", -5, "sale"),      // P2/W1 0: stockout opens (alert 7)
	}
}

type wantAlert struct {
	typ, entity      string
	opened, resolved int // minutes after stockBase; resolved -1 while open
}

// stockAlertsWant are the alerts stockSequence raises, in the order raised.
var stockAlertsWant = []wantAlert{
	{store.AlertLowStock, "P1/W2", 1, 12},
	{store.AlertLowStock, "P1/W1", 4, 7},
	{store.AlertStockout, "P1/W1", 5, 6},
	{store.AlertLowStock, "P1/W1", 8, 14},
	{store.AlertStockout, "P1/W1", 10, 14},
	{store.AlertLowStock, "P2/W1", 11, -1},
	{store.AlertStockout, "P2/W1", 15, -1},
}

var stockWant = map[store.StockKey]int64{{"P1", "W1"}: 30, {"P1", "W2"}: 13, {"P2", "W1"}: 0}

func checkStock(t *testing.T, db *store.DB) {
	t.Helper()
	levels, err := db.StockLevels(testenv.Context(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got := map[store.StockKey]int64{}
	for _, l := range levels {
		got[l.StockKey] = l.OnHand
	}
	if fmt.Sprint(got) != fmt.Sprint(stockWant) {
		t.Fatalf("stock: want %v, got %v", stockWant, got)
	}
}

func checkStockAlerts(t *testing.T, db *store.DB) {
	t.Helper()
	alerts, err := db.Alerts(testenv.Context(t, time.Minute), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != len(stockAlertsWant) {
		for _, a := range alerts {
			t.Logf("alert %d %s %s opened %s resolved %s", a.ID, a.Type, a.Entity, a.OpenedAt, a.ResolvedAt)
		}
		t.Fatalf("want %d alerts, got %d", len(stockAlertsWant), len(alerts))
	}
	for i, w := range stockAlertsWant {
		a := alerts[i]
		wantResolved := time.Time{}
		if w.resolved >= 0 {
			wantResolved = stockBase.Add(time.Duration(w.resolved) * time.Minute)
		}
		if a.Type != w.typ || a.Entity != w.entity || !a.OpenedAt.Equal(stockBase.Add(time.Duration(w.opened)*time.Minute)) || !a.ResolvedAt.Equal(wantResolved) {
			t.Errorf("alert %d: want %+v, got %s %s opened %s resolved %s", i+1, w, a.Type, a.Entity, a.OpenedAt, a.ResolvedAt)
		}
		wantSeverity := store.SeverityWarning
		if w.typ == store.AlertStockout {
			wantSeverity = store.SeverityCritical
		}
		if a.Severity != wantSeverity || a.DedupKey != w.typ+":"+w.entity {
			t.Errorf("alert %d: severity %q dedup key %q", i+1, a.Severity, a.DedupKey)
		}
	}
}

func inventoryBatch(topic, owner string, start int64, moves []events.InventoryAdjusted, offsets []int64, end int64) store.InventoryBatch {
	b := store.InventoryBatch{
		BatchMeta:           store.BatchMeta{Topic: topic, Partition: 0, Start: start, End: end, Owner: owner},
		DefaultReorderPoint: 10,
	}
	for i, m := range moves {
		b.Movements = append(b.Movements, store.PositionedMovement{Movement: m, Offset: offsets[i]})
	}
	return b
}

func TestCommitInventoryBatch_StockAndOneAlertPerCrossing(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	const topic = "inventory"
	if err := s.DB.InitOffsets(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DB.SetReorderPoint(ctx, store.StockKey{ProductID: "P2", WarehouseID: "W1"}, 5); err != nil {
		t.Fatal(err)
	}
	seq := stockSequence()
	// Batch 1: several crossings of P1/W1 in one batch, and a repeat of
	// movement 3 (a producer retry) at offset 9.
	b1 := append(seq[:9:9], seq[3])
	// Batch 2: P1/W1 down to 0 again, P2/W1 to its reorder point, P1/W2 up;
	// a repeat of the batch's first movement. Batch 3: recovery.
	b2 := append(seq[9:12:12], seq[9])
	b3 := seq[12:]
	batches := []store.InventoryBatch{
		inventoryBatch(topic, "a", 0, b1, []int64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10),
		inventoryBatch(topic, "a", 10, b2, []int64{10, 11, 12, 13}, 15), // offset 14 was a dead letter
		inventoryBatch(topic, "b", 15, b3, []int64{15, 16}, 17),
	}
	batches[1].DeadLetters = []store.DeadLetter{{Offset: 14, Reason: "bad", Payload: []byte("x")}}
	wantRes := []store.BatchResult{
		{Applied: 9, Duplicates: 1, Watermark: stockBase.Add(8 * time.Minute)},
		{Applied: 3, Duplicates: 1, DeadLetters: 1, Watermark: stockBase.Add(12 * time.Minute)},
		{Applied: 2, Watermark: stockBase.Add(15 * time.Minute)},
	}
	for i, b := range batches {
		res, err := s.DB.CommitInventoryBatch(ctx, b)
		if err != nil {
			t.Fatalf("batch %d: %v", i+1, err)
		}
		if !res.Watermark.Equal(wantRes[i].Watermark) {
			t.Fatalf("batch %d: watermark %s, want %s", i+1, res.Watermark, wantRes[i].Watermark)
		}
		res.Watermark = wantRes[i].Watermark
		if res != wantRes[i] {
			t.Fatalf("batch %d: result %+v, want %+v", i+1, res, wantRes[i])
		}
	}
	checkStock(t, s.DB)
	checkStockAlerts(t, s.DB)

	var moves int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM inventory_movements`).Scan(&moves); err != nil || moves != len(seq) {
		t.Fatalf("want %d movements stored, got %d (%v)", len(seq), moves, err)
	}
	// The dead-lettered batch 2 and the replay of batch 1 by a stale owner
	// change nothing.
	_, err := s.DB.CommitInventoryBatch(ctx, batches[1])
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("stale owner's batch: want ErrFenced, got %v", err)
	}
	checkStock(t, s.DB)
	checkStockAlerts(t, s.DB)
	states, err := s.DB.Offsets(ctx, topic)
	if err != nil || states[0].NextOffset != 17 || !states[0].Watermark.Equal(stockBase.Add(15*time.Minute)) {
		t.Fatalf("offsets %+v (%v), want next 17 and watermark at minute 15", states, err)
	}
}

func TestCommitInventoryBatch_OneMovementPerBatchGivesTheSameAlerts(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	const topic = "inventory"
	if err := s.DB.InitOffsets(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.DB.SetReorderPoint(ctx, store.StockKey{ProductID: "P2", WarehouseID: "W1"}, 5); err != nil {
		t.Fatal(err)
	}
	for i, m := range stockSequence() {
		b := inventoryBatch(topic, "a", int64(i), []events.InventoryAdjusted{m}, []int64{int64(i)}, int64(i+1))
		if _, err := s.DB.CommitInventoryBatch(ctx, b); err != nil {
			t.Fatalf("movement %d: %v", i, err)
		}
	}
	checkStock(t, s.DB)
	checkStockAlerts(t, s.DB)
}

func TestCommitInventoryBatch_StaleOwnerIsFencedAndChangesNothing(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	const topic = "inventory"
	if err := s.DB.InitOffsets(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	// Two owners both read offset 0 and built a batch that takes P1/W1 to 0.
	batch := func(owner string) store.InventoryBatch {
		return inventoryBatch(topic, owner, 0, []events.InventoryAdjusted{
			move(0, "P1", "W1", 5, "receipt"), move(1, "P1", "W1", -5, "sale"),
		}, []int64{0, 1}, 2)
	}
	if _, err := s.DB.CommitInventoryBatch(ctx, batch("new-owner")); err != nil {
		t.Fatal(err)
	}
	b := batch("zombie")
	b.Movements[0].Movement.EventID = "other" // even new events are refused
	if _, err := s.DB.CommitInventoryBatch(ctx, b); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("want ErrFenced, got %v", err)
	}
	var onHand, alerts, moves int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT on_hand FROM stock_levels), (SELECT count(*) FROM alerts), (SELECT count(*) FROM inventory_movements)`).Scan(&onHand, &alerts, &moves); err != nil {
		t.Fatal(err)
	}
	if onHand != 0 || alerts != 2 || moves != 2 {
		t.Fatalf("after the fenced batch: on hand %d, %d alerts, %d movements; want 0, 2 (low stock and stockout), 2", onHand, alerts, moves)
	}
	// A batch for a partition with no offset row is fenced too.
	b.Partition = 7
	if _, err := s.DB.CommitInventoryBatch(ctx, b); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("unknown partition: want ErrFenced, got %v", err)
	}
}
