package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"golang.org/x/sync/errgroup"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/workers"
	"github.com/shoppulse/shoppulse/workflows"
)

// replenHarness is an in-process worker with the replenishment and pricing
// workflows on a fresh task queue of the dev server, over a fresh schema.
type replenHarness struct {
	t      *testing.T
	s      testenv.Schema
	c      client.Client
	queue  string
	offset int64
}

func newReplenHarness(t *testing.T) *replenHarness {
	addr := testenv.TemporalAddress(t)
	s := testenv.DB(t)
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	c, err := client.Dial(client.Options{HostPort: addr, Logger: log.NewStructuredLogger(quiet)})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(c.Close)
	h := &replenHarness{t: t, s: s, c: c, queue: testenv.Name("e2e-replen")}
	w := worker.New(c, h.queue, worker.Options{MaxConcurrentActivityExecutionSize: 64, MaxConcurrentWorkflowTaskPollers: 4})
	workers.Register(w, workers.Deps{
		Replenishment: &activities.Replenishment{DB: s.DB, Client: c, TaskQueue: h.queue},
		Pricing:       &activities.Pricing{DB: s.DB},
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	if err := s.DB.InitOffsets(context.Background(), "inventory", 1); err != nil {
		t.Fatal(err)
	}
	return h
}

// commit stores movements through the hot path's inventory batch.
func (h *replenHarness) commit(ctx context.Context, moves []events.InventoryAdjusted) {
	h.t.Helper()
	for len(moves) > 0 {
		n := min(len(moves), 2000)
		b := store.InventoryBatch{BatchMeta: store.BatchMeta{Topic: "inventory", Start: h.offset, End: h.offset + int64(n), Owner: "e2e"}, DefaultReorderPoint: 10}
		for i, m := range moves[:n] {
			b.Movements = append(b.Movements, store.PositionedMovement{Movement: m, Offset: h.offset + int64(i)})
		}
		if _, err := h.s.DB.CommitInventoryBatch(ctx, b); err != nil {
			h.t.Fatal(err)
		}
		h.offset += int64(n)
		moves = moves[n:]
	}
}

func movement(id string, at time.Time, product string, delta int64, reason string) events.InventoryAdjusted {
	m := events.InventoryAdjusted{
		Header:    events.Header{EventID: id, Type: events.TypeInventoryAdjusted, SchemaVersion: 1, EventTime: at},
		ProductID: product, WarehouseID: "wh-1", Delta: delta, Reason: reason,
	}
	if reason == "receipt" {
		m.SupplierID, m.LeadTimeDays, m.UnitCostMinor, m.Currency = "sup-1", 2, 1000, "GBP"
	}
	return m
}

// history is an opening receipt 40 days ago and 28 days of sales of 4 or 6
// units a day (mean 5), the receipt sized so that onHand units are left.
func history(product string, onHand int64) []events.InventoryAdjusted {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var sold int64
	var moves []events.InventoryAdjusted
	for d := 28; d >= 1; d-- {
		q := int64(4 + 2*(d%2))
		sold += q
		moves = append(moves, movement(fmt.Sprintf("%s-sale-%d", product, d), today.AddDate(0, 0, -d).Add(15*time.Hour), product, -q, "sale"))
	}
	open := movement(product+"-open", today.AddDate(0, 0, -40), product, sold+onHand, "receipt")
	return append([]events.InventoryAdjusted{open}, moves...)
}

func (h *replenHarness) poStatus(ctx context.Context, k store.StockKey) (store.PurchaseOrder, bool, error) {
	pos, err := h.s.DB.PurchaseOrders(ctx, k)
	if err != nil || len(pos) == 0 {
		return store.PurchaseOrder{}, false, err
	}
	return pos[len(pos)-1], true, nil
}

func TestEndToEnd_ReplenishmentDraftsWaitsForApprovalAndReceives(t *testing.T) {
	h := newReplenHarness(t)
	ctx := testenv.Context(t, 3*time.Minute)
	product := testenv.Name("sku")
	k := store.StockKey{ProductID: product, WarehouseID: "wh-1"}
	h.commit(ctx, history(product, 4))

	// Mean 5/day, sigma ~1.02, lead 2 days, 95%: 10 + 1.645 x 1.02 x 1.41 = 12.4
	// -> reorder point 13; order-up-to 13 + 5 x 14 = 83; at 4 on hand order
	// 79 units x 10.00 = 790.00, above the 100.00 threshold: approval needed.
	run, err := h.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: testenv.Name("scan"), TaskQueue: h.queue},
		workflows.NameReplenishmentScan, workflows.ReplenishmentScanInput{Cycles: 1, Policy: activities.ReplenishPolicy{
			HistoryDays: 28, ApprovalThresholdMinor: 10000, PollInterval: activities.Duration(time.Second),
		}})
	if err != nil {
		t.Fatal(err)
	}
	var scan workflows.ReplenishmentScanResult
	if err := run.Get(ctx, &scan); err != nil || scan.Keys != 1 {
		t.Fatalf("scan: %+v %v", scan, err)
	}
	wid := activities.ReplenishWorkflowID(k)
	t.Cleanup(h.terminateAll)

	var po store.PurchaseOrder
	testenv.WaitFor(ctx, t, "an order awaiting approval", func() (bool, error) {
		p, ok, err := h.poStatus(ctx, k)
		po = p
		return ok && p.Status == store.POAwaitingApproval, err
	})
	if po.Quantity != 79 || po.ValueMinor != 79000 || po.LeadTimeDays != 2 || po.SupplierID != "sup-1" || po.WorkflowID != wid {
		t.Fatalf("drafted %+v", po)
	}
	if rp, err := h.reorderPoint(ctx, k); err != nil || rp != 13 {
		t.Fatalf("reorder point %d %v, want 13 written for the hot path", rp, err)
	}

	decide := func(d workflows.Decision) (store.PurchaseOrder, error) {
		hd, err := h.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: wid, UpdateName: workflows.UpdateDecide, Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err != nil {
			return store.PurchaseOrder{}, err
		}
		var out store.PurchaseOrder
		err = hd.Get(ctx, &out)
		return out, err
	}
	if _, err := decide(workflows.Decision{Approver: "", Approve: true}); err == nil || !strings.Contains(err.Error(), "approver") {
		t.Fatalf("an update without approver: want a rejection naming approver, got %v", err)
	}
	if _, err := decide(workflows.Decision{Approver: "ana", Approve: true, Quantity: 1000}); err == nil || !strings.Contains(err.Error(), "quantity") {
		t.Fatalf("an update above 3x the plan: want a rejection naming quantity, got %v", err)
	}
	approved, err := decide(workflows.Decision{Approver: "ana", Approve: true, Quantity: 90, Note: "round up"})
	if err != nil || approved.Status != store.POApproved || approved.Quantity != 90 {
		t.Fatalf("approve: %+v %v", approved, err)
	}
	testenv.WaitFor(ctx, t, "the order sent", func() (bool, error) {
		p, _, err := h.poStatus(ctx, k)
		return p.Status == store.POSent, err
	})
	// The goods arrive on the inventory topic; the workflow finds them.
	h.commit(ctx, []events.InventoryAdjusted{movement(product+"-po-receipt", time.Now().UTC(), product, 90, "receipt")})
	var res workflows.ReplenishResult
	if err := h.c.GetWorkflow(ctx, wid, "").Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Orders) != 1 || res.Orders[0].Status != store.POReceived || res.Orders[0].POID != po.ID {
		t.Fatalf("result %+v", res)
	}
	got, _, err := h.poStatus(ctx, k)
	if err != nil || got.ReceiptEventID != product+"-po-receipt" || got.DecidedBy != "ana" || got.ReceivedQuantity != 90 {
		t.Fatalf("stored order %+v %v", got, err)
	}
	var lineage int
	if err := h.s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM lineage WHERE workflow = $1`, workflows.NameReplenishProduct).Scan(&lineage); err != nil || lineage < 2 {
		t.Fatalf("lineage rows %d %v, want the plan and the draft", lineage, err)
	}
}

// terminateAll terminates the workflows still running on the harness's
// task queue (a failed or interrupted run leaves them waiting).
func (h *replenHarness) terminateAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var token []byte
	for {
		page, err := h.c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("TaskQueue = %q AND ExecutionStatus = 'Running'", h.queue), NextPageToken: token,
		})
		if err != nil {
			h.t.Logf("list workflows to terminate: %v", err)
			return
		}
		for _, e := range page.Executions {
			_ = h.c.TerminateWorkflow(ctx, e.Execution.WorkflowId, e.Execution.RunId, "test over")
		}
		if token = page.NextPageToken; len(token) == 0 {
			return
		}
	}
}

func (h *replenHarness) reorderPoint(ctx context.Context, k store.StockKey) (int64, error) {
	var rp int64
	err := h.s.DB.Pool.QueryRow(ctx, `SELECT reorder_point FROM reorder_points WHERE product_id = $1 AND warehouse_id = $2`, k.ProductID, k.WarehouseID).Scan(&rp)
	return rp, err
}

// scaleConcurrency bounds the scale test's concurrent calls to the dev server.
const scaleConcurrency = 32

// TestEndToEnd_ThousandReplenishments runs 1,000 ReplenishProduct workflows
// (SHOPPULSE_SCALE_WORKFLOWS to change it) for as many products to
// completion on the dev server: each drafts an order (approved
// automatically), sends it and receives it. It logs the time, which the
// dev server's throughput bounds.
func TestEndToEnd_ThousandReplenishments(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 workflows: skipped with -short")
	}
	n := 1000
	if v := os.Getenv("SHOPPULSE_SCALE_WORKFLOWS"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil || n < 1 {
			t.Fatalf("SHOPPULSE_SCALE_WORKFLOWS=%q: want a positive number", v)
		}
	}
	h := newReplenHarness(t)
	ctx := testenv.Context(t, 35*time.Minute)
	prefix := testenv.Name("scale")
	var moves []events.InventoryAdjusted
	keys := make([]store.StockKey, n)
	for i := range n {
		p := fmt.Sprintf("%s-%04d", prefix, i)
		keys[i] = store.StockKey{ProductID: p, WarehouseID: "wh-1"}
		moves = append(moves, history(p, 2)...)
	}
	h.commit(ctx, moves)
	t.Cleanup(h.terminateAll)

	start := time.Now()
	run, err := h.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: testenv.Name("scan"), TaskQueue: h.queue},
		workflows.NameReplenishmentScan, workflows.ReplenishmentScanInput{Cycles: 1, Policy: activities.ReplenishPolicy{
			HistoryDays: 28, ApprovalThresholdMinor: 10_000_000, PollInterval: activities.Duration(time.Minute),
		}})
	if err != nil {
		t.Fatal(err)
	}
	var scan workflows.ReplenishmentScanResult
	if err := run.Get(ctx, &scan); err != nil || scan.Keys != n {
		t.Fatalf("scan: %+v %v", scan, err)
	}
	started := time.Since(start)
	count := func(status string) (int, error) {
		var c int
		err := h.s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM purchase_orders WHERE status = $1`, status).Scan(&c)
		return c, err
	}
	testenv.WaitFor(ctx, t, "every order sent", func() (bool, error) {
		c, err := count(store.POSent)
		return c == n, err
	})
	sent := time.Since(start)
	// The goods arrive; each workflow is told to look now (as the hot path
	// could), instead of waiting for its next poll.
	var receipts []events.InventoryAdjusted
	now := time.Now().UTC()
	for _, k := range keys {
		receipts = append(receipts, movement(k.ProductID+"-receipt", now, k.ProductID, 79, "receipt"))
	}
	h.commit(ctx, receipts)
	// One signal and one result per workflow, a few dozen round trips at a
	// time: one after another, the round trips alone took minutes on a
	// loaded dev server.
	var g errgroup.Group
	g.SetLimit(scaleConcurrency)
	for _, k := range keys {
		g.Go(func() error {
			// A workflow whose poll found the receipt first has completed.
			var done *serviceerror.NotFound
			if err := h.c.SignalWorkflow(ctx, activities.ReplenishWorkflowID(k), "", workflows.SignalReceipt, nil); err != nil && !errors.As(err, &done) {
				return fmt.Errorf("signal %s: %w", k, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		g.Go(func() error {
			var res workflows.ReplenishResult
			if err := h.c.GetWorkflow(ctx, activities.ReplenishWorkflowID(k), "").Get(ctx, &res); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			if len(res.Orders) != 1 || res.Orders[0].Status != store.POReceived {
				return fmt.Errorf("%s: %+v", k, res)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	done := time.Since(start)
	if c, err := count(store.POReceived); err != nil || c != n {
		t.Fatalf("received orders %d %v", c, err)
	}
	t.Logf("%d replenishment workflows: scan started them in %v, all orders sent after %v, all received and completed after %v",
		n, started.Round(time.Millisecond), sent.Round(time.Millisecond), done.Round(time.Millisecond))
}
