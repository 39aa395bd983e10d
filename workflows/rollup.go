package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

// Defaults of the rollup workflow, used when its input leaves them empty (a
// Temporal Schedule starts it with an empty input).
const (
	DefaultOrdersTopic   = "shop.orders.v1"
	DefaultWatermarkWait = 10 * time.Minute
	DefaultWatermarkPoll = 15 * time.Second
)

// RollupInput selects the hour to roll up. Every field is optional.
type RollupInput struct {
	// Hour is any time within the hour to roll up. Empty means the last
	// complete hour before the scheduled (or actual) start time.
	Hour time.Time `json:"hour,omitempty"`
	// Topic whose watermarks must pass the hour's end.
	Topic string `json:"topic,omitempty"`
	// WatermarkWait is how long to wait for complete data before rolling up
	// what there is, marked incomplete.
	WatermarkWait Duration `json:"watermark_wait,omitempty"`
}

// RollupResult is what the rollup wrote.
type RollupResult struct {
	Hour         time.Time
	Complete     bool
	Lagging      []int
	Rows         int64
	Orders       int64
	RevenueMinor int64
}

// scheduledStartTime is the search attribute a Temporal Schedule sets on the
// workflows it starts.
var scheduledStartTime = temporal.NewSearchAttributeKeyTime("TemporalScheduledStartTime")

// RevenueRollupHourly rolls revenue_minute up into revenue_hourly for one
// hour, once every partition's watermark has passed the hour's end (or the
// wait ran out, which the result and the rows record). Re-running it for the
// same hour gives the same rows.
func RevenueRollupHourly(ctx workflow.Context, in RollupInput) (RollupResult, error) {
	if in.Topic == "" {
		in.Topic = DefaultOrdersTopic
	}
	if in.WatermarkWait <= 0 {
		in.WatermarkWait = Duration(DefaultWatermarkWait)
	}
	hour := in.Hour.UTC().Truncate(time.Hour)
	if in.Hour.IsZero() {
		at := workflow.Now(ctx)
		if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime); ok {
			at = t
		}
		hour = at.UTC().Truncate(time.Hour).Add(-time.Hour)
	}
	end := hour.Add(time.Hour)
	log := workflow.GetLogger(ctx)
	upsertSearch(ctx, SearchPeriod.ValueSet(PeriodHour(hour)), SearchTopic.ValueSet(in.Topic))

	checkCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 5},
	})
	deadline := workflow.Now(ctx).Add(time.Duration(in.WatermarkWait))
	var wm activities.WatermarkResult
	for {
		if err := workflow.ExecuteActivity(checkCtx, activities.NameCheckWatermark,
			activities.WatermarkInput{Topic: in.Topic, Until: end}).Get(ctx, &wm); err != nil {
			return RollupResult{}, fmt.Errorf("check watermark: %w", err)
		}
		if wm.Ready || !workflow.Now(ctx).Before(deadline) {
			break
		}
		if err := workflow.Sleep(ctx, DefaultWatermarkPoll); err != nil {
			return RollupResult{}, err
		}
	}
	if !wm.Ready {
		log.Warn("rolling up incomplete data: watermarks have not passed the hour's end",
			"hour", hour, "lagging_partitions", wm.Lagging, "waited", time.Duration(in.WatermarkWait))
	}

	rollCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	info := workflow.GetInfo(ctx)
	var out activities.RollupHourResult
	if err := workflow.ExecuteActivity(rollCtx, activities.NameRollupRevenueHour, activities.RollupHourInput{
		Hour: hour, RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
		Topic: in.Topic, Complete: wm.Ready,
	}).Get(ctx, &out); err != nil {
		return RollupResult{}, fmt.Errorf("roll up %s: %w", hour.Format(time.RFC3339), err)
	}
	return RollupResult{
		Hour: hour, Complete: wm.Ready, Lagging: wm.Lagging,
		Rows: out.Rows, Orders: out.Orders, RevenueMinor: out.RevenueMinor,
	}, nil
}
