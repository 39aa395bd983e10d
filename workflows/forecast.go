package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/analytics"
)

// NameDemandForecast is the registered name of DemandForecast.
const NameDemandForecast = "DemandForecast"

// Defaults of DemandForecast.
const (
	DefaultForecastHistoryDays = 182
	DefaultForecastHorizon     = 28
	DefaultForecastHoldout     = 14
	DefaultForecastPeriod      = 7
)

// ForecastInput selects the as-of day and the windows; every field is
// optional (a Temporal Schedule starts it with an empty input).
type ForecastInput struct {
	// AsOf is the first forecast day (UTC); demand before it is the
	// history. Default: the day of the scheduled (or actual) start.
	AsOf time.Time `json:"as_of,omitempty"`
	// HistoryDays of demand read before AsOf (default 182).
	HistoryDays int `json:"history_days,omitempty"`
	// Horizon is the days forecast from AsOf (default 28).
	Horizon int `json:"horizon,omitempty"`
	// Holdout is the last days of history held out to measure MASE
	// (default 14).
	Holdout int `json:"holdout,omitempty"`
	// CrostonAlpha is Croston's smoothing parameter (default 0.1).
	CrostonAlpha float64 `json:"croston_alpha,omitempty"`
}

// DemandForecast forecasts every product's daily demand from AsOf with
// Holt-Winters or Croston-SBA, records accuracy (MASE on a holdout) and
// registers the forecast model version; a re-run for the same day
// replaces that day's forecasts.
func DemandForecast(ctx workflow.Context, in ForecastInput) (activities.ForecastResult, error) {
	if in.HistoryDays < 0 || in.Horizon < 0 || in.Holdout < 0 || in.CrostonAlpha < 0 || in.CrostonAlpha > 1 {
		return activities.ForecastResult{}, temporal.NewNonRetryableApplicationError(
			"invalid input: history_days, horizon and holdout must not be negative, croston_alpha in [0, 1]", "InvalidInput", nil)
	}
	if in.HistoryDays == 0 {
		in.HistoryDays = DefaultForecastHistoryDays
	}
	if in.Horizon == 0 {
		in.Horizon = DefaultForecastHorizon
	}
	if in.Holdout == 0 {
		in.Holdout = DefaultForecastHoldout
	}
	if in.CrostonAlpha == 0 {
		in.CrostonAlpha = analytics.DefaultCrostonAlpha
	}
	asOf := in.AsOf
	if asOf.IsZero() {
		asOf = workflow.Now(ctx)
		if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime); ok {
			asOf = t
		}
	}
	asOf = asOf.UTC().Truncate(24 * time.Hour)
	info := workflow.GetInfo(ctx)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 3,
			NonRetryableErrorTypes: []string{"InvalidInput", "ForecastFailed"}},
	})
	var res activities.ForecastResult
	if err := workflow.ExecuteActivity(actx, activities.NameForecastDemand, activities.ForecastInput{
		AsOf: asOf, HistoryDays: in.HistoryDays, Horizon: in.Horizon, Holdout: in.Holdout,
		Period: DefaultForecastPeriod, Alpha: in.CrostonAlpha,
		RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
	}).Get(ctx, &res); err != nil {
		return res, fmt.Errorf("forecast demand for %s: %w", asOf.Format(time.DateOnly), err)
	}
	return res, nil
}
