package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/store"
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
	// what there is, marked incomplete (and alerted on).
	WatermarkWait Duration `json:"watermark_wait,omitempty"`
	// Topics whose watermarks must also pass the hour's end for the
	// traffic, funnel and payments rollups; default DefaultRollupTopics.
	Topics []string `json:"topics,omitempty"`
}

// DefaultRollupTopics are the topics the period rollups read from: orders
// (sales), clickstream (traffic and funnel) and payments.
var DefaultRollupTopics = []string{DefaultOrdersTopic, DefaultClickstreamTopic, DefaultPaymentsTopic}

// RollupResult is what the rollup wrote.
type RollupResult struct {
	Hour         time.Time
	Complete     bool
	Lagging      []int
	Rows         int64
	Orders       int64
	RevenueMinor int64
	// Period is what RollupPeriod wrote (sales by dimension with margin,
	// traffic and funnel, payments).
	Period activities.RollupPeriodResult
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

	// Version 1 waits for every rollup topic, alerts when the wait runs
	// out, and rolls up the period tables beside revenue_hourly.
	v := workflow.GetVersion(ctx, "rollup-periods", workflow.DefaultVersion, 1)
	topics := []string{in.Topic}
	if v >= 1 {
		topics = rollupTopics(in.Topic, in.Topics)
	}
	wm, err := waitForWatermarks(ctx, topics, end, time.Duration(in.WatermarkWait), v >= 1)
	if err != nil {
		return RollupResult{}, err
	}
	if !wm.Ready {
		log.Warn("rolling up incomplete data: watermarks have not passed the hour's end",
			"hour", hour, "lagging_partitions", wm.Lagging, "waited", time.Duration(in.WatermarkWait))
		if v >= 1 {
			if err := alertIncomplete(ctx, store.GrainHour, hour, wm, in.WatermarkWait); err != nil {
				return RollupResult{}, err
			}
		}
	}

	// revenue_hourly reads the orders topic only: it is complete when that
	// topic's partitions have passed the hour, whatever the others say.
	ordersReady := wm.Ready || !slices.ContainsFunc(wm.LaggingPartitions, func(p string) bool {
		return strings.HasPrefix(p, in.Topic+"/")
	})
	rollCtx := workflow.WithActivityOptions(ctx, rollupActivityOptions)
	info := workflow.GetInfo(ctx)
	var out activities.RollupHourResult
	if err := workflow.ExecuteActivity(rollCtx, activities.NameRollupRevenueHour, activities.RollupHourInput{
		Hour: hour, RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
		Topic: in.Topic, Complete: ordersReady,
	}).Get(ctx, &out); err != nil {
		return RollupResult{}, fmt.Errorf("roll up %s: %w", hour.Format(time.RFC3339), err)
	}
	res := RollupResult{
		Hour: hour, Complete: ordersReady, Lagging: wm.Lagging,
		Rows: out.Rows, Orders: out.Orders, RevenueMinor: out.RevenueMinor,
	}
	if v >= 1 {
		if err := workflow.ExecuteActivity(rollCtx, activities.NameRollupPeriod, activities.RollupPeriodInput{
			Grain: store.GrainHour, Start: hour, RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
			Topics: topics, Complete: wm.Ready,
		}).Get(ctx, &res.Period); err != nil {
			return res, fmt.Errorf("roll up periods of %s: %w", hour.Format(time.RFC3339), err)
		}
	}
	return res, nil
}

// rollupActivityOptions bound one rollup transaction.
var rollupActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 5 * time.Minute,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
}

// rollupTopics is the orders topic and the other topics, without repeats.
func rollupTopics(orders string, topics []string) []string {
	if len(topics) == 0 {
		topics = DefaultRollupTopics
	}
	out := []string{orders}
	for _, t := range topics {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// waitForWatermarks polls until every partition of the topics has passed end
// or wait has run out, and returns the last answer. multi selects the
// CheckWatermarks activity (version 1) over CheckWatermark of one topic.
func waitForWatermarks(ctx workflow.Context, topics []string, end time.Time, wait time.Duration, multi bool) (activities.WatermarkResult, error) {
	checkCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 5},
	})
	deadline := workflow.Now(ctx).Add(wait)
	var wm activities.WatermarkResult
	for {
		var f workflow.Future
		if multi {
			f = workflow.ExecuteActivity(checkCtx, activities.NameCheckWatermarks, activities.WatermarksInput{Topics: topics, Until: end})
		} else {
			f = workflow.ExecuteActivity(checkCtx, activities.NameCheckWatermark, activities.WatermarkInput{Topic: topics[0], Until: end})
		}
		if err := f.Get(ctx, &wm); err != nil {
			return wm, fmt.Errorf("check watermark: %w", err)
		}
		if wm.Ready || !workflow.Now(ctx).Before(deadline) {
			return wm, nil
		}
		if err := workflow.Sleep(ctx, DefaultWatermarkPoll); err != nil {
			return wm, err
		}
	}
}

// alertIncomplete raises the alert of a period rolled up before its data was
// complete. Its dedup key names the period, so a re-run raises it once.
func alertIncomplete(ctx workflow.Context, grain string, start time.Time, wm activities.WatermarkResult, waited Duration) error {
	actx := workflow.WithActivityOptions(ctx, alertActivityOptions)
	period := start.Format(time.RFC3339)
	return workflow.ExecuteActivity(actx, activities.NameRaiseAlert, activities.RaiseAlertInput{
		Type: activities.AlertRollupIncomplete, Entity: grain + "/" + period, Severity: store.SeverityWarning,
		DedupKey: "rollup_incomplete:" + grain + ":" + period, At: workflow.Now(ctx),
		Details: map[string]any{"lagging_partitions": wm.LaggingPartitions, "waited": time.Duration(waited).String()},
	}).Get(ctx, nil)
}

// alertActivityOptions bound one alert write.
var alertActivityOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 30 * time.Second,
	RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
}

// NameRollupDaily is the registered name of RollupDaily.
const NameRollupDaily = "RollupDaily"

// DefaultDailyWatermarkWait is how long the daily rollup waits for complete data.
const DefaultDailyWatermarkWait = 30 * time.Minute

// RollupDailyInput selects the day to roll up. Every field is optional.
type RollupDailyInput struct {
	// Day is any time within the UTC day to roll up. Empty means the last
	// complete day before the scheduled (or actual) start time.
	Day time.Time `json:"day,omitempty"`
	// Topics whose watermarks must pass the day's end; default
	// DefaultRollupTopics.
	Topics []string `json:"topics,omitempty"`
	// WatermarkWait: default DefaultDailyWatermarkWait; after it the day is
	// rolled up as it is, marked incomplete, and an alert raised.
	WatermarkWait Duration `json:"watermark_wait,omitempty"`
}

// RollupDailyResult is what the daily rollup wrote.
type RollupDailyResult struct {
	Day      time.Time
	Complete bool
	Lagging  []string
	Period   activities.RollupPeriodResult
}

// RollupDaily rolls one UTC day up into rollup_sales, rollup_traffic and
// rollup_payments (grain "day"), once every partition of every rollup topic
// has passed the day's end, or the wait ran out (then marked incomplete and
// alerted). Re-running it for a day gives the same rows.
func RollupDaily(ctx workflow.Context, in RollupDailyInput) (RollupDailyResult, error) {
	if in.WatermarkWait <= 0 {
		in.WatermarkWait = Duration(DefaultDailyWatermarkWait)
	}
	at := in.Day
	if at.IsZero() {
		at = workflow.Now(ctx)
		if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime); ok {
			at = t
		}
		at = at.UTC().AddDate(0, 0, -1)
	}
	day, end, _ := store.PeriodBounds(store.GrainDay, at)
	topics := rollupTopics(DefaultOrdersTopic, in.Topics)
	if len(in.Topics) > 0 {
		topics = in.Topics
	}
	wm, err := waitForWatermarks(ctx, topics, end, time.Duration(in.WatermarkWait), true)
	if err != nil {
		return RollupDailyResult{}, err
	}
	if !wm.Ready {
		workflow.GetLogger(ctx).Warn("rolling up incomplete day", "day", day, "lagging", wm.LaggingPartitions)
		if err := alertIncomplete(ctx, store.GrainDay, day, wm, in.WatermarkWait); err != nil {
			return RollupDailyResult{}, err
		}
	}
	info := workflow.GetInfo(ctx)
	res := RollupDailyResult{Day: day, Complete: wm.Ready, Lagging: wm.LaggingPartitions}
	if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, rollupActivityOptions), activities.NameRollupPeriod,
		activities.RollupPeriodInput{
			Grain: store.GrainDay, Start: day, RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
			Topics: topics, Complete: wm.Ready,
		}).Get(ctx, &res.Period); err != nil {
		return res, fmt.Errorf("roll up day %s: %w", day.Format(time.DateOnly), err)
	}
	return res, nil
}
