package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Registered names of the backfill workflows.
const (
	NameBackfill    = "Backfill"
	NameBackfillDay = "BackfillDay"
)

// Backfill defaults.
const (
	DefaultBackfillConcurrency = 4
	// DefaultBackfillDaysPerRun is how many days one run starts before it
	// continues as new, which keeps its history short.
	DefaultBackfillDaysPerRun = 60
	// DefaultBackfillWatermarkWait is the watermark wait of backfilled
	// rollups: past days are complete, or will not become so by waiting.
	DefaultBackfillWatermarkWait = time.Minute
	// DefaultBackfillDayTimeout bounds one day's child workflow.
	DefaultBackfillDayTimeout = 2 * time.Hour
	// MaxBackfillDays bounds one backfill's range.
	MaxBackfillDays = 3660
)

// BackfillRun is one child workflow a target runs for a day.
type BackfillRun struct {
	// Workflow is the registered workflow type.
	Workflow string
	// Key names the run within the day ("", "h13"); it makes the child
	// workflow ID, so it must be stable.
	Key   string
	Input any
}

// BackfillTarget returns the runs that redo one UTC day of a workflow.
type BackfillTarget func(day time.Time, in BackfillInput) []BackfillRun

// backfillTargets are the workflows Backfill can re-run, by name. Register
// more with RegisterBackfillTarget at init; the map is read by key only, never
// ranged, so its order cannot reach a workflow's decisions.
var backfillTargets = map[string]BackfillTarget{
	NameRollupDaily: func(day time.Time, in BackfillInput) []BackfillRun {
		return []BackfillRun{{Workflow: NameRollupDaily, Input: RollupDailyInput{Day: day, WatermarkWait: in.WatermarkWait}}}
	},
	NameRevenueRollupHourly: func(day time.Time, in BackfillInput) []BackfillRun {
		runs := make([]BackfillRun, 0, 24)
		for h := range 24 {
			runs = append(runs, BackfillRun{
				Workflow: NameRevenueRollupHourly, Key: fmt.Sprintf("h%02d", h),
				Input: RollupInput{Hour: day.Add(time.Duration(h) * time.Hour), WatermarkWait: in.WatermarkWait},
			})
		}
		return runs
	},
}

// RegisterBackfillTarget makes a workflow re-runnable by Backfill under name.
// Call it from an init function: registering while workers run is a race.
func RegisterBackfillTarget(name string, t BackfillTarget) { backfillTargets[name] = t }

// BackfillTargets returns the names Backfill accepts, sorted.
func BackfillTargets() []string {
	names := make([]string, 0, len(backfillTargets))
	for n := range backfillTargets {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// BackfillInput is the backfill's input, as typed at the `temporal` CLI:
// {"workflow": "RollupDaily", "from": "2026-10-01", "to": "2026-10-31"}.
type BackfillInput struct {
	// Workflow names the target (BackfillTargets).
	Workflow string `json:"workflow"`
	// From and To are the first and last UTC day, YYYY-MM-DD, inclusive.
	From string `json:"from"`
	To   string `json:"to"`
	// Concurrency is how many days run at once; default DefaultBackfillConcurrency.
	Concurrency int `json:"concurrency,omitempty"`
	// WatermarkWait of the re-run rollups; default DefaultBackfillWatermarkWait.
	WatermarkWait Duration `json:"watermark_wait,omitempty"`
	// DayTimeout bounds each day's child; default DefaultBackfillDayTimeout.
	DayTimeout Duration `json:"day_timeout,omitempty"`
	// DaysPerRun: days started before continuing as new; default DefaultBackfillDaysPerRun.
	DaysPerRun int `json:"days_per_run,omitempty"`

	// Carried across continue-as-new: days done and days failed so far.
	Done   int      `json:"done,omitempty"`
	Failed []string `json:"failed,omitempty"`
}

// BackfillResult counts the days re-run.
type BackfillResult struct {
	Workflow string
	From, To string
	Days     int
	Failed   []string
}

func (in *BackfillInput) normalise() (from, to time.Time, err error) {
	bad := func(msg string) error {
		return temporal.NewNonRetryableApplicationError("backfill input: "+msg, "InvalidInput", nil)
	}
	if _, ok := backfillTargets[in.Workflow]; !ok {
		return from, to, bad(fmt.Sprintf("workflow %q: want one of %s", in.Workflow, strings.Join(BackfillTargets(), ", ")))
	}
	if from, err = time.Parse(time.DateOnly, in.From); err != nil {
		return from, to, bad(fmt.Sprintf("from %q: want a date YYYY-MM-DD", in.From))
	}
	if to, err = time.Parse(time.DateOnly, in.To); err != nil {
		return from, to, bad(fmt.Sprintf("to %q: want a date YYYY-MM-DD", in.To))
	}
	if to.Before(from) {
		return from, to, bad(fmt.Sprintf("to %s is before from %s", in.To, in.From))
	}
	if days := int(to.Sub(from).Hours()/24) + 1; days > MaxBackfillDays {
		return from, to, bad(fmt.Sprintf("%d days: at most %d per backfill", days, MaxBackfillDays))
	}
	if in.Concurrency <= 0 {
		in.Concurrency = DefaultBackfillConcurrency
	}
	if in.WatermarkWait <= 0 {
		in.WatermarkWait = Duration(DefaultBackfillWatermarkWait)
	}
	if in.DayTimeout <= 0 {
		in.DayTimeout = Duration(DefaultBackfillDayTimeout)
	}
	if in.DaysPerRun <= 0 {
		in.DaysPerRun = DefaultBackfillDaysPerRun
	}
	return from, to, nil
}

// BackfillDayID is the workflow ID of one day of a backfill: the backfill's
// own ID, the target and the day. It is the same in every run of the
// backfill (continue-as-new keeps the workflow ID), so a resumed or repeated
// backfill addresses the same children.
func BackfillDayID(backfillID, target string, day time.Time) string {
	return backfillID + "/" + target + "/" + day.Format(time.DateOnly)
}

// Backfill re-runs a workflow over a range of UTC days, one BackfillDay child
// per day, at most Concurrency at once, in date order. The rollups and data
// quality checks it re-runs replace their period's rows, so running the same
// backfill twice changes nothing. After DaysPerRun days (or when Temporal
// suggests it) it waits for the days in flight and continues as new from the
// next day, so a range of years keeps a short history; a day that fails is
// recorded and the others go on, and the backfill fails at the end naming
// the failed days (run it again over them: it is idempotent).
func Backfill(ctx workflow.Context, in BackfillInput) (BackfillResult, error) {
	from, to, err := in.normalise()
	if err != nil {
		return BackfillResult{}, err
	}
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	log := workflow.GetLogger(ctx)
	opts := in
	opts.Done, opts.Failed = 0, nil
	next := from
	started := 0
	inFlight := 0
	sel := workflow.NewSelector(ctx)
	for {
		for inFlight < in.Concurrency && !next.After(to) && started < in.DaysPerRun && !workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			day := next
			cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				WorkflowID:               BackfillDayID(id, in.Workflow, day),
				WorkflowExecutionTimeout: time.Duration(in.DayTimeout),
				WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
				ParentClosePolicy:        enumspb.PARENT_CLOSE_POLICY_TERMINATE,
				RetryPolicy:              &temporal.RetryPolicy{InitialInterval: 10 * time.Second, MaximumAttempts: 2},
			})
			f := workflow.ExecuteChildWorkflow(cctx, NameBackfillDay, BackfillDayInput{Workflow: in.Workflow, Day: day, Backfill: opts})
			sel.AddFuture(f, func(f workflow.Future) {
				inFlight--
				if err := f.Get(ctx, nil); err != nil {
					log.Error("backfill day failed", "day", day.Format(time.DateOnly), "error", err)
					in.Failed = append(in.Failed, day.Format(time.DateOnly))
					return
				}
				in.Done++
			})
			inFlight++
			started++
			next = next.AddDate(0, 0, 1)
		}
		if inFlight == 0 {
			break
		}
		sel.Select(ctx)
	}
	if !next.After(to) {
		in.From = next.Format(time.DateOnly)
		return BackfillResult{}, workflow.NewContinueAsNewError(ctx, NameBackfill, in)
	}
	slices.Sort(in.Failed)
	res := BackfillResult{Workflow: in.Workflow, From: from.Format(time.DateOnly), To: in.To, Days: in.Done, Failed: in.Failed}
	if len(in.Failed) > 0 {
		return res, temporal.NewApplicationError(
			fmt.Sprintf("backfill of %s: %d days failed: %s", in.Workflow, len(in.Failed), strings.Join(in.Failed, ", ")), "DaysFailed", res)
	}
	return res, nil
}

// BackfillDayInput is one day of a backfill.
type BackfillDayInput struct {
	Workflow string
	Day      time.Time
	// Backfill carries the options the target reads (watermark wait, ...).
	Backfill BackfillInput
}

// BackfillDayResult counts the runs of the day.
type BackfillDayResult struct {
	Runs int
}

// BackfillDay runs the target's runs of one day as child workflows, one after
// another, with IDs derived from its own (so they are stable too).
func BackfillDay(ctx workflow.Context, in BackfillDayInput) (BackfillDayResult, error) {
	target, ok := backfillTargets[in.Workflow]
	if !ok {
		return BackfillDayResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("backfill day: unknown workflow %q", in.Workflow), "InvalidInput", nil)
	}
	id := workflow.GetInfo(ctx).WorkflowExecution.ID
	var res BackfillDayResult
	for _, r := range target(in.Day.UTC(), in.Backfill) {
		cid := id + "/" + r.Workflow
		if r.Key != "" {
			cid += "/" + r.Key
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:               cid,
			WorkflowExecutionTimeout: time.Duration(in.Backfill.DayTimeout),
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			ParentClosePolicy:        enumspb.PARENT_CLOSE_POLICY_TERMINATE,
		})
		if err := workflow.ExecuteChildWorkflow(cctx, r.Workflow, r.Input).Get(ctx, nil); err != nil {
			return res, fmt.Errorf("%s %s: %w", r.Workflow, r.Key, err)
		}
		res.Runs++
	}
	return res, nil
}
