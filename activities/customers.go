package activities

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/shoppulse/shoppulse/store"
)

// Registered names of the customer model activities (part of the workflow
// histories: never rename one that may be running).
const (
	NameComputeCustomerFeatures = "ComputeCustomerFeatures"
	NameFitChurnLTV             = "FitChurnLTV"
	NameBuildRecommendations    = "BuildRecommendations"
	NamePromoteCustomerModel    = "PromoteCustomerModel"
)

// Model names of the customer models in model_registry.
const (
	ModelSegmentation    = "segmentation"
	ModelChurn           = "churn"
	ModelRecommendations = "recommendations"
)

// Customers trains the customer models (segmentation, churn and lifetime
// value, recommendations) from the stored facts and writes their results.
// Every activity reads the facts of a window ending at an as-of date's
// midnight UTC, replaces that date's results in one transaction with their
// lineage, and registers the model version it trained: running it twice
// with the same facts writes the same rows and registers the same version.
// Payloads carry ids, counts and metrics, never names or emails.
type Customers struct {
	DB *store.DB
	// HeartbeatEvery is how often a running activity heartbeats (default 10s).
	HeartbeatEvery time.Duration
}

// RunInfo names the workflow run an activity works for, for lineage and the
// registry's trained_by.
type RunInfo struct {
	RunID    string
	Workflow string
}

// Window is the as-of date and how many days of facts before it to read.
type Window struct {
	// AsOf is a date: results are as of its midnight UTC, from the facts
	// before it.
	AsOf time.Time
	Days int
}

// bounds returns [from, to) of the window.
func (w Window) bounds() (from, to time.Time) {
	to = w.AsOf.UTC().Truncate(24 * time.Hour)
	return to.AddDate(0, 0, -w.Days), to
}

func (w Window) validate() error {
	if w.AsOf.IsZero() {
		return invalid("as_of is required")
	}
	if w.Days < 1 || w.Days > 3660 {
		return invalid(fmt.Sprintf("window_days: want 1 to 3660, got %d", w.Days))
	}
	return nil
}

func invalid(msg string) error {
	return temporal.NewNonRetryableApplicationError(msg, "InvalidInput", nil)
}

// heartbeat records a heartbeat every HeartbeatEvery until the returned
// stop is called, so a long fit on a worker that died is retried elsewhere
// within the heartbeat timeout.
func (a *Customers) heartbeat(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	every := a.HeartbeatEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done); <-finished }
}

// modelVersion names a trained model by its as-of date, algorithm and a hash
// of its parameters and inputs: the same facts and settings give the same
// version (registering it again changes nothing), different ones a new one.
func modelVersion(asOf time.Time, algorithm string, parts ...any) (string, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	for _, p := range parts {
		if err := enc.Encode(p); err != nil {
			return "", fmt.Errorf("model version: %w", err)
		}
	}
	return fmt.Sprintf("%s-%s-%s", asOf.UTC().Format("20060102"), algorithm, hex.EncodeToString(h.Sum(nil))[:10]), nil
}

// register stores a trained model version as a candidate.
func (a *Customers) register(ctx context.Context, model, version, algorithm string, w Window, run RunInfo, params, metrics any) error {
	p, err := json.Marshal(params)
	if err != nil {
		return fmt.Errorf("model params: %w", err)
	}
	m, err := json.Marshal(metrics)
	if err != nil {
		return fmt.Errorf("model metrics: %w", err)
	}
	from, to := w.bounds()
	return a.DB.RegisterModel(ctx, store.ModelVersion{
		Model: model, Version: version, Algorithm: algorithm, TrainFrom: from, TrainTo: to,
		Params: p, Metrics: m, TrainedBy: fmt.Sprintf("workflow:%s/%s", run.Workflow, run.RunID),
	})
}

// PromoteInput names a model version to make active, and who decided.
type PromoteInput struct {
	Model, Version, By string
}

// PromoteResult says whether the version is now the active one, and which
// version is.
type PromoteResult struct {
	Promoted bool
	Active   string
}

// PromoteCustomerModel makes the version the active one of its model,
// retiring the one before, unless the active version was trained on a later
// window (a backfill of an old date must not replace today's model).
// Promoting the active version again changes nothing.
func (a *Customers) PromoteCustomerModel(ctx context.Context, in PromoteInput) (PromoteResult, error) {
	if in.Model == "" || in.Version == "" {
		return PromoteResult{}, invalid("promote: model and version are required")
	}
	versions, err := a.DB.Models(ctx, in.Model)
	if err != nil {
		return PromoteResult{}, err
	}
	var cand, active *store.ModelVersion
	for i := range versions {
		switch {
		case versions[i].Version == in.Version:
			cand = &versions[i]
		case versions[i].Status == store.ModelActive:
			active = &versions[i]
		}
	}
	if cand == nil {
		return PromoteResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("promote: %s version %s is not registered", in.Model, in.Version), "NotFound", nil)
	}
	if active != nil && active.TrainTo.After(cand.TrainTo) {
		return PromoteResult{Active: active.Version}, nil
	}
	if err := a.DB.PromoteModel(ctx, in.Model, in.Version, in.By); err != nil {
		return PromoteResult{}, err
	}
	return PromoteResult{Promoted: true, Active: in.Version}, nil
}
