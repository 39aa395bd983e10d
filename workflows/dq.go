package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/store"
)

// NameDataQuality is the registered name of DataQuality.
const NameDataQuality = "DataQuality"

// Data quality defaults.
const (
	DefaultDQSampleSize    = 500
	DefaultDQWatermarkWait = 5 * time.Minute
)

// DefaultDQTopics are the topics whose schema drift is checked.
var DefaultDQTopics = []string{DefaultOrdersTopic, DefaultClickstreamTopic, DefaultPaymentsTopic, "shop.inventory.v1"}

// DQInput selects the period and what to check. Every field is optional.
type DQInput struct {
	// Grain is "hour" (default) or "day".
	Grain string `json:"grain,omitempty"`
	// Period is any time within the period; empty means the last complete
	// period before the scheduled (or actual) start.
	Period time.Time `json:"period,omitempty"`
	// Tables to check; default every table of store.DQTables.
	Tables []string `json:"tables,omitempty"`
	// Topics whose schema drift is sampled; default DefaultDQTopics.
	Topics []string `json:"topics,omitempty"`
	// SkipSchemaDrift leaves Kafka alone (a backfill past the topics'
	// retention has nothing to sample).
	SkipSchemaDrift bool `json:"skip_schema_drift,omitempty"`
	// SampleSize bounds the messages read per topic; default DefaultDQSampleSize.
	SampleSize int `json:"sample_size,omitempty"`
	// WatermarkWait: how long to wait for complete data (default
	// DefaultDQWatermarkWait); then the checks run on what there is.
	WatermarkWait Duration `json:"watermark_wait,omitempty"`
}

// DQResult is every table's and topic's score and failed checks.
type DQResult struct {
	Grain   string
	Start   time.Time
	Results []DQTableScore
}

// DQTableScore is one table's (or "topic:<name>") outcome.
type DQTableScore struct {
	Table  string
	Score  float64
	Rows   int64
	Failed []string
}

// DataQuality checks every table for one period: freshness, volume against
// its own history, null and duplicate rates, values out of range (one
// CheckTableQuality activity per table, in parallel), and the schema drift
// of a sample of each topic's events. Results and scores are stored, failed
// checks raise data_quality alerts. Re-running it for a period gives the
// same rows.
func DataQuality(ctx workflow.Context, in DQInput) (DQResult, error) {
	if in.Grain == "" {
		in.Grain = store.GrainHour
	}
	if in.SampleSize <= 0 {
		in.SampleSize = DefaultDQSampleSize
	}
	if in.WatermarkWait <= 0 {
		in.WatermarkWait = Duration(DefaultDQWatermarkWait)
	}
	if len(in.Tables) == 0 {
		for _, t := range store.DQTables {
			in.Tables = append(in.Tables, t.Table)
		}
	}
	if len(in.Topics) == 0 {
		in.Topics = DefaultDQTopics
	}
	at := in.Period
	if at.IsZero() {
		at = workflow.Now(ctx)
		if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime); ok {
			at = t
		}
		start, _, err := store.PeriodBounds(in.Grain, at)
		if err != nil {
			return DQResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
		}
		at = start.Add(-time.Nanosecond) // the previous, complete period
	}
	start, end, err := store.PeriodBounds(in.Grain, at)
	if err != nil {
		return DQResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}
	if _, err := waitForWatermarks(ctx, DefaultRollupTopics, end, time.Duration(in.WatermarkWait), true); err != nil {
		return DQResult{}, err
	}

	info := workflow.GetInfo(ctx)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	var futures []workflow.Future
	for _, t := range in.Tables {
		futures = append(futures, workflow.ExecuteActivity(actx, activities.NameCheckTableQuality, activities.CheckTableInput{
			Table: t, Grain: in.Grain, Period: start, RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
		}))
	}
	if !in.SkipSchemaDrift {
		for _, topic := range in.Topics {
			futures = append(futures, workflow.ExecuteActivity(actx, activities.NameCheckSchemaDrift, activities.DriftInput{
				Topic: topic, Grain: in.Grain, Period: start, SampleSize: in.SampleSize,
				RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
			}))
		}
	}
	res := DQResult{Grain: in.Grain, Start: start}
	var firstErr error
	for _, f := range futures {
		var r activities.QualityResult
		if err := f.Get(ctx, &r); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		res.Results = append(res.Results, DQTableScore{Table: r.Table, Score: r.Score, Rows: r.Rows, Failed: r.Failed})
	}
	if firstErr != nil {
		return res, fmt.Errorf("data quality of %s: %w", start.Format(time.RFC3339), firstErr)
	}
	return res, nil
}

func init() {
	RegisterBackfillTarget(NameDataQuality, func(day time.Time, in BackfillInput) []BackfillRun {
		return []BackfillRun{{Workflow: NameDataQuality, Input: DQInput{
			Grain: store.GrainDay, Period: day, SkipSchemaDrift: true, WatermarkWait: in.WatermarkWait,
		}}}
	})
}
