package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/store"
)

// Registered names of the replenishment activities (never rename).
const (
	NamePlanReplenishment     = "PlanReplenishment"
	NameDraftPurchaseOrder    = "DraftPurchaseOrder"
	NameDecidePurchaseOrder   = "DecidePurchaseOrder"
	NameExpirePurchaseOrder   = "ExpirePurchaseOrder"
	NameSendPurchaseOrder     = "SendPurchaseOrder"
	NameReceivePurchaseOrder  = "ReceivePurchaseOrder"
	NameMarkPurchaseOrderLate = "MarkPurchaseOrderLate"
	NameStartReplenishers     = "StartReplenishers"
)

// The per product and warehouse replenishment workflow, as
// StartReplenishers starts it: its registered type, and the signal that
// wakes a running one for a new review.
const (
	ReplenishWorkflowType = "ReplenishProduct"
	SignalReplenishCheck  = "check"
)

// ReplenishWorkflowID is the workflow id of the replenishment workflow of
// one product in one warehouse: one per pair, deterministic, so a scan
// finds the running one and the Temporal UI lists them by product.
func ReplenishWorkflowID(k store.StockKey) string {
	return "shoppulse-replenish-" + k.ProductID + "@" + k.WarehouseID
}

// Duration is a time.Duration that reads and writes JSON as a Go duration
// string ("48h"), or reads a number of nanoseconds, so workflow inputs and
// policies typed at the `temporal` CLI are readable. workflows.Duration is
// this type.
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "48h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "48h" or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: want a Go duration such as 90s or 48h", s)
		}
		*d = Duration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("duration %s: want a string such as \"48h\" or a number of nanoseconds", b)
	}
	*d = Duration(n)
	return nil
}

// ReplenishPolicy tunes replenishment. Zero fields take the defaults of
// DefaultReplenishPolicy (config `replenishment` sets them for the worker).
type ReplenishPolicy struct {
	// ServiceLevel is the chance of no stockout over a lead time (0.5 to <1).
	ServiceLevel float64 `json:"service_level,omitempty"`
	// HistoryDays of daily sales give the demand mean and sigma.
	HistoryDays int `json:"history_days,omitempty"`
	// CoverDays of mean demand an order adds beyond the reorder point.
	CoverDays float64 `json:"cover_days,omitempty"`
	// DefaultLeadTimeDays applies when no receipt names a supplier's lead time.
	DefaultLeadTimeDays int `json:"default_lead_time_days,omitempty"`
	// ApprovalThresholdMinor: orders worth more (quantity x unit cost) wait
	// for a person's approval; others are approved automatically.
	ApprovalThresholdMinor int64 `json:"approval_threshold_minor,omitempty"`
	// MaxQuantity bounds the quantity an approver may set; an approver may
	// also set at most MaxApprovalFactor times the planned quantity.
	MaxQuantity       int64   `json:"max_quantity,omitempty"`
	MaxApprovalFactor float64 `json:"max_approval_factor,omitempty"`
	// ApprovalTimeout: an order awaiting approval longer expires.
	ApprovalTimeout Duration `json:"approval_timeout,omitempty"`
	// ReceiptGrace past the due time (sent + lead time) makes an order late
	// (status late, a supplier_late alert).
	ReceiptGrace Duration `json:"receipt_grace,omitempty"`
	// GiveUpAfter past the due time the workflow stops waiting for a late
	// order (it stays late, its alert open, and no longer counts as on order).
	GiveUpAfter Duration `json:"give_up_after,omitempty"`
	// PollInterval between looks for a receipt (a "receipt" signal looks at once).
	PollInterval Duration `json:"poll_interval,omitempty"`
	// ReviewInterval between reviews of the stock (a "check" signal reviews at once).
	ReviewInterval Duration `json:"review_interval,omitempty"`
	// CyclesPerRun reviews before the workflow continues as new.
	CyclesPerRun int `json:"cycles_per_run,omitempty"`
}

// DefaultReplenishPolicy is the policy without configuration.
func DefaultReplenishPolicy() ReplenishPolicy {
	return ReplenishPolicy{
		ServiceLevel: 0.95, HistoryDays: 56, CoverDays: 14, DefaultLeadTimeDays: 7,
		ApprovalThresholdMinor: 50000, MaxQuantity: 100000, MaxApprovalFactor: 3,
		ApprovalTimeout: Duration(48 * time.Hour), ReceiptGrace: Duration(24 * time.Hour),
		GiveUpAfter: Duration(30 * 24 * time.Hour), PollInterval: Duration(time.Hour),
		ReviewInterval: Duration(6 * time.Hour), CyclesPerRun: 20,
	}
}

// Or returns p with its zero fields taken from d.
func (p ReplenishPolicy) Or(d ReplenishPolicy) ReplenishPolicy {
	pick := func(a, b *float64) {
		if *a == 0 {
			*a = *b
		}
	}
	pick(&p.ServiceLevel, &d.ServiceLevel)
	pick(&p.CoverDays, &d.CoverDays)
	pick(&p.MaxApprovalFactor, &d.MaxApprovalFactor)
	for _, f := range []struct{ a, b *int }{{&p.HistoryDays, &d.HistoryDays}, {&p.DefaultLeadTimeDays, &d.DefaultLeadTimeDays}, {&p.CyclesPerRun, &d.CyclesPerRun}} {
		if *f.a == 0 {
			*f.a = *f.b
		}
	}
	for _, f := range []struct{ a, b *int64 }{{&p.ApprovalThresholdMinor, &d.ApprovalThresholdMinor}, {&p.MaxQuantity, &d.MaxQuantity}} {
		if *f.a == 0 {
			*f.a = *f.b
		}
	}
	for _, f := range []struct{ a, b *Duration }{{&p.ApprovalTimeout, &d.ApprovalTimeout}, {&p.ReceiptGrace, &d.ReceiptGrace},
		{&p.GiveUpAfter, &d.GiveUpAfter}, {&p.PollInterval, &d.PollInterval}, {&p.ReviewInterval, &d.ReviewInterval}} {
		if *f.a == 0 {
			*f.a = *f.b
		}
	}
	return p
}

// Validate checks a complete policy, naming the first bad field.
func (p ReplenishPolicy) Validate() error {
	switch {
	case !(p.ServiceLevel >= 0.5 && p.ServiceLevel < 1):
		return fmt.Errorf("service_level %v: want 0.5 <= level < 1", p.ServiceLevel)
	case p.HistoryDays < 2 || p.HistoryDays > 3660:
		return fmt.Errorf("history_days %d: want 2 to 3660", p.HistoryDays)
	case !(p.CoverDays >= 0 && p.CoverDays <= 365):
		return fmt.Errorf("cover_days %v: want 0 to 365", p.CoverDays)
	case p.DefaultLeadTimeDays < 0 || p.DefaultLeadTimeDays > 365:
		return fmt.Errorf("default_lead_time_days %d: want 0 to 365", p.DefaultLeadTimeDays)
	case p.ApprovalThresholdMinor < 0:
		return fmt.Errorf("approval_threshold_minor %d: want 0 or more", p.ApprovalThresholdMinor)
	case p.MaxQuantity < 1:
		return fmt.Errorf("max_quantity %d: want at least 1", p.MaxQuantity)
	case !(p.MaxApprovalFactor >= 1):
		return fmt.Errorf("max_approval_factor %v: want at least 1", p.MaxApprovalFactor)
	case p.ApprovalTimeout < Duration(time.Second), p.ReceiptGrace < 0, p.GiveUpAfter < 0:
		return fmt.Errorf("approval_timeout %v, receipt_grace %v, give_up_after %v: want at least 1s, 0 or more, 0 or more",
			time.Duration(p.ApprovalTimeout), time.Duration(p.ReceiptGrace), time.Duration(p.GiveUpAfter))
	case p.PollInterval < Duration(time.Second) || p.ReviewInterval < Duration(time.Second):
		return fmt.Errorf("poll_interval %v, review_interval %v: want at least 1s",
			time.Duration(p.PollInterval), time.Duration(p.ReviewInterval))
	case p.CyclesPerRun < 1:
		return fmt.Errorf("cycles_per_run %d: want at least 1", p.CyclesPerRun)
	}
	return nil
}

// DemandSource returns the daily demand of a product in a warehouse over
// the days [from, to), oldest first, zeros included. The default reads the
// stored sales; a forecast can take its place.
type DemandSource func(ctx context.Context, k store.StockKey, from, to time.Time) ([]float64, error)

// Replenishment drafts, approves, sends and receives purchase orders.
type Replenishment struct {
	DB *store.DB
	// Client and TaskQueue start the per-product workflows (StartReplenishers).
	Client    client.Client
	TaskQueue string
	// Policy is the configured policy; a run's input overrides its fields.
	Policy ReplenishPolicy
	// Demand: nil reads DB.DailySales.
	Demand DemandSource
}

func invalidInput(err error) error {
	return temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
}

// stateErr makes a forbidden status change non-retryable: retrying cannot help.
func stateErr(err error) error {
	if errors.Is(err, store.ErrPOState) || errors.Is(err, store.ErrNotFound) {
		return temporal.NewNonRetryableApplicationError(err.Error(), "PurchaseOrderState", err)
	}
	return err
}

// PlanInput is one review of one product and warehouse.
type PlanInput struct {
	Key             store.StockKey
	Policy          ReplenishPolicy
	RunID, Workflow string
	Cycle           int
}

// PlanResult is the stock, the supply terms, the reorder plan and the
// orders in flight.
type PlanResult struct {
	// Policy is the effective policy (input, then config, then defaults):
	// the workflow's timers and threshold follow it.
	Policy  ReplenishPolicy
	OnHand  int64
	Supply  store.SupplyTerms
	Plan    analytics.ReorderPlan
	Open    []store.PurchaseOrder
	Pending *store.PurchaseOrder
}

// PlanReplenishment reads the stock, supply terms, demand history and
// orders in flight of one product and warehouse, computes its reorder point
// and what to order, and stores the reorder point in reorder_points (so the
// hot path's low-stock alerts use it) with the lineage of the review. It
// only reads and upserts: running it twice gives the same rows.
func (a *Replenishment) PlanReplenishment(ctx context.Context, in PlanInput) (PlanResult, error) {
	p := in.Policy.Or(a.Policy).Or(DefaultReplenishPolicy())
	if err := p.Validate(); err != nil {
		return PlanResult{}, invalidInput(fmt.Errorf("replenishment policy: %w", err))
	}
	if in.Key.ProductID == "" || in.Key.WarehouseID == "" {
		return PlanResult{}, invalidInput(errors.New("plan replenishment: product and warehouse are required"))
	}
	started := time.Now().UTC()
	st, err := a.DB.ReplenishmentState(ctx, in.Key, started, time.Duration(p.GiveUpAfter))
	if err != nil {
		return PlanResult{}, err
	}
	to := started.Truncate(24 * time.Hour)
	from := to.AddDate(0, 0, -p.HistoryDays)
	demand := a.Demand
	if demand == nil {
		demand = a.DB.DailySales
	}
	daily, err := demand(ctx, in.Key, from, to)
	if err != nil {
		return PlanResult{}, err
	}
	lead := st.Supply.LeadTimeDays
	if !st.Supply.Known || lead <= 0 {
		lead = p.DefaultLeadTimeDays
	}
	var onOrder int64
	for _, o := range st.Open {
		onOrder += o.Quantity
	}
	plan, err := analytics.PlanReorder(analytics.ReorderPolicy{
		ServiceLevel: p.ServiceLevel, LeadTimeDays: float64(lead), CoverDays: p.CoverDays,
	}, analytics.DailyDemandStats(daily), st.OnHand, onOrder)
	if err != nil {
		return PlanResult{}, invalidInput(err)
	}
	if plan.DemandHistoryOK && plan.MeanDaily > 0 {
		if err := a.DB.SetReorderPoint(ctx, in.Key, plan.ReorderPoint); err != nil {
			return PlanResult{}, err
		}
	}
	if err := a.DB.RecordLineage(ctx, store.Lineage{
		RunID: in.RunID, Workflow: in.Workflow, Step: fmt.Sprintf("plan:%d", in.Cycle), Started: started,
		Inputs: map[string]any{
			"tables": []string{"inventory_movements", "stock_levels", "purchase_orders"},
			"key":    in.Key.String(), "sales_from": from, "sales_to": to, "policy": p,
			"supply": st.Supply, "on_hand": st.OnHand, "on_order": onOrder,
		},
		Outputs: map[string]any{"tables": []string{"reorder_points"}, "plan": plan},
	}); err != nil {
		return PlanResult{}, err
	}
	return PlanResult{Policy: p, OnHand: st.OnHand, Supply: st.Supply, Plan: plan, Open: st.Open, Pending: st.Pending}, nil
}

// DraftInput is a purchase order to draft.
type DraftInput struct {
	PO            store.PurchaseOrder
	NeedsApproval bool
}

// DraftPurchaseOrder stores a purchase order under its idempotency key
// (awaiting approval, or approved when below the threshold) with its
// lineage; a retry returns the stored order.
func (a *Replenishment) DraftPurchaseOrder(ctx context.Context, in DraftInput) (store.PurchaseOrder, error) {
	if in.PO.ID == "" || in.PO.Quantity <= 0 {
		return store.PurchaseOrder{}, invalidInput(fmt.Errorf("draft purchase order: an id and a positive quantity are required, got %q and %d", in.PO.ID, in.PO.Quantity))
	}
	return a.DB.DraftPurchaseOrder(ctx, in.PO, in.NeedsApproval, store.Lineage{
		RunID: in.PO.RunID, Workflow: ReplenishWorkflowType, Step: "draft:" + in.PO.ID, Started: time.Now().UTC(),
		Inputs: map[string]any{
			"tables": []string{"inventory_movements", "stock_levels", "purchase_orders"},
			"key":    store.StockKey{ProductID: in.PO.ProductID, WarehouseID: in.PO.WarehouseID}.String(), "plan": in.PO.Plan,
		},
		Outputs: map[string]any{"po_id": in.PO.ID, "quantity": in.PO.Quantity, "value_minor": in.PO.Quantity * in.PO.UnitCostMinor},
	})
}

// DecideInput is an approver's decision on an order awaiting approval.
type DecideInput struct {
	POID     string
	Approve  bool
	By, Note string
	// Quantity, when > 0, replaces the planned quantity.
	Quantity int64
}

// DecidePurchaseOrder records an approval or rejection.
func (a *Replenishment) DecidePurchaseOrder(ctx context.Context, in DecideInput) (store.PurchaseOrder, error) {
	p, err := a.DB.DecidePurchaseOrder(ctx, in.POID, in.Approve, in.By, in.Note, in.Quantity)
	return p, stateErr(err)
}

// ExpirePurchaseOrder expires an order whose approval did not come in time.
func (a *Replenishment) ExpirePurchaseOrder(ctx context.Context, poID string) (store.PurchaseOrder, error) {
	p, err := a.DB.ExpirePurchaseOrder(ctx, poID)
	return p, stateErr(err)
}

// SendPurchaseOrder marks an approved order sent, due a lead time later.
// ShopPulse has no supplier integration: "sent" is the record that it may
// go out, and the start of the wait for its receipt.
func (a *Replenishment) SendPurchaseOrder(ctx context.Context, poID string) (store.PurchaseOrder, error) {
	p, err := a.DB.SendPurchaseOrder(ctx, poID)
	return p, stateErr(err)
}

// ReceiveResult is a look for an order's receipt.
type ReceiveResult struct {
	PO       store.PurchaseOrder
	Received bool
}

// ReceivePurchaseOrder looks for the order's receipt among the stored
// inventory movements and, when there is one, marks the order received
// (see store.ReceivePurchaseOrder).
func (a *Replenishment) ReceivePurchaseOrder(ctx context.Context, poID string) (ReceiveResult, error) {
	p, ok, err := a.DB.ReceivePurchaseOrder(ctx, poID)
	return ReceiveResult{PO: p, Received: ok}, stateErr(err)
}

// MarkPurchaseOrderLate marks a sent order late and raises its
// supplier_late alert.
func (a *Replenishment) MarkPurchaseOrderLate(ctx context.Context, poID string) (store.PurchaseOrder, error) {
	p, err := a.DB.MarkPurchaseOrderLate(ctx, poID, time.Now().UTC())
	return p, stateErr(err)
}

// StartInput is one page of the replenishment scan.
type StartInput struct {
	// After is the last key of the previous page (zero: the first page).
	After store.StockKey
	Limit int
	// Policy overrides the configured policy's fields.
	Policy ReplenishPolicy
	// Cycles, when > 0, makes each started workflow stop after that many
	// reviews (tests and one-off runs); 0 runs them for good.
	Cycles int
}

// StartResult is what one page did.
type StartResult struct {
	Keys int
	Next store.StockKey
	Done bool
}

// ReplenishInput is the input of the per product and warehouse workflow
// (workflows.ReplenishProduct).
type ReplenishInput struct {
	ProductID   string          `json:"product_id"`
	WarehouseID string          `json:"warehouse_id"`
	Policy      ReplenishPolicy `json:"policy,omitzero"`
	// Cycles > 0 stops the workflow after that many reviews.
	Cycles int `json:"cycles,omitempty"`
	// Done counts the reviews of earlier runs (continue-as-new).
	Done int `json:"done,omitempty"`
}

// startConcurrency bounds the signal-with-start calls in flight.
const startConcurrency = 8

// StartReplenishers makes sure each product and warehouse of one page of
// stock_levels has its replenishment workflow running, and asks it for a
// review now: signal-with-start, so a running one is signalled "check" and
// a missing one is started. Safe to repeat.
func (a *Replenishment) StartReplenishers(ctx context.Context, in StartInput) (StartResult, error) {
	if a.Client == nil || a.TaskQueue == "" {
		return StartResult{}, invalidInput(errors.New("start replenishers: no Temporal client or task queue configured"))
	}
	p := in.Policy.Or(a.Policy).Or(DefaultReplenishPolicy())
	if err := p.Validate(); err != nil {
		return StartResult{}, invalidInput(fmt.Errorf("replenishment policy: %w", err))
	}
	if in.Limit <= 0 {
		in.Limit = 500
	}
	keys, err := a.DB.ReplenishmentKeys(ctx, in.After, in.Limit)
	if err != nil {
		return StartResult{}, err
	}
	// Signal-with-start is one round trip per pair: a few at a time. The
	// heartbeat carries how many of the page are done, so a retry (a slow
	// server times a call out) resumes there instead of signalling every
	// running workflow again. A pair added to stock_levels meanwhile may
	// shift the page by one: the next scan picks it up.
	done := 0
	if activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &done); err != nil || done < 0 || done > len(keys) {
			done = 0
		}
	}
	for done < len(keys) {
		chunk := keys[done:min(done+startConcurrency, len(keys))]
		var g errgroup.Group
		for _, k := range chunk {
			g.Go(func() error {
				_, err := a.Client.SignalWithStartWorkflow(ctx, ReplenishWorkflowID(k), SignalReplenishCheck, nil, client.StartWorkflowOptions{
					ID:                    ReplenishWorkflowID(k),
					TaskQueue:             a.TaskQueue,
					WorkflowIDReusePolicy: enums.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
				}, ReplenishWorkflowType, ReplenishInput{ProductID: k.ProductID, WarehouseID: k.WarehouseID, Policy: p, Cycles: in.Cycles})
				if err != nil {
					return fmt.Errorf("start replenishment of %s: %w", k, err)
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return StartResult{}, err
		}
		done += len(chunk)
		activity.RecordHeartbeat(ctx, done)
	}
	res := StartResult{Keys: len(keys), Done: len(keys) < in.Limit}
	if len(keys) > 0 {
		res.Next = keys[len(keys)-1]
	}
	return res, nil
}
