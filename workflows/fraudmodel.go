package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

// NameFraudModelTraining is the registered name of FraudModelTraining.
const NameFraudModelTraining = "FraudModelTraining"

// Defaults of FraudModelTraining.
const (
	DefaultFraudTrainDays       = 90
	DefaultFraudLabelDelayDays  = 30 // chargebacks arrive up to 30 days after the order
	DefaultFraudHoldoutFraction = 0.25
)

// FraudTrainingInput selects the training data; every field is optional
// (a Temporal Schedule starts it with an empty input).
type FraudTrainingInput struct {
	// AsOf is what the run knows: labels up to it, orders up to AsOf minus
	// the label delay. Default: the scheduled (or actual) start time. The
	// model version is named after it, so a re-run for the same as-of
	// replaces its own candidate.
	AsOf time.Time `json:"as_of,omitempty"`
	// TrainDays is the window of orders used (train and holdout).
	TrainDays int `json:"train_days,omitempty"`
	// LabelDelayDays leaves chargebacks time to arrive: orders younger than
	// it are not used. Default 30; 0 is allowed.
	LabelDelayDays *int `json:"label_delay_days,omitempty"`
	// HoldoutFraction is the latest share of the orders held out.
	HoldoutFraction float64 `json:"holdout_fraction,omitempty"`
	// L2 is the ridge penalty (default analytics.DefaultLogisticL2).
	L2 float64 `json:"l2,omitempty"`
	// AlertThreshold overrides stream.fraud_alert_threshold for precision
	// and recall.
	AlertThreshold float64 `json:"alert_threshold,omitempty"`
	// MinAUCGain is how much the candidate's holdout AUC must exceed the
	// baseline's to be promoted (default 0: strictly better).
	MinAUCGain float64 `json:"min_auc_gain,omitempty"`
	// NoPromote registers and evaluates the candidate only.
	NoPromote bool `json:"no_promote,omitempty"`
}

// FraudTrainingResult is the candidate, the comparison and the outcome.
type FraudTrainingResult struct {
	activities.TrainFraudResult
	Promoted bool
	Active   string
}

// FraudModelTraining trains a logistic regression on the labelled scored
// orders, compares it with the active model (the rules while none is
// active) on the same time-based holdout, and promotes it only when its
// ROC AUC is higher by more than MinAUCGain. The hot path reloads the
// active model every 30 s, so a promoted version scores orders without a
// restart.
func FraudModelTraining(ctx workflow.Context, in FraudTrainingInput) (FraudTrainingResult, error) {
	if in.TrainDays < 0 || in.HoldoutFraction < 0 || in.HoldoutFraction >= 1 || in.L2 < 0 || in.MinAUCGain < 0 ||
		in.AlertThreshold < 0 || in.AlertThreshold > 1 || (in.LabelDelayDays != nil && *in.LabelDelayDays < 0) {
		return FraudTrainingResult{}, temporal.NewNonRetryableApplicationError(
			"invalid input: train_days, label_delay_days, l2 and min_auc_gain must not be negative, holdout_fraction in [0, 1), alert_threshold in [0, 1]",
			"InvalidInput", nil)
	}
	if in.TrainDays == 0 {
		in.TrainDays = DefaultFraudTrainDays
	}
	delay := DefaultFraudLabelDelayDays
	if in.LabelDelayDays != nil {
		delay = *in.LabelDelayDays
	}
	if in.HoldoutFraction == 0 {
		in.HoldoutFraction = DefaultFraudHoldoutFraction
	}
	asOf := in.AsOf
	if asOf.IsZero() {
		asOf = workflow.Now(ctx)
		if t, ok := workflow.GetTypedSearchAttributes(ctx).GetTime(scheduledStartTime); ok {
			asOf = t
		}
	}
	asOf = asOf.UTC().Truncate(time.Second)
	info := workflow.GetInfo(ctx)

	trainCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: time.Minute, MaximumAttempts: 3,
			NonRetryableErrorTypes: []string{"InvalidInput", activities.ErrNotEnoughLabels, "TrainingFailed"}},
	})
	var tr activities.TrainFraudResult
	if err := workflow.ExecuteActivity(trainCtx, activities.NameTrainFraudModel, activities.TrainFraudInput{
		AsOf: asOf, TrainWindow: time.Duration(in.TrainDays) * 24 * time.Hour, LabelDelay: time.Duration(delay) * 24 * time.Hour,
		HoldoutFraction: in.HoldoutFraction, L2: in.L2, Threshold: in.AlertThreshold,
		RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
	}).Get(ctx, &tr); err != nil {
		return FraudTrainingResult{}, fmt.Errorf("train fraud model: %w", err)
	}
	res := FraudTrainingResult{TrainFraudResult: tr, Active: tr.BaselineActive}
	log := workflow.GetLogger(ctx)
	if in.NoPromote || tr.Candidate.AUC <= tr.Baseline.AUC+in.MinAUCGain {
		log.Info("fraud model not promoted", "version", tr.Version, "auc", tr.Candidate.AUC,
			"baseline", tr.BaselineVersion, "baseline_auc", tr.Baseline.AUC, "no_promote", in.NoPromote)
		return res, nil
	}
	promoteCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 5},
	})
	var pr activities.PromoteFraudResult
	if err := workflow.ExecuteActivity(promoteCtx, activities.NamePromoteFraudModel, activities.PromoteFraudInput{
		Version: tr.Version, ExpectActive: tr.BaselineActive,
		RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
	}).Get(ctx, &pr); err != nil {
		return res, fmt.Errorf("promote %s: %w", tr.Version, err)
	}
	res.Promoted, res.Active = pr.Promoted, pr.Active
	if !pr.Promoted {
		log.Warn("fraud model not promoted: the active model changed since the comparison",
			"version", tr.Version, "compared_with", tr.BaselineActive, "active", pr.Active)
	}
	return res, nil
}
