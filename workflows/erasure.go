package workflows

import (
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/store"
)

// NameEraseCustomer is the registered name of EraseCustomer.
const NameEraseCustomer = "EraseCustomer"

// DefaultErasureDeadline is how long an erasure may take before it alerts.
const DefaultErasureDeadline = 24 * time.Hour

// ErasureWorkflowID is the ID to start a request's erasure under, so a
// request is carried out once at a time.
func ErasureWorkflowID(requestID string) string { return "shoppulse-erasure-" + requestID }

// ErasureInput is one GDPR erasure request. It carries ids only: the
// customer's id and the request's.
type ErasureInput struct {
	RequestID  string `json:"request_id"`
	CustomerID string `json:"customer_id"`
	// RequestedAt is when the request was made; default the workflow's start.
	RequestedAt time.Time `json:"requested_at,omitempty"`
	// Deadline after RequestedAt; default DefaultErasureDeadline. When it
	// passes before the erasure is done, an alert is raised (and the work
	// goes on); the audit records the overrun.
	Deadline Duration `json:"deadline,omitempty"`
}

// ErasureResult is what the erasure did: counts, days and the pseudonym.
type ErasureResult struct {
	RequestID      string
	Pseudonym      string
	Rows           map[string]int64
	RecomputedDays []time.Time
	Overdue        bool
	Already        bool
}

// EraseCustomer erases one customer's personal data: every table of the
// personal data registry (store.PersonalColumns) in one transaction with the
// audit row, then the daily rollups of the complete days the customer's
// facts touched are recomputed (child RollupDaily runs), and the audit
// records the end. If the deadline passes first, an erasure_overdue alert is
// raised. Running it again for a request changes nothing.
func EraseCustomer(ctx workflow.Context, in ErasureInput) (ErasureResult, error) {
	if strings.TrimSpace(in.RequestID) == "" || strings.TrimSpace(in.CustomerID) == "" {
		return ErasureResult{}, temporal.NewNonRetryableApplicationError("erasure input: request_id and customer_id are required", "InvalidInput", nil)
	}
	if in.RequestedAt.IsZero() {
		in.RequestedAt = workflow.GetInfo(ctx).WorkflowStartTime
	}
	if in.Deadline <= 0 {
		in.Deadline = Duration(DefaultErasureDeadline)
	}
	deadline := in.RequestedAt.Add(time.Duration(in.Deadline))
	info := workflow.GetInfo(ctx)

	var res ErasureResult
	var workErr error
	done := false
	workflow.Go(ctx, func(ctx workflow.Context) {
		defer func() { done = true }()
		res, workErr = erase(ctx, in, deadline, info.WorkflowExecution)
	})

	// Wait for the work or the deadline, whichever comes first.
	overdue := true
	if wait := deadline.Sub(workflow.Now(ctx)); wait > 0 {
		ok, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return done })
		if err != nil {
			return res, err
		}
		overdue = !ok
	}
	if overdue {
		workflow.GetLogger(ctx).Error("erasure past its deadline", "request_id", in.RequestID, "deadline", deadline)
		actx := workflow.WithActivityOptions(ctx, alertActivityOptions)
		if err := workflow.ExecuteActivity(actx, activities.NameRaiseAlert, activities.RaiseAlertInput{
			Type: activities.AlertErasureOverdue, Entity: "erasure " + in.RequestID, Severity: store.SeverityCritical,
			DedupKey: "erasure_overdue:" + in.RequestID, At: workflow.Now(ctx),
			Details: map[string]any{"request_id": in.RequestID, "deadline": deadline, "workflow_id": info.WorkflowExecution.ID},
		}).Get(ctx, nil); err != nil {
			return res, fmt.Errorf("alert overdue erasure: %w", err)
		}
		if err := workflow.Await(ctx, func() bool { return done }); err != nil {
			return res, err
		}
	}
	if workErr != nil {
		return res, workErr
	}
	res.Overdue = overdue || workflow.Now(ctx).After(deadline)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 20},
	})
	if err := workflow.ExecuteActivity(actx, activities.NameFinishErasure, activities.FinishErasureInput{
		RequestID: in.RequestID, Days: res.RecomputedDays, Overdue: res.Overdue,
	}).Get(ctx, nil); err != nil {
		return res, fmt.Errorf("finish erasure: %w", err)
	}
	return res, nil
}

// erase runs the erasure and the recomputation.
func erase(ctx workflow.Context, in ErasureInput, deadline time.Time, we workflow.Execution) (ErasureResult, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 20},
	})
	var out activities.EraseResult
	if err := workflow.ExecuteActivity(actx, activities.NameEraseCustomer, activities.EraseInput{
		RequestID: in.RequestID, CustomerID: in.CustomerID, Requested: in.RequestedAt, Deadline: deadline,
		WorkflowID: we.ID, RunID: we.RunID,
	}).Get(ctx, &out); err != nil {
		return ErasureResult{RequestID: in.RequestID}, fmt.Errorf("erase: %w", err)
	}
	res := ErasureResult{RequestID: in.RequestID, Pseudonym: out.Pseudonym, Rows: out.Rows, Already: out.Already}
	// Recompute the complete days (before today) the customer's facts are
	// in; today's rollup runs on its schedule.
	today := workflow.Now(ctx).UTC().Truncate(24 * time.Hour)
	for _, day := range out.Days {
		if !day.Before(today) {
			continue
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:               we.ID + "/" + NameRollupDaily + "/" + day.Format(time.DateOnly),
			WorkflowExecutionTimeout: time.Hour,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		})
		if err := workflow.ExecuteChildWorkflow(cctx, NameRollupDaily, RollupDailyInput{
			Day: day, WatermarkWait: Duration(DefaultBackfillWatermarkWait),
		}).Get(ctx, nil); err != nil {
			return res, fmt.Errorf("recompute %s: %w", day.Format(time.DateOnly), err)
		}
		res.RecomputedDays = append(res.RecomputedDays, day)
	}
	return res, nil
}
