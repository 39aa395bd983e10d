package workflows

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/store"
)

var replT0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

func newReplenishEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(replT0)
	env.RegisterWorkflowWithOptions(ReplenishProduct, workflow.RegisterOptions{Name: NameReplenishProduct})
	env.RegisterWorkflowWithOptions(ReplenishmentScan, workflow.RegisterOptions{Name: NameReplenishmentScan})
	a := &activities.Replenishment{}
	for name, f := range map[string]any{
		activities.NamePlanReplenishment: a.PlanReplenishment, activities.NameDraftPurchaseOrder: a.DraftPurchaseOrder,
		activities.NameDecidePurchaseOrder: a.DecidePurchaseOrder, activities.NameExpirePurchaseOrder: a.ExpirePurchaseOrder,
		activities.NameSendPurchaseOrder: a.SendPurchaseOrder, activities.NameReceivePurchaseOrder: a.ReceivePurchaseOrder,
		activities.NameMarkPurchaseOrderLate: a.MarkPurchaseOrderLate, activities.NameStartReplenishers: a.StartReplenishers,
	} {
		env.RegisterActivityWithOptions(f, activity.RegisterOptions{Name: name})
	}
	return env
}

// policy: approval above 500.00, 48h to approve, 24h grace, poll hourly.
func testPolicy() activities.ReplenishPolicy {
	return activities.DefaultReplenishPolicy()
}

func reorderPlan(qty int64) activities.PlanResult {
	return activities.PlanResult{
		Policy: testPolicy(), OnHand: 3,
		Supply: store.SupplyTerms{Known: true, SupplierID: "sup-1", LeadTimeDays: 3, UnitCostMinor: 1000, Currency: "GBP"},
		Plan:   analytics.ReorderPlan{ReorderPoint: 20, OrderUpTo: 3 + qty, Position: 3, Reorder: true, Quantity: qty, LeadTimeDays: 3},
	}
}

// fakePOs is a tiny purchase order store behind the mocked activities, so
// the tests check what the workflow asked for, in order.
type fakePOs struct {
	mu       sync.Mutex
	env      *testsuite.TestWorkflowEnvironment
	po       store.PurchaseOrder
	calls    []string
	received func(now time.Time) bool
	// draftDelay is how long storing a draft takes.
	draftDelay time.Duration
}

func (f *fakePOs) record(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
}

func (f *fakePOs) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c == name {
			n++
		}
	}
	return n
}

func (f *fakePOs) mock(env *testsuite.TestWorkflowEnvironment) {
	f.env = env
	env.OnActivity(activities.NameDraftPurchaseOrder, mock.Anything, mock.Anything).After(f.draftDelay).Return(
		func(_ context.Context, in activities.DraftInput) (store.PurchaseOrder, error) {
			f.record("draft")
			f.po = in.PO
			f.po.Status = store.POApproved
			if in.NeedsApproval {
				f.po.Status = store.POAwaitingApproval
			}
			f.po.CreatedAt = env.Now()
			return f.po, nil
		})
	env.OnActivity(activities.NameDecidePurchaseOrder, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DecideInput) (store.PurchaseOrder, error) {
			f.record("decide")
			if in.POID != f.po.ID || f.po.Status != store.POAwaitingApproval {
				return store.PurchaseOrder{}, errors.New("wrong order")
			}
			f.po.Status, f.po.DecidedBy = store.PORejected, in.By
			if in.Approve {
				f.po.Status = store.POApproved
			}
			if in.Quantity > 0 {
				f.po.Quantity = in.Quantity
			}
			return f.po, nil
		})
	env.OnActivity(activities.NameExpirePurchaseOrder, mock.Anything, mock.Anything).Return(
		func(_ context.Context, id string) (store.PurchaseOrder, error) {
			f.record("expire")
			f.po.Status = store.POExpired
			return f.po, nil
		})
	env.OnActivity(activities.NameSendPurchaseOrder, mock.Anything, mock.Anything).Return(
		func(_ context.Context, id string) (store.PurchaseOrder, error) {
			f.record("send")
			f.po.Status, f.po.SentAt = store.POSent, env.Now()
			f.po.DueAt = f.po.SentAt.Add(time.Duration(f.po.LeadTimeDays) * 24 * time.Hour)
			return f.po, nil
		})
	env.OnActivity(activities.NameReceivePurchaseOrder, mock.Anything, mock.Anything).Return(
		func(_ context.Context, id string) (activities.ReceiveResult, error) {
			f.record("receive")
			if f.received != nil && f.received(env.Now()) {
				f.po.Status, f.po.ReceivedAt = store.POReceived, env.Now()
				return activities.ReceiveResult{PO: f.po, Received: true}, nil
			}
			return activities.ReceiveResult{PO: f.po}, nil
		})
	env.OnActivity(activities.NameMarkPurchaseOrderLate, mock.Anything, mock.Anything).Return(
		func(_ context.Context, id string) (store.PurchaseOrder, error) {
			f.record("late")
			f.po.Status = store.POLate
			return f.po, nil
		})
}

type updateOutcome struct {
	rejected  error
	completed bool
	result    any
	err       error
}

func sendDecision(env *testsuite.TestWorkflowEnvironment, id string, d Decision) *updateOutcome {
	out := &updateOutcome{}
	env.UpdateWorkflow(UpdateDecide, id, &testsuite.TestUpdateCallback{
		OnAccept: func() {},
		OnReject: func(err error) { out.rejected = err },
		OnComplete: func(r any, err error) {
			out.completed, out.result, out.err = true, r, err
		},
	}, d)
	return out
}

func TestReplenishProduct_ApprovalThroughUpdateThenReceipt(t *testing.T) {
	env := newReplenishEnv(t)
	env.OnActivity(activities.NamePlanReplenishment, mock.Anything, mock.Anything).Return(reorderPlan(60), nil) // 60 x 10.00 > 500.00
	f := &fakePOs{}
	// The goods arrive two days after the order is sent (before the due
	// time); the workflow notices at its next poll.
	var sentAt time.Time
	f.received = func(now time.Time) bool { return !sentAt.IsZero() && now.Sub(sentAt) >= 48*time.Hour }
	f.mock(env)

	var empty, tooMany, wrongPO, rejectWithQty, ok *updateOutcome
	env.RegisterDelayedCallback(func() {
		st, err := env.QueryWorkflow(QueryReplenishState)
		if err != nil {
			t.Fatal(err)
		}
		var s ReplenishState
		if err := st.Get(&s); err != nil || s.Phase != PhaseAwaitingApproval || s.PO == nil {
			t.Errorf("state before approval: %+v %v", s, err)
		}
		empty = sendDecision(env, "u-empty", Decision{Approver: "  ", Approve: true})
		tooMany = sendDecision(env, "u-many", Decision{Approver: "ana", Approve: true, Quantity: 181}) // 3 x 60 = 180
		wrongPO = sendDecision(env, "u-po", Decision{POID: "po-other", Approver: "ana", Approve: true})
		rejectWithQty = sendDecision(env, "u-rq", Decision{Approver: "ana", Approve: false, Quantity: 10})
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		ok = sendDecision(env, "u-ok", Decision{Approver: "ana", Approve: true, Quantity: 80, Note: "promo coming"})
		sentAt = env.Now()
	}, 2*time.Hour)
	env.ExecuteWorkflow(NameReplenishProduct, activities.ReplenishInput{ProductID: "sku-1", WarehouseID: "wh-1", Cycles: 1})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	for name, o := range map[string]*updateOutcome{"blank approver": empty, "quantity above 3x plan": tooMany, "other order": wrongPO, "rejection with a quantity": rejectWithQty} {
		if o == nil || o.rejected == nil || o.completed {
			t.Errorf("%s: want the validator to reject it, got %+v", name, o)
		}
	}
	if !strings.Contains(empty.rejected.Error(), "approver") || !strings.Contains(tooMany.rejected.Error(), "at most 180") {
		t.Errorf("rejections should name the field: %v / %v", empty.rejected, tooMany.rejected)
	}
	if ok == nil || ok.rejected != nil || !ok.completed || ok.err != nil {
		t.Fatalf("valid approval: %+v", ok)
	}
	var res ReplenishResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Orders) != 1 || res.Orders[0].Status != store.POReceived || f.po.Quantity != 80 || f.po.DecidedBy != "ana" {
		t.Fatalf("result %+v, order %+v", res, f.po)
	}
	if !strings.HasPrefix(f.po.ID, "po-sku-1@wh-1-20261102T0900") {
		t.Fatalf("po id %q: want the product, warehouse and drafting time", f.po.ID)
	}
	if f.count("decide") != 1 || f.count("send") != 1 || f.count("late") != 0 || f.count("expire") != 0 {
		t.Fatalf("calls %v", f.calls)
	}
	// Polled hourly for two days: about 49 looks, not one per second.
	if n := f.count("receive"); n < 45 || n > 52 {
		t.Fatalf("%d receipt polls, want about 49", n)
	}
}

func TestReplenishProduct_ExpiresWithoutApprovalAndRejectsLateDecisions(t *testing.T) {
	env := newReplenishEnv(t)
	env.OnActivity(activities.NamePlanReplenishment, mock.Anything, mock.Anything).Return(reorderPlan(60), nil)
	f := &fakePOs{}
	f.mock(env)
	var late *updateOutcome
	env.RegisterDelayedCallback(func() {
		late = sendDecision(env, "u-late", Decision{Approver: "ana", Approve: true})
	}, 49*time.Hour)
	env.ExecuteWorkflow(NameReplenishProduct, activities.ReplenishInput{ProductID: "sku-1", WarehouseID: "wh-1", Cycles: 2})
	if !env.IsWorkflowCompleted() || env.GetWorkflowError() != nil {
		t.Fatalf("completed %v, error %v", env.IsWorkflowCompleted(), env.GetWorkflowError())
	}
	var res ReplenishResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Orders[0].Status != store.POExpired || f.count("send") != 0 {
		t.Fatalf("result %+v calls %v", res, f.calls)
	}
	if late == nil || late.rejected == nil {
		t.Fatalf("a decision after expiry must be rejected: %+v", late)
	}
}

func TestReplenishProduct_RejectedOrderIsNotSent(t *testing.T) {
	env := newReplenishEnv(t)
	env.OnActivity(activities.NamePlanReplenishment, mock.Anything, mock.Anything).Return(reorderPlan(60), nil)
	f := &fakePOs{}
	f.mock(env)
	env.RegisterDelayedCallback(func() { sendDecision(env, "u-no", Decision{Approver: "bo", Note: "discontinued"}) }, time.Minute)
	env.ExecuteWorkflow(NameReplenishProduct, activities.ReplenishInput{ProductID: "sku-1", WarehouseID: "wh-1", Cycles: 1})
	var res ReplenishResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Orders[0].Status != store.PORejected || f.count("send") != 0 || f.count("receive") != 0 {
		t.Fatalf("result %+v calls %v", res, f.calls)
	}
}

func TestReplenishProduct_LateSupplierAlertsThenReceiptOnSignal(t *testing.T) {
	env := newReplenishEnv(t)
	env.OnActivity(activities.NamePlanReplenishment, mock.Anything, mock.Anything).Return(reorderPlan(20), nil) // 200.00: auto-approved
	f := &fakePOs{}
	arrived := false
	f.received = func(time.Time) bool { return arrived }
	f.mock(env)
	// Due 3 days after sending, late 24h after that; the goods come on day
	// 5 and 10 minutes, and a "receipt" signal makes the workflow look at once.
	arrival := 5*24*time.Hour + 10*time.Minute
	env.RegisterDelayedCallback(func() {
		arrived = true
		env.SignalWorkflow(SignalReceipt, nil)
	}, arrival)
	env.ExecuteWorkflow(NameReplenishProduct, activities.ReplenishInput{ProductID: "sku-1", WarehouseID: "wh-1", Cycles: 1})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if f.count("late") != 1 || f.count("decide") != 0 || f.po.Status != store.POReceived {
		t.Fatalf("calls %v order %+v", f.calls, f.po)
	}
	if got := f.po.ReceivedAt.Sub(replT0); got != arrival {
		t.Fatalf("received %v after the start, want %v (at the signal, not the next poll)", got, arrival)
	}
}

func TestReplenishProduct_GivesUpOnAnOrderThatNeverComes(t *testing.T) {
	env := newReplenishEnv(t)
	p := reorderPlan(20)
	p.Policy.GiveUpAfter = activities.Duration(10 * 24 * time.Hour)
	env.OnActivity(activities.NamePlanReplenishment, mock.Anything, mock.Anything).Return(p, nil)
	f := &fakePOs{}
	f.mock(env)
	env.ExecuteWorkflow(NameReplenishProduct, activities.ReplenishInput{ProductID: "sku-1", WarehouseID: "wh-1", Cycles: 1})
	var res ReplenishResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Orders[0].Status != store.POLate || f.count("late") != 1 {
		t.Fatalf("result %+v calls %v", res, f.calls)
	}
	if got := env.Now().Sub(replT0); got < 13*24*time.Hour || got > 13*24*time.Hour+time.Minute {
		t.Fatalf("gave up %v after the start, want 3 days due + 10 days", got)
	}
}

func TestReplenishProduct_ReviewsOnCheckSignalAndContinuesAsNew(t *testing.T) {
	env := newReplenishEnv(t)
	p := activities.PlanResult{Policy: testPolicy(), OnHand: 100, Plan: analytics.ReorderPlan{ReorderPoint: 20}}
	p.Policy.CyclesPerRun = 3
	var plans []time.Time
	env.OnActivity(activities.NamePlanReplenishment, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.PlanInput) (activities.PlanResult, error) {
			plans = append(plans, env.Now())
			return p, nil
		})
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalCheck, nil) }, 30*time.Minute)
	env.ExecuteWorkflow(NameReplenishProduct, activities.ReplenishInput{ProductID: "sku-1", WarehouseID: "wh-1"})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new after 3 reviews, got %v", err)
	}
	want := []time.Duration{0, 30 * time.Minute, 30*time.Minute + 6*time.Hour}
	if len(plans) != len(want) {
		t.Fatalf("reviews at %v", plans)
	}
	for i, w := range want {
		if plans[i].Sub(replT0) != w {
			t.Fatalf("review %d at %v, want %v", i, plans[i].Sub(replT0), w)
		}
	}
}

func TestReplenishProduct_ResumesAnOrderInFlight(t *testing.T) {
	env := newReplenishEnv(t)
	sent := store.PurchaseOrder{ID: "po-old", ProductID: "sku-1", WarehouseID: "wh-1", Quantity: 5, Status: store.POSent,
		LeadTimeDays: 1, SentAt: replT0.Add(-time.Hour), DueAt: replT0.Add(23 * time.Hour)}
	p := reorderPlan(10)
	p.Open = []store.PurchaseOrder{sent}
	env.OnActivity(activities.NamePlanReplenishment, mock.Anything, mock.Anything).Return(p, nil)
	f := &fakePOs{po: sent}
	f.received = func(now time.Time) bool { return now.Sub(replT0) >= 3*time.Hour }
	f.mock(env)
	env.ExecuteWorkflow(NameReplenishProduct, activities.ReplenishInput{ProductID: "sku-1", WarehouseID: "wh-1", Cycles: 1})
	var res ReplenishResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if f.count("draft") != 0 || len(res.Orders) != 1 || res.Orders[0] != (OrderOutcome{POID: "po-old", Status: store.POReceived}) {
		t.Fatalf("result %+v calls %v", res, f.calls)
	}
}

func TestReplenishProduct_RejectsMissingKey(t *testing.T) {
	env := newReplenishEnv(t)
	env.ExecuteWorkflow(NameReplenishProduct, activities.ReplenishInput{ProductID: "sku-1"})
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "warehouse_id") {
		t.Fatalf("want an error naming warehouse_id, got %v", err)
	}
}

func TestReplenishmentScan_PagesThroughEveryKey(t *testing.T) {
	env := newReplenishEnv(t)
	var pages []store.StockKey
	env.OnActivity(activities.NameStartReplenishers, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StartInput) (activities.StartResult, error) {
			pages = append(pages, in.After)
			if in.Limit != 2 || in.Cycles != 1 || in.Policy.ServiceLevel != 0.99 {
				return activities.StartResult{}, errors.New("input not passed on")
			}
			if len(pages) < 3 {
				return activities.StartResult{Keys: 2, Next: store.StockKey{ProductID: "p" + string(rune('0'+len(pages))), WarehouseID: "w"}}, nil
			}
			return activities.StartResult{Keys: 1, Done: true}, nil
		})
	env.ExecuteWorkflow(NameReplenishmentScan, ReplenishmentScanInput{PageSize: 2, Cycles: 1, Policy: activities.ReplenishPolicy{ServiceLevel: 0.99}})
	var res ReplenishmentScanResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Keys != 5 || res.Pages != 3 || pages[0] != (store.StockKey{}) || pages[2] != (store.StockKey{ProductID: "p2", WarehouseID: "w"}) {
		t.Fatalf("result %+v pages %v", res, pages)
	}
}

func TestReplenishProduct_DecisionWhileTheDraftIsStoredWaitsForIt(t *testing.T) {
	env := newReplenishEnv(t)
	env.OnActivity(activities.NamePlanReplenishment, mock.Anything, mock.Anything).Return(reorderPlan(60), nil)
	// The draft takes a minute to store; the approver is quicker.
	f := &fakePOs{draftDelay: time.Minute}
	f.received = func(time.Time) bool { return true }
	f.mock(env)
	var early *updateOutcome
	env.RegisterDelayedCallback(func() {
		early = sendDecision(env, "u-early", Decision{Approver: "ana", Approve: true})
	}, 30*time.Second)
	env.ExecuteWorkflow(NameReplenishProduct, activities.ReplenishInput{ProductID: "sku-1", WarehouseID: "wh-1", Cycles: 1})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if early == nil || early.rejected != nil || !early.completed || early.err != nil {
		t.Fatalf("early decision: %+v", early)
	}
	if f.count("decide") != 1 || f.po.Status != store.POReceived || f.po.DecidedBy != "ana" {
		t.Fatalf("calls %v order %+v", f.calls, f.po)
	}
}

func TestReplenishProduct_DecisionWhileDraftingAnAutoApprovedOrderFails(t *testing.T) {
	env := newReplenishEnv(t)
	env.OnActivity(activities.NamePlanReplenishment, mock.Anything, mock.Anything).Return(reorderPlan(20), nil) // 200.00: no approval
	f := &fakePOs{draftDelay: time.Minute}
	f.received = func(time.Time) bool { return true }
	f.mock(env)
	var early *updateOutcome
	env.RegisterDelayedCallback(func() {
		early = sendDecision(env, "u-early", Decision{Approver: "ana", Approve: false})
	}, 30*time.Second)
	env.ExecuteWorkflow(NameReplenishProduct, activities.ReplenishInput{ProductID: "sku-1", WarehouseID: "wh-1", Cycles: 1})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if early == nil || early.rejected != nil || !early.completed || early.err == nil || !strings.Contains(early.err.Error(), "not held for approval") {
		t.Fatalf("early decision on an auto-approved order: %+v", early)
	}
	if f.count("decide") != 0 || f.po.Status != store.POReceived {
		t.Fatalf("calls %v order %+v", f.calls, f.po)
	}
}
