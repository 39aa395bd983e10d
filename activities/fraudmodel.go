package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/store"
)

// Registered names of the fraud model's training activities.
const (
	NameTrainFraudModel   = "TrainFraudModel"
	NamePromoteFraudModel = "PromoteFraudModel"
)

// FraudModelName is the fraud model's name in the registry.
const FraudModelName = "fraud"

// ErrNotEnoughLabels is the type of the non-retryable error a training run
// returns when its training or holdout part lacks fraud or genuine orders:
// retrying cannot help until more labels arrive.
const ErrNotEnoughLabels = "NotEnoughLabels"

// FraudTraining trains, evaluates and promotes the fraud model.
type FraudTraining struct {
	DB *store.DB
	// AlertThreshold is the hot path's alert threshold
	// (stream.fraud_alert_threshold): precision and recall are measured at
	// it unless the input names another.
	AlertThreshold float64
	// OrdersTopic is recorded in the lineage with its offsets and
	// watermarks.
	OrdersTopic string
}

// TrainFraudInput is one training run. AsOf and the windows are required
// (the workflow fills the defaults).
type TrainFraudInput struct {
	AsOf time.Time
	// Orders with event time in [AsOf-LabelDelay-TrainWindow,
	// AsOf-LabelDelay) are used: LabelDelay leaves chargebacks time to
	// arrive.
	TrainWindow     time.Duration
	LabelDelay      time.Duration
	HoldoutFraction float64
	L2              float64
	Threshold       float64 // 0: the activity's AlertThreshold
	RunID, Workflow string
}

// TrainFraudResult is the candidate and how it and the baseline (the active
// model, or the rules while none is active) did on the same holdout.
type TrainFraudResult struct {
	Version         string
	TrainFrom       time.Time
	TrainTo         time.Time
	SplitAt         time.Time // holdout: orders at or after it
	TrainRows       int
	TrainFraud      int
	Candidate       analytics.ClassifierMetrics
	BaselineVersion string
	// BaselineActive is the active version the candidate was compared
	// with; "" when none was active and the rules were the baseline.
	BaselineActive string
	Baseline       analytics.ClassifierMetrics
	Labels         store.LabelCounts
}

// FraudVersion names the model trained for an as-of time: a re-run for
// the same as-of replaces its own candidate.
func FraudVersion(asOf time.Time) string {
	return "fraud-lr-" + asOf.UTC().Format("20060102T150405Z")
}

// TrainFraudModel reads the labelled scored orders, splits them by time
// (the last HoldoutFraction of orders is the holdout), fits an
// L2-regularised logistic regression on the earlier part, evaluates it and
// the baseline on the holdout, and registers the candidate with its
// metrics and lineage. It promotes nothing.
func (a *FraudTraining) TrainFraudModel(ctx context.Context, in TrainFraudInput) (TrainFraudResult, error) {
	if in.AsOf.IsZero() || in.TrainWindow <= 0 || in.LabelDelay < 0 || in.HoldoutFraction <= 0 || in.HoldoutFraction >= 1 {
		return TrainFraudResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("train fraud model: want as_of, train_window > 0, label_delay >= 0 and 0 < holdout_fraction < 1, got %+v", in),
			"InvalidInput", nil)
	}
	th := in.Threshold
	if th <= 0 {
		th = a.AlertThreshold
	}
	if th <= 0 || th > 1 {
		return TrainFraudResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("train fraud model: alert threshold %g, want (0, 1]", th), "InvalidInput", nil)
	}
	started := time.Now()
	to := in.AsOf.UTC().Add(-in.LabelDelay)
	from := to.Add(-in.TrainWindow)
	set, counts, err := a.DB.FraudTrainingSet(ctx, from, to, in.AsOf)
	if err != nil {
		return TrainFraudResult{}, err
	}
	split := int(math.Round(float64(len(set)) * (1 - in.HoldoutFraction)))
	// Keep orders of the same instant on one side.
	for split > 0 && split < len(set) && set[split].EventTime.Equal(set[split-1].EventTime) {
		split++
	}
	train, hold := toExamples(set[:split]), toExamples(set[split:])
	res := TrainFraudResult{Version: FraudVersion(in.AsOf), TrainFrom: from, TrainTo: to, TrainRows: len(train), Labels: counts}
	if split < len(set) {
		res.SplitAt = set[split].EventTime
	}
	for _, e := range train {
		if e.Fraud {
			res.TrainFraud++
		}
	}
	holdFraud := 0
	for _, e := range hold {
		if e.Fraud {
			holdFraud++
		}
	}
	if res.TrainFraud == 0 || res.TrainFraud == len(train) || holdFraud == 0 || holdFraud == len(hold) {
		return res, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"train fraud model: %d orders in [%s, %s): training part %d with %d fraud, holdout %d with %d fraud; need both classes in each",
			len(set), from.Format(time.RFC3339), to.Format(time.RFC3339), len(train), res.TrainFraud, len(hold), holdFraud),
			ErrNotEnoughLabels, nil)
	}
	model, err := analytics.TrainLogistic(res.Version, train, analytics.LogisticConfig{L2: in.L2})
	if err != nil {
		return res, temporal.NewNonRetryableApplicationError(err.Error(), "TrainingFailed", err)
	}
	res.Candidate = analytics.EvaluateFraudModel(model, hold, th)

	var baseline analytics.FraudModel = analytics.FraudRules{}
	active, err := a.DB.ActiveFraudModel(ctx)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return res, err
	default:
		m, perr := analytics.ParseFraudModel(active.Version, active.Kind, active.Params)
		if perr != nil {
			// An active model the hot path cannot use scores with the
			// rules there; compare with what actually scores.
			m = analytics.FraudRules{}
		}
		baseline, res.BaselineActive = m, active.Version
	}
	res.BaselineVersion = baseline.Version()
	res.Baseline = analytics.EvaluateFraudModel(baseline, hold, th)

	params, err := json.Marshal(model)
	if err != nil {
		return res, fmt.Errorf("fraud model params: %w", err)
	}
	metrics, err := json.Marshal(map[string]any{
		"holdout": res.Candidate, "baseline": map[string]any{"version": res.BaselineVersion, "holdout": res.Baseline},
		"train": map[string]any{"rows": res.TrainRows, "fraud": res.TrainFraud}, "split_at": res.SplitAt,
		"labels": counts, "l2": in.L2, "holdout_fraction": in.HoldoutFraction,
	})
	if err != nil {
		return res, fmt.Errorf("fraud model metrics: %w", err)
	}
	err = a.DB.SaveCandidateModel(ctx, store.TrainedModel{
		Model: store.ModelVersion{Model: FraudModelName, Version: res.Version, Algorithm: analytics.KindLogistic,
			TrainFrom: from, TrainTo: to, Params: params, Metrics: metrics, TrainedBy: in.Workflow + "/" + in.RunID},
		Lineage: store.Lineage{RunID: in.RunID, Workflow: in.Workflow, Step: "train-fraud-model", Started: started,
			Inputs: map[string]any{
				"tables": []string{"fraud_scores", "chargebacks", "fraud_labels"}, "from": from, "to": to, "as_of": in.AsOf,
				"baseline_version": res.BaselineVersion, "labels": counts,
			},
			Outputs: map[string]any{
				"tables": []string{"model_registry"}, "model": FraudModelName, "version": res.Version,
				"train_rows": res.TrainRows, "holdout_rows": len(hold), "auc": res.Candidate.AUC, "baseline_auc": res.Baseline.AUC,
			}},
		OffsetsTopic: a.OrdersTopic,
	})
	return res, err
}

func toExamples(os []store.LabelledOrder) []analytics.FraudExample {
	out := make([]analytics.FraudExample, len(os))
	for i, o := range os {
		out[i] = analytics.FraudExample{Features: o.Features, Fraud: o.Fraud}
	}
	return out
}

// PromoteFraudInput promotes Version if the active model is still
// ExpectActive ("" for none: the rules were the baseline).
type PromoteFraudInput struct {
	Version, ExpectActive string
	RunID, Workflow       string
}

// PromoteFraudResult says whether the version is now active, and which is.
type PromoteFraudResult struct {
	Promoted bool
	Active   string
}

// PromoteFraudModel makes the candidate the active fraud model unless
// another version was promoted since the comparison. The hot path picks it
// up at its next reload.
func (a *FraudTraining) PromoteFraudModel(ctx context.Context, in PromoteFraudInput) (PromoteFraudResult, error) {
	started := time.Now()
	ok, active, err := a.DB.PromoteIfActive(ctx, FraudModelName, in.Version, in.ExpectActive, in.Workflow+"/"+in.RunID,
		store.Lineage{RunID: in.RunID, Workflow: in.Workflow, Step: "promote-fraud-model", Started: started,
			Inputs:  map[string]any{"tables": []string{"model_registry"}, "version": in.Version, "expected_active": in.ExpectActive},
			Outputs: map[string]any{"tables": []string{"model_registry"}}})
	if err != nil {
		return PromoteFraudResult{}, err
	}
	return PromoteFraudResult{Promoted: ok, Active: active}, nil
}
