package workflows

import (
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

// Registered names of the customer model workflows.
const (
	NameCustomerFeatures = "CustomerFeatures"
	NameChurnLTV         = "ChurnLTV"
	NameRecommendations  = "Recommendations"
)

// Defaults of the customer model workflows.
const (
	DefaultCustomerWindowDays        = 365
	DefaultRecommendationsWindowDays = 90
	// CustomerModelTimeout bounds one training activity; its heartbeat
	// timeout notices a dead worker much sooner.
	CustomerModelTimeout          = 30 * time.Minute
	CustomerModelHeartbeatTimeout = time.Minute
)

// Date is a calendar date in JSON as "2006-01-02" (an RFC 3339 time is
// accepted and its UTC date taken).
type Date struct{ time.Time }

// MarshalJSON writes the date as "2006-01-02", or null when zero.
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(d.UTC().Format(time.DateOnly))
}

// UnmarshalJSON reads "2006-01-02" or an RFC 3339 time.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		if string(b) == "null" {
			*d = Date{}
			return nil
		}
		return fmt.Errorf("date %s: want a string such as \"2026-11-26\"", b)
	}
	if s == "" {
		*d = Date{}
		return nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		*d = Date{t}
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("date %q: want 2006-01-02 or an RFC 3339 time", s)
	}
	*d = Date{t.UTC().Truncate(24 * time.Hour)}
	return nil
}

// CustomerFeaturesInput selects the as-of date and settings. Every field is
// optional.
type CustomerFeaturesInput struct {
	// AsOf: results from the facts before this date's midnight UTC. Empty
	// means the date of the scheduled (or actual) start, so a daily run
	// covers every complete day.
	AsOf Date `json:"as_of,omitempty"`
	// WindowDays of facts before AsOf (default 365).
	WindowDays int    `json:"window_days,omitempty"`
	KMin       int    `json:"k_min,omitempty"`
	KMax       int    `json:"k_max,omitempty"`
	Seed       uint64 `json:"seed,omitempty"`
}

// CustomerFeaturesResult is what the run wrote and whether it promoted the
// segmentation.
type CustomerFeaturesResult struct {
	AsOf     Date `json:"as_of"`
	Promoted bool `json:"promoted"`
	activities.CustomerFeaturesResult
}

// ChurnLTVInput selects the as-of date and settings. Every field is optional.
type ChurnLTVInput struct {
	AsOf               Date    `json:"as_of,omitempty"`
	WindowDays         int     `json:"window_days,omitempty"`
	HorizonDays        int     `json:"horizon_days,omitempty"`
	CLVHorizonDays     int     `json:"clv_horizon_days,omitempty"`
	AnnualDiscountRate float64 `json:"annual_discount_rate,omitempty"`
	HoldoutDays        int     `json:"holdout_days,omitempty"`
}

// ChurnLTVResult is what the run wrote and whether it promoted the fit.
type ChurnLTVResult struct {
	AsOf     Date `json:"as_of"`
	Promoted bool `json:"promoted"`
	activities.ChurnResult
}

// RecommendationsInput selects the as-of date and settings. Every field is
// optional.
type RecommendationsInput struct {
	AsOf        Date    `json:"as_of,omitempty"`
	WindowDays  int     `json:"window_days,omitempty"`
	K           int     `json:"k,omitempty"`
	HoldoutDays int     `json:"holdout_days,omitempty"`
	ViewWeight  float64 `json:"view_weight,omitempty"`
}

// RecommendationsResult is what the run wrote and whether it promoted the
// model.
type RecommendationsResult struct {
	AsOf     Date `json:"as_of"`
	Promoted bool `json:"promoted"`
	activities.RecommendationsResult
}

// asOfDate is the input's date, or the scheduled (else actual) start's date.
func asOfDate(ctx workflow.Context, in Date) time.Time {
	if !in.IsZero() {
		return in.UTC().Truncate(24 * time.Hour)
	}
	at := workflow.Now(ctx)
	if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime); ok {
		at = t
	}
	return at.UTC().Truncate(24 * time.Hour)
}

func badInput(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, "InvalidInput", nil)
}

// trainOptions are the options of the training activities: one long step
// that heartbeats, retried on transient faults, never on invalid input or a
// model that cannot be fitted to the data.
func trainOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: CustomerModelTimeout,
		HeartbeatTimeout:    CustomerModelHeartbeatTimeout,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, BackoffCoefficient: 2,
			MaximumAttempts: 5, NonRetryableErrorTypes: []string{"InvalidInput"},
		},
	})
}

// promote makes the version active, recording this run as who promoted it,
// unless a model trained on a later window is active (a backfill).
func promote(ctx workflow.Context, model, version string) (bool, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second,
			MaximumAttempts: 5, NonRetryableErrorTypes: []string{"InvalidInput"}},
	})
	info := workflow.GetInfo(ctx)
	by := fmt.Sprintf("workflow:%s/%s", info.WorkflowType.Name, info.WorkflowExecution.RunID)
	var res activities.PromoteResult
	if err := workflow.ExecuteActivity(ctx, activities.NamePromoteCustomerModel,
		activities.PromoteInput{Model: model, Version: version, By: by}).Get(ctx, &res); err != nil {
		return false, fmt.Errorf("promote %s %s: %w", model, version, err)
	}
	if !res.Promoted {
		workflow.GetLogger(ctx).Info("not promoted: a model of a later window is active", "model", model, "version", version, "active", res.Active)
	}
	return res.Promoted, nil
}

func window(ctx workflow.Context, asOf Date, days, def int) (activities.Window, error) {
	if days == 0 {
		days = def
	}
	if days < 1 || days > 3660 {
		return activities.Window{}, badInput(fmt.Sprintf("window_days: want 1 to 3660, got %d", days))
	}
	return activities.Window{AsOf: asOfDate(ctx, asOf), Days: days}, nil
}

func runInfo(ctx workflow.Context) activities.RunInfo {
	info := workflow.GetInfo(ctx)
	return activities.RunInfo{RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name}
}

// CustomerFeatures computes RFM features and segments and the k-means
// segmentation as of a date, replacing that date's rows, and promotes the
// segmentation it registered (the latest segmentation is the one to use).
// Nothing is written when there are too few customers (Skipped says so).
func CustomerFeatures(ctx workflow.Context, in CustomerFeaturesInput) (CustomerFeaturesResult, error) {
	w, err := window(ctx, in.AsOf, in.WindowDays, DefaultCustomerWindowDays)
	if err != nil {
		return CustomerFeaturesResult{}, err
	}
	if in.KMin < 0 || in.KMax < 0 || (in.KMax != 0 && in.KMax < in.KMin) {
		return CustomerFeaturesResult{}, badInput(fmt.Sprintf("k_min %d, k_max %d: want 2 <= k_min <= k_max", in.KMin, in.KMax))
	}
	out := CustomerFeaturesResult{AsOf: Date{w.AsOf}}
	if err := workflow.ExecuteActivity(trainOptions(ctx), activities.NameComputeCustomerFeatures, activities.CustomerFeaturesInput{
		Window: w, RunInfo: runInfo(ctx), KMin: in.KMin, KMax: in.KMax, Seed: in.Seed,
	}).Get(ctx, &out.CustomerFeaturesResult); err != nil {
		return out, fmt.Errorf("customer features as of %s: %w", w.AsOf.Format(time.DateOnly), err)
	}
	if out.Skipped != "" {
		workflow.GetLogger(ctx).Info("customer features skipped", "as_of", w.AsOf, "reason", out.Skipped)
		return out, nil
	}
	if out.Promoted, err = promote(ctx, activities.ModelSegmentation, out.ModelVersion); err != nil {
		return out, err
	}
	return out, nil
}

// ChurnLTV fits BG/NBD and Gamma-Gamma as of a date, replacing that date's
// churn scores, and promotes the fit when both likelihood maximisations
// converged with the BG/NBD parameters inside the space (ChurnResult.Converged).
func ChurnLTV(ctx workflow.Context, in ChurnLTVInput) (ChurnLTVResult, error) {
	w, err := window(ctx, in.AsOf, in.WindowDays, DefaultCustomerWindowDays)
	if err != nil {
		return ChurnLTVResult{}, err
	}
	if in.HorizonDays < 0 || in.CLVHorizonDays < 0 || in.AnnualDiscountRate < 0 || in.HoldoutDays < -1 {
		return ChurnLTVResult{}, badInput("horizon_days, clv_horizon_days and annual_discount_rate must not be negative; holdout_days is -1 (none) or more")
	}
	out := ChurnLTVResult{AsOf: Date{w.AsOf}}
	if err := workflow.ExecuteActivity(trainOptions(ctx), activities.NameFitChurnLTV, activities.ChurnInput{
		Window: w, RunInfo: runInfo(ctx), HorizonDays: in.HorizonDays, CLVHorizonDays: in.CLVHorizonDays,
		AnnualDiscountRate: in.AnnualDiscountRate, HoldoutDays: in.HoldoutDays,
	}).Get(ctx, &out.ChurnResult); err != nil {
		return out, fmt.Errorf("churn and lifetime value as of %s: %w", w.AsOf.Format(time.DateOnly), err)
	}
	if out.Skipped != "" {
		workflow.GetLogger(ctx).Info("churn fit skipped", "as_of", w.AsOf, "reason", out.Skipped)
		return out, nil
	}
	if !out.Converged {
		workflow.GetLogger(ctx).Warn("churn fit did not converge: left as a candidate", "version", out.ModelVersion)
		return out, nil
	}
	if out.Promoted, err = promote(ctx, activities.ModelChurn, out.ModelVersion); err != nil {
		return out, err
	}
	return out, nil
}

// Recommendations builds item-to-item recommendations as of a date,
// replacing that date's rows, and promotes the model when its hit rate at k
// on the holdout is at least the popularity baseline's (with at least one
// user evaluated).
func Recommendations(ctx workflow.Context, in RecommendationsInput) (RecommendationsResult, error) {
	w, err := window(ctx, in.AsOf, in.WindowDays, DefaultRecommendationsWindowDays)
	if err != nil {
		return RecommendationsResult{}, err
	}
	if in.K < 0 || in.HoldoutDays < 0 || in.ViewWeight < 0 {
		return RecommendationsResult{}, badInput("k, holdout_days and view_weight must not be negative")
	}
	out := RecommendationsResult{AsOf: Date{w.AsOf}}
	if err := workflow.ExecuteActivity(trainOptions(ctx), activities.NameBuildRecommendations, activities.RecommendationsInput{
		Window: w, RunInfo: runInfo(ctx), K: in.K, HoldoutDays: in.HoldoutDays, ViewWeight: in.ViewWeight,
	}).Get(ctx, &out.RecommendationsResult); err != nil {
		return out, fmt.Errorf("recommendations as of %s: %w", w.AsOf.Format(time.DateOnly), err)
	}
	if out.Skipped != "" {
		workflow.GetLogger(ctx).Info("recommendations skipped", "as_of", w.AsOf, "reason", out.Skipped)
		return out, nil
	}
	if out.EvaluatedUsers == 0 || out.HitRate < out.PopularityHitRate {
		workflow.GetLogger(ctx).Info("recommendations do not beat popularity on the holdout: left as a candidate",
			"version", out.ModelVersion, "hit_rate", out.HitRate, "popularity_hit_rate", out.PopularityHitRate)
		return out, nil
	}
	if out.Promoted, err = promote(ctx, activities.ModelRecommendations, out.ModelVersion); err != nil {
		return out, err
	}
	return out, nil
}
