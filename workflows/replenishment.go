package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/store"
)

// Registered names of the replenishment workflows, their update, signals
// and query (never rename).
const (
	NameReplenishmentScan = "ReplenishmentScan"
	NameReplenishProduct  = activities.ReplenishWorkflowType
	// UpdateDecide approves or rejects the order awaiting approval (a Decision).
	UpdateDecide = "decide"
	// SignalReceipt asks the workflow to look for its order's receipt now.
	SignalReceipt = "receipt"
	// SignalCheck asks for a review of the stock now.
	SignalCheck = activities.SignalReplenishCheck
	// QueryReplenishState returns the workflow's ReplenishState.
	QueryReplenishState = "state"
)

// Phases of a replenishment workflow, as QueryReplenishState reports them.
const (
	PhaseReviewing        = "reviewing"
	PhaseDrafting         = "drafting"
	PhaseAwaitingApproval = "awaiting_approval"
	PhaseAwaitingReceipt  = "awaiting_receipt"
	PhaseIdle             = "idle"
)

// maxHistory bounds a run's history: past it, the workflow continues as
// new, and the next run resumes the order in flight from Postgres.
const maxHistory = 8000

// ReplenishmentScanInput is the scan's input; every field is optional.
type ReplenishmentScanInput struct {
	// Policy overrides the configured replenishment policy's fields.
	Policy activities.ReplenishPolicy `json:"policy,omitzero"`
	// Cycles > 0 makes the workflows it starts stop after that many reviews.
	Cycles int `json:"cycles,omitempty"`
	// PageSize is the product and warehouse pairs per activity (default 500).
	PageSize int `json:"page_size,omitempty"`
}

// ReplenishmentScanResult counts the pairs the scan started or signalled.
type ReplenishmentScanResult struct {
	Keys, Pages int
}

// ReplenishmentScan makes sure every product and warehouse in stock_levels
// has its ReplenishProduct workflow running, and asks each for a review
// now (signal-with-start, a page of pairs per activity). It starts them and
// returns: they run on their own, one per pair, with ids
// shoppulse-replenish-<product>@<warehouse>.
func ReplenishmentScan(ctx workflow.Context, in ReplenishmentScanInput) (ReplenishmentScanResult, error) {
	if in.PageSize <= 0 {
		in.PageSize = 500
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	var res ReplenishmentScanResult
	var after store.StockKey
	for {
		var page activities.StartResult
		if err := workflow.ExecuteActivity(actx, activities.NameStartReplenishers, activities.StartInput{
			After: after, Limit: in.PageSize, Policy: in.Policy, Cycles: in.Cycles,
		}).Get(ctx, &page); err != nil {
			return res, fmt.Errorf("start replenishers after %s: %w", after, err)
		}
		res.Keys += page.Keys
		res.Pages++
		if page.Done {
			return res, nil
		}
		after = page.Next
	}
}

// Decision is an approver's answer to an order awaiting approval, sent as
// the "decide" Update.
type Decision struct {
	// POID, when set, must name the order awaiting approval.
	POID     string `json:"po_id,omitempty"`
	Approver string `json:"approver"`
	Approve  bool   `json:"approve"`
	// Quantity, when > 0, replaces the planned quantity: at most the
	// policy's max_quantity and max_approval_factor times the plan.
	Quantity int64  `json:"quantity,omitempty"`
	Note     string `json:"note,omitempty"`
}

// ReplenishState is what the workflow is doing, for the "state" query.
type ReplenishState struct {
	Phase  string               `json:"phase"`
	Cycle  int                  `json:"cycle"`
	OnHand int64                `json:"on_hand"`
	Plan   any                  `json:"plan,omitempty"`
	PO     *store.PurchaseOrder `json:"po,omitempty"`
}

// OrderOutcome is where one order of a run ended.
type OrderOutcome struct {
	POID   string `json:"po_id"`
	Status string `json:"status"`
}

// ReplenishResult is what a run did (runs that stop after in.Cycles).
type ReplenishResult struct {
	Cycles int            `json:"cycles"`
	Orders []OrderOutcome `json:"orders"`
}

// replenisher is one run's state, shared with its handlers.
type replenisher struct {
	in       activities.ReplenishInput
	key      store.StockKey
	policy   activities.ReplenishPolicy
	state    ReplenishState
	planned  int64 // the planned quantity of the order awaiting approval
	deciding bool
	decided  *store.PurchaseOrder
	receipt  workflow.ReceiveChannel
	check    workflow.ReceiveChannel
	res      ReplenishResult
}

// activityCtx runs the per-product activities as local activities: each is
// one short Postgres transaction, so a review (plan, draft, send, look for
// the receipt) costs one workflow task instead of one per activity and
// round trip, which is what lets thousands of these workflows share a
// server. Retries back off up to 30s; past the workflow task timeout the SDK
// schedules them with timers.
func activityCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
}

// ReplenishProduct keeps one product in one warehouse in stock, for good
// (or for in.Cycles reviews). Each review computes the reorder point from
// the demand history (activities.PlanReplenishment); when the stock
// position is at or below it, it drafts a purchase order for the
// order-up-to quantity under an idempotency key. An order worth more than
// the approval threshold waits for the "decide" Update (validated: an
// approver, a quantity within bounds, an order awaiting approval) or
// expires after approval_timeout. An approved order is sent, then the
// workflow polls the stored inventory movements for its receipt every
// poll_interval (a "receipt" signal polls at once): a receipt stored before
// the wait began is found all the same. Past due + receipt_grace the order
// is late and a supplier_late alert opens (resolved on receipt). Reviews
// repeat every review_interval or on a "check" signal; the run continues as
// new after cycles_per_run reviews or a long history, and the next run
// resumes any order in flight from Postgres.
func ReplenishProduct(ctx workflow.Context, in activities.ReplenishInput) (ReplenishResult, error) {
	if in.ProductID == "" || in.WarehouseID == "" {
		return ReplenishResult{}, temporal.NewNonRetryableApplicationError("replenish: product_id and warehouse_id are required", "InvalidInput", nil)
	}
	r := &replenisher{
		in: in, key: store.StockKey{ProductID: in.ProductID, WarehouseID: in.WarehouseID},
		policy:  in.Policy.Or(activities.DefaultReplenishPolicy()),
		state:   ReplenishState{Phase: PhaseReviewing, Cycle: in.Done},
		receipt: workflow.GetSignalChannel(ctx, SignalReceipt),
		check:   workflow.GetSignalChannel(ctx, SignalCheck),
		res:     ReplenishResult{Orders: []OrderOutcome{}},
	}
	if err := workflow.SetQueryHandler(ctx, QueryReplenishState, func() (ReplenishState, error) { return r.state, nil }); err != nil {
		return r.res, err
	}
	if err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateDecide, r.decide, workflow.UpdateHandlerOptions{Validator: r.validate}); err != nil {
		return r.res, err
	}
	info := workflow.GetInfo(ctx)
	for run := 0; ; run++ {
		if err := r.review(ctx, info.WorkflowExecution.RunID); err != nil {
			return r.res, err
		}
		r.res.Cycles++
		r.state.Cycle++
		r.state.Phase = PhaseIdle
		if in.Cycles > 0 && r.state.Cycle >= in.Cycles {
			err := r.finish(ctx)
			// The last review answered any "check" or "receipt" still
			// pending (the scan's signal-with-start sends a check): left
			// unread, the SDK warns of unhandled signals on every run.
			r.drain()
			return r.res, err
		}
		if run+1 >= r.policy.CyclesPerRun || r.newRunDue(ctx) {
			return r.res, r.continueAsNew(ctx)
		}
		// Wait for the next review: the interval, or a "check" signal.
		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(tctx, time.Duration(r.policy.ReviewInterval)), func(workflow.Future) {})
		sel.AddReceive(r.check, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		cancel()
		r.drain()
	}
}

func (r *replenisher) newRunDue(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > maxHistory
}

// drain drops pending "check" and "receipt" signals: each only asks for
// what the next step does anyway.
func (r *replenisher) drain() {
	for r.check.ReceiveAsync(nil) {
	}
	for r.receipt.ReceiveAsync(nil) {
	}
}

// finish lets running Update handlers complete before the run ends.
func (r *replenisher) finish(ctx workflow.Context) error {
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

func (r *replenisher) continueAsNew(ctx workflow.Context) error {
	if err := r.finish(ctx); err != nil {
		return err
	}
	r.drain()
	next := r.in
	next.Done = r.state.Cycle
	return workflow.NewContinueAsNewError(ctx, NameReplenishProduct, next)
}

// errNewRun ends a wait so the run can continue as new; the order in
// flight is resumed by the next run from Postgres.
var errNewRun = errors.New("continue as new")

// review is one cycle: plan, and draft or resume an order and see it through.
func (r *replenisher) review(ctx workflow.Context, runID string) error {
	r.state.Phase = PhaseReviewing
	actx := activityCtx(ctx)
	var plan activities.PlanResult
	if err := workflow.ExecuteLocalActivity(actx, activities.NamePlanReplenishment, activities.PlanInput{
		Key: r.key, Policy: r.in.Policy, RunID: runID, Workflow: NameReplenishProduct, Cycle: r.state.Cycle,
	}).Get(ctx, &plan); err != nil {
		return fmt.Errorf("plan %s: %w", r.key, err)
	}
	if plan.Policy.CyclesPerRun > 0 {
		r.policy = plan.Policy
	}
	r.state.OnHand, r.state.Plan = plan.OnHand, plan.Plan
	var po store.PurchaseOrder
	switch {
	case plan.Pending != nil:
		po = *plan.Pending
		r.planned = po.Quantity
	case len(plan.Open) > 0:
		po = plan.Open[0]
	case plan.Plan.Reorder:
		now := workflow.Now(ctx).UTC()
		draft := store.PurchaseOrder{
			ID:        fmt.Sprintf("po-%s@%s-%s", r.key.ProductID, r.key.WarehouseID, now.Format("20060102T150405")),
			ProductID: r.key.ProductID, WarehouseID: r.key.WarehouseID,
			SupplierID: plan.Supply.SupplierID, Quantity: plan.Plan.Quantity,
			UnitCostMinor: plan.Supply.UnitCostMinor, Currency: plan.Supply.Currency,
			LeadTimeDays: int(plan.Plan.LeadTimeDays), Plan: mustJSON(plan.Plan),
			WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, RunID: runID,
			ApprovalDeadline: now.Add(time.Duration(r.policy.ApprovalTimeout)),
		}
		needs := draft.Quantity*draft.UnitCostMinor > r.policy.ApprovalThresholdMinor
		// A decision may arrive while the draft is being stored (the row is
		// visible before the workflow sees the activity's result): the
		// Update is accepted and waits for the draft.
		draft.Status = store.PODraft
		r.state.Phase, r.state.PO, r.planned = PhaseDrafting, &draft, draft.Quantity
		err := workflow.ExecuteLocalActivity(actx, activities.NameDraftPurchaseOrder, activities.DraftInput{
			PO: draft, NeedsApproval: needs,
		}).Get(ctx, &po)
		r.state.Phase = PhaseReviewing
		if err != nil {
			return fmt.Errorf("draft %s: %w", draft.ID, err)
		}
	default:
		return nil
	}
	r.state.PO = &po
	err := r.follow(ctx, po)
	if errors.Is(err, errNewRun) {
		return r.continueAsNew(ctx)
	}
	return err
}

// follow sees one order through approval, sending and receipt.
func (r *replenisher) follow(ctx workflow.Context, po store.PurchaseOrder) error {
	actx := activityCtx(ctx)
	if po.Status == store.POAwaitingApproval {
		var err error
		if po, err = r.awaitApproval(ctx, po); err != nil {
			return err
		}
	}
	r.state.PO = &po
	if po.Status == store.POApproved {
		if err := workflow.ExecuteLocalActivity(actx, activities.NameSendPurchaseOrder, po.ID).Get(ctx, &po); err != nil {
			return fmt.Errorf("send %s: %w", po.ID, err)
		}
		r.state.PO = &po
	}
	if po.Status == store.POSent || po.Status == store.POLate {
		var err error
		if po, err = r.awaitReceipt(ctx, po); err != nil {
			return err
		}
	}
	r.state.PO = &po
	r.res.Orders = append(r.res.Orders, OrderOutcome{POID: po.ID, Status: po.Status})
	return nil
}

func (r *replenisher) awaitApproval(ctx workflow.Context, po store.PurchaseOrder) (store.PurchaseOrder, error) {
	r.state.Phase = PhaseAwaitingApproval
	r.decided = nil
	for r.decided == nil {
		left := po.ApprovalDeadline.Sub(workflow.Now(ctx))
		if po.ApprovalDeadline.IsZero() {
			left = time.Duration(r.policy.ApprovalTimeout)
		}
		if left <= 0 {
			break
		}
		ok, err := workflow.AwaitWithTimeout(ctx, left, func() bool { return r.decided != nil || r.deciding })
		if err != nil {
			return po, err
		}
		if !ok {
			break
		}
		// A decision is being stored: wait for it (or its failure).
		if err := workflow.Await(ctx, func() bool { return r.decided != nil || !r.deciding }); err != nil {
			return po, err
		}
	}
	if r.decided != nil {
		return *r.decided, nil
	}
	r.state.Phase = PhaseReviewing // no more decisions accepted
	var out store.PurchaseOrder
	if err := workflow.ExecuteLocalActivity(activityCtx(ctx), activities.NameExpirePurchaseOrder, po.ID).Get(ctx, &out); err != nil {
		return po, fmt.Errorf("expire %s: %w", po.ID, err)
	}
	return out, nil
}

func (r *replenisher) awaitReceipt(ctx workflow.Context, po store.PurchaseOrder) (store.PurchaseOrder, error) {
	r.state.Phase = PhaseAwaitingReceipt
	actx := activityCtx(ctx)
	lateAt := po.DueAt.Add(time.Duration(r.policy.ReceiptGrace))
	giveUpAt := po.DueAt.Add(time.Duration(r.policy.GiveUpAfter))
	for {
		var got activities.ReceiveResult
		if err := workflow.ExecuteLocalActivity(actx, activities.NameReceivePurchaseOrder, po.ID).Get(ctx, &got); err != nil {
			return po, fmt.Errorf("receive %s: %w", po.ID, err)
		}
		po = got.PO
		r.state.PO = &po
		if got.Received {
			return po, nil
		}
		now := workflow.Now(ctx)
		if po.Status == store.POSent && !now.Before(lateAt) {
			if err := workflow.ExecuteLocalActivity(actx, activities.NameMarkPurchaseOrderLate, po.ID).Get(ctx, &po); err != nil {
				return po, fmt.Errorf("mark %s late: %w", po.ID, err)
			}
			r.state.PO = &po
		}
		if !now.Before(giveUpAt) {
			return po, nil // stays late with its alert open; no longer counted as on order
		}
		if r.newRunDue(ctx) {
			return po, errNewRun
		}
		wait := time.Duration(r.policy.PollInterval)
		for _, at := range []time.Time{lateAt, giveUpAt} {
			if d := at.Sub(now); d > 0 && d < wait {
				wait = d
			}
		}
		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		sel.AddFuture(workflow.NewTimer(tctx, wait), func(workflow.Future) {})
		sel.AddReceive(r.receipt, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil) })
		sel.Select(ctx)
		cancel()
		for r.receipt.ReceiveAsync(nil) {
		}
	}
}

// validate accepts a decision only from a named approver, with a quantity
// within bounds, for the order awaiting approval (or being drafted). A
// rejected Update leaves no trace in the history.
func (r *replenisher) validate(ctx workflow.Context, d Decision) error {
	if strings.TrimSpace(d.Approver) == "" {
		return errors.New("approver: who decides is required")
	}
	if d.Quantity < 0 {
		return fmt.Errorf("quantity %d: want a positive quantity, or 0 to keep the planned one", d.Quantity)
	}
	if d.Quantity > 0 && !d.Approve {
		return errors.New("quantity: only an approval may change the quantity")
	}
	if (r.state.Phase != PhaseAwaitingApproval && r.state.Phase != PhaseDrafting) || r.state.PO == nil || r.deciding || r.decided != nil {
		return fmt.Errorf("no purchase order is awaiting approval (phase %s)", r.state.Phase)
	}
	if d.POID != "" && d.POID != r.state.PO.ID {
		return fmt.Errorf("po_id %q: the order awaiting approval is %s", d.POID, r.state.PO.ID)
	}
	limit := min(r.policy.MaxQuantity, int64(float64(r.planned)*r.policy.MaxApprovalFactor))
	if d.Quantity > limit {
		return fmt.Errorf("quantity %d: at most %d (max_quantity %d, %g x the planned %d)",
			d.Quantity, limit, r.policy.MaxQuantity, r.policy.MaxApprovalFactor, r.planned)
	}
	return nil
}

// decide stores an accepted decision and hands the order back to the main
// loop.
func (r *replenisher) decide(ctx workflow.Context, d Decision) (store.PurchaseOrder, error) {
	if err := r.validate(ctx, d); err != nil { // a concurrent decision won
		return store.PurchaseOrder{}, err
	}
	r.deciding = true
	defer func() { r.deciding = false }()
	// Accepted while drafting: wait until the draft is stored and held.
	if err := workflow.Await(ctx, func() bool { return r.state.Phase != PhaseDrafting }); err != nil {
		return store.PurchaseOrder{}, err
	}
	if r.state.Phase != PhaseAwaitingApproval {
		return store.PurchaseOrder{}, fmt.Errorf("purchase order %s was not held for approval (phase %s)", r.state.PO.ID, r.state.Phase)
	}
	var po store.PurchaseOrder
	if err := workflow.ExecuteLocalActivity(activityCtx(ctx), activities.NameDecidePurchaseOrder, activities.DecideInput{
		POID: r.state.PO.ID, Approve: d.Approve, By: strings.TrimSpace(d.Approver), Note: d.Note, Quantity: d.Quantity,
	}).Get(ctx, &po); err != nil {
		return store.PurchaseOrder{}, fmt.Errorf("decide %s: %w", r.state.PO.ID, err)
	}
	r.decided = &po
	return po, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err))
	}
	return b
}
