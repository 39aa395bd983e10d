package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// feed commits movements through the hot path's inventory batch, one batch
// per call, on partition 0 of topic "inventory".
type feed struct {
	t    *testing.T
	db   *store.DB
	next int64
}

func newFeed(t *testing.T, db *store.DB) *feed {
	if err := db.InitOffsets(context.Background(), "inventory", 1); err != nil {
		t.Fatal(err)
	}
	return &feed{t: t, db: db}
}

func (f *feed) commit(moves ...events.InventoryAdjusted) {
	f.t.Helper()
	offsets := make([]int64, len(moves))
	for i := range moves {
		offsets[i] = f.next + int64(i)
	}
	if _, err := f.db.CommitInventoryBatch(context.Background(), inventoryBatch("inventory", "owner", f.next, moves, offsets, f.next+int64(len(moves)))); err != nil {
		f.t.Fatal(err)
	}
	f.next += int64(len(moves))
}

func mv(id string, at time.Time, product, wh string, delta int64, reason string) events.InventoryAdjusted {
	m := events.InventoryAdjusted{
		Header:    events.Header{EventID: id, Type: events.TypeInventoryAdjusted, SchemaVersion: 1, EventTime: at},
		ProductID: product, WarehouseID: wh, Delta: delta, Reason: reason,
	}
	if reason == "receipt" {
		m.SupplierID, m.LeadTimeDays, m.UnitCostMinor, m.Currency = "sup-9", 4, 250, "GBP"
	}
	return m
}

func TestDailySalesAndReplenishmentState(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	f := newFeed(t, s.DB)
	d0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	k := store.StockKey{ProductID: "P", WarehouseID: "W"}
	f.commit(
		mv("r1", d0.Add(-24*time.Hour), "P", "W", 100, "receipt"),
		mv("s1", d0.Add(10*time.Hour), "P", "W", -3, "sale"),
		mv("s2", d0.Add(23*time.Hour), "P", "W", -2, "sale"),
		mv("s3", d0.Add(48*time.Hour+time.Hour), "P", "W", -4, "sale"), // day 2; day 1 has none
		mv("x1", d0.Add(48*time.Hour+2*time.Hour), "P", "W", -1, "shrinkage"),
		mv("o1", d0.Add(50*time.Hour), "P", "W2", -7, "sale"), // another warehouse
	)
	got, err := s.DB.DailySales(ctx, k, d0, d0.AddDate(0, 0, 4))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[5 0 4 0]" {
		t.Fatalf("daily sales %v, want [5 0 4 0]", got)
	}
	st, err := s.DB.ReplenishmentState(ctx, k, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if st.OnHand != 90 || !st.Supply.Known || st.Supply.LeadTimeDays != 4 || st.Supply.UnitCostMinor != 250 || len(st.Open) != 0 || st.Pending != nil {
		t.Fatalf("state %+v", st)
	}
}

func TestPurchaseOrder_LifecycleIsIdempotentAndClaimsOneReceipt(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	f := newFeed(t, s.DB)
	now := time.Now().UTC()
	k := store.StockKey{ProductID: "P", WarehouseID: "W"}
	// A receipt before the order is drafted is not its receipt.
	f.commit(mv("old-receipt", now.Add(-time.Hour), "P", "W", 10, "receipt"))

	po := store.PurchaseOrder{ID: "po-1", ProductID: "P", WarehouseID: "W", SupplierID: "sup-9", Quantity: 40,
		UnitCostMinor: 250, Currency: "GBP", LeadTimeDays: 4, Plan: json.RawMessage(`{"reorder_point": 12}`),
		WorkflowID: "wf", RunID: "run-1", ApprovalDeadline: now.Add(48 * time.Hour)}
	lin := func() store.Lineage {
		return store.Lineage{RunID: "run-1", Workflow: "ReplenishProduct", Step: "draft:po-1", Started: now,
			Inputs: map[string]any{"k": "v"}, Outputs: map[string]any{}}
	}
	a, err := s.DB.DraftPurchaseOrder(ctx, po, true, lin())
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.DB.DraftPurchaseOrder(ctx, po, false, lin()) // a retry: changes nothing
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != store.POAwaitingApproval || b.Status != store.POAwaitingApproval || a.ValueMinor != 10000 {
		t.Fatalf("drafts %+v / %+v", a, b)
	}
	var n, lineage int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM purchase_orders), (SELECT count(*) FROM lineage WHERE step = 'draft:po-1')`).Scan(&n, &lineage); err != nil || n != 1 || lineage != 1 {
		t.Fatalf("rows %d, lineage %d, %v", n, lineage, err)
	}
	st, err := s.DB.ReplenishmentState(ctx, k, now, time.Hour)
	if err != nil || st.Pending == nil || st.Pending.ID != "po-1" {
		t.Fatalf("pending: %+v %v", st.Pending, err)
	}

	if _, err := s.DB.SendPurchaseOrder(ctx, "po-1"); !errors.Is(err, store.ErrPOState) {
		t.Fatalf("sending before approval: want ErrPOState, got %v", err)
	}
	ap, err := s.DB.DecidePurchaseOrder(ctx, "po-1", true, "ana", "ok", 50)
	if err != nil || ap.Status != store.POApproved || ap.Quantity != 50 || ap.ValueMinor != 12500 || ap.DecidedBy != "ana" {
		t.Fatalf("approve: %+v %v", ap, err)
	}
	if _, err := s.DB.DecidePurchaseOrder(ctx, "po-1", true, "ana", "ok", 50); err != nil {
		t.Fatalf("the same approval again: %v", err)
	}
	if _, err := s.DB.DecidePurchaseOrder(ctx, "po-1", false, "bo", "no", 0); !errors.Is(err, store.ErrPOState) {
		t.Fatalf("rejecting an approved order: want ErrPOState, got %v", err)
	}
	if ex, err := s.DB.ExpirePurchaseOrder(ctx, "po-1"); err != nil || ex.Status != store.POApproved {
		t.Fatalf("expiring an approved order changes nothing: %+v %v", ex, err)
	}

	sent, err := s.DB.SendPurchaseOrder(ctx, "po-1")
	if err != nil || sent.Status != store.POSent || sent.DueAt.Sub(sent.SentAt) != 4*24*time.Hour {
		t.Fatalf("send: %+v %v", sent, err)
	}
	if again, err := s.DB.SendPurchaseOrder(ctx, "po-1"); err != nil || !again.SentAt.Equal(sent.SentAt) {
		t.Fatalf("send again: %+v %v", again, err)
	}
	st, err = s.DB.ReplenishmentState(ctx, k, now, time.Hour)
	if err != nil || len(st.Open) != 1 || st.Open[0].Quantity != 50 {
		t.Fatalf("open orders: %+v %v", st.Open, err)
	}
	if _, ok, err := s.DB.ReceivePurchaseOrder(ctx, "po-1"); err != nil || ok {
		t.Fatalf("no receipt yet: %v %v", ok, err)
	}

	late, err := s.DB.MarkPurchaseOrderLate(ctx, "po-1", now)
	if err != nil || late.Status != store.POLate {
		t.Fatalf("late: %+v %v", late, err)
	}
	if _, err := s.DB.MarkPurchaseOrderLate(ctx, "po-1", now); err != nil {
		t.Fatal(err)
	}
	alerts, err := s.DB.Alerts(ctx, store.AlertFilter{Type: store.AlertSupplierLate})
	if err != nil || len(alerts) != 1 || alerts[0].Entity != "P/W" || !alerts[0].ResolvedAt.IsZero() {
		t.Fatalf("one open supplier_late alert: %+v %v", alerts, err)
	}

	// The goods arrive (stored by the hot path before anyone looks).
	f.commit(mv("receipt-1", time.Now().UTC(), "P", "W", 50, "receipt"))
	got, ok, err := s.DB.ReceivePurchaseOrder(ctx, "po-1")
	if err != nil || !ok || got.Status != store.POReceived || got.ReceiptEventID != "receipt-1" || got.ReceivedQuantity != 50 {
		t.Fatalf("receive: %+v %v %v", got, ok, err)
	}
	if _, ok, err := s.DB.ReceivePurchaseOrder(ctx, "po-1"); err != nil || !ok {
		t.Fatalf("receive again: %v %v", ok, err)
	}
	alerts, _ = s.DB.Alerts(ctx, store.AlertFilter{Type: store.AlertSupplierLate})
	if len(alerts) != 1 || alerts[0].ResolvedAt.IsZero() {
		t.Fatalf("the alert resolves on receipt: %+v", alerts)
	}

	// A second order cannot claim the same receipt.
	po2 := po
	po2.ID = "po-2"
	if _, err := s.DB.DraftPurchaseOrder(ctx, po2, false, store.Lineage{RunID: "run-1", Step: "draft:po-2", Started: now, Inputs: map[string]any{}, Outputs: map[string]any{}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.SendPurchaseOrder(ctx, "po-2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.DB.ReceivePurchaseOrder(ctx, "po-2"); err != nil || ok {
		t.Fatalf("po-2 must not take po-1's receipt: %v %v", ok, err)
	}
}

func TestPurchaseOrder_RejectAndExpire(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	for _, id := range []string{"po-r", "po-e"} {
		if _, err := s.DB.DraftPurchaseOrder(ctx, store.PurchaseOrder{ID: id, ProductID: "P", WarehouseID: "W", Quantity: 5, UnitCostMinor: 1},
			true, store.Lineage{RunID: "r", Step: id, Started: time.Now(), Inputs: map[string]any{}, Outputs: map[string]any{}}); err != nil {
			t.Fatal(err)
		}
	}
	if p, err := s.DB.DecidePurchaseOrder(ctx, "po-r", false, "bo", "too many", 0); err != nil || p.Status != store.PORejected {
		t.Fatalf("reject: %+v %v", p, err)
	}
	if p, err := s.DB.ExpirePurchaseOrder(ctx, "po-e"); err != nil || p.Status != store.POExpired {
		t.Fatalf("expire: %+v %v", p, err)
	}
	if _, err := s.DB.DecidePurchaseOrder(ctx, "po-e", true, "ana", "", 0); !errors.Is(err, store.ErrPOState) {
		t.Fatalf("approving an expired order: want ErrPOState, got %v", err)
	}
	if _, err := s.DB.DecidePurchaseOrder(ctx, "po-none", true, "ana", "", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown order: want ErrNotFound, got %v", err)
	}
}
