package activities

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/shoppulse/shoppulse/store"
)

// WatermarksInput asks whether every partition of every topic has passed Until.
type WatermarksInput struct {
	Topics []string
	Until  time.Time
}

// CheckWatermarks is CheckWatermark over several topics; the result names
// the lagging partitions as "topic/partition".
func (a *Rollup) CheckWatermarks(ctx context.Context, in WatermarksInput) (WatermarkResult, error) {
	return a.DB.WatermarksPassed(ctx, in.Topics, in.Until)
}

// RollupPeriodInput is one period of one grain ("hour" or "day") to roll up.
type RollupPeriodInput struct {
	Grain    string
	Start    time.Time
	RunID    string
	Workflow string
	Topics   []string
	Complete bool
}

// RollupPeriodResult counts what the rollup wrote.
type RollupPeriodResult = store.PeriodRollupResult

// RollupPeriod replaces the period's rows of rollup_sales (totals and
// product, category, country and channel with cost and margin),
// rollup_traffic (traffic and funnel) and rollup_payments, with lineage, in
// one transaction. Running it twice gives the same rows.
func (a *Rollup) RollupPeriod(ctx context.Context, in RollupPeriodInput) (RollupPeriodResult, error) {
	if _, _, err := store.PeriodBounds(in.Grain, in.Start); err != nil {
		return RollupPeriodResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}
	return a.DB.RollupPeriod(ctx, store.PeriodRollupRequest{
		Grain: in.Grain, Start: in.Start, RunID: in.RunID, Workflow: in.Workflow, Topics: in.Topics, Complete: in.Complete,
	})
}

// BatchAlerts raises and resolves the batch side's alerts (rollups waiting
// for data, data quality, erasure deadlines).
type BatchAlerts struct {
	DB *store.DB
}

// Alert types raised by the batch workflows.
const (
	AlertRollupIncomplete = "rollup_incomplete"
	AlertDataQuality      = "data_quality"
	AlertErasureOverdue   = "erasure_overdue"
)

// RaiseAlertInput is one alert to open (or to resolve, with Resolve set).
// While an alert with the same DedupKey is open, raising it again changes
// nothing, so the activity is idempotent.
type RaiseAlertInput struct {
	Type, Entity, Severity, DedupKey string
	At                               time.Time
	Details                          map[string]any
	// Resolve resolves the open alert with DedupKey instead of raising one.
	Resolve bool
}

// RaiseAlertResult says whether the call opened (or resolved) an alert.
type RaiseAlertResult struct {
	Changed bool
}

// RaiseAlert opens or resolves one alert.
func (a *BatchAlerts) RaiseAlert(ctx context.Context, in RaiseAlertInput) (RaiseAlertResult, error) {
	if in.DedupKey == "" {
		return RaiseAlertResult{}, temporal.NewNonRetryableApplicationError("alert needs a dedup key", "InvalidInput", nil)
	}
	if in.Resolve {
		ok, err := a.DB.ResolveAlertNow(ctx, in.DedupKey, in.At, in.Details)
		if err != nil {
			return RaiseAlertResult{}, fmt.Errorf("resolve alert %s: %w", in.DedupKey, err)
		}
		return RaiseAlertResult{Changed: ok}, nil
	}
	if in.Type == "" || in.Severity == "" {
		return RaiseAlertResult{}, temporal.NewNonRetryableApplicationError("alert needs a type and a severity", "InvalidInput", nil)
	}
	ok, err := a.DB.RaiseAlertNow(ctx, store.NewAlert{
		Type: in.Type, Entity: in.Entity, Severity: in.Severity, DedupKey: in.DedupKey, OpenedAt: in.At, Details: in.Details,
	})
	if err != nil {
		return RaiseAlertResult{}, fmt.Errorf("raise alert %s: %w", in.DedupKey, err)
	}
	return RaiseAlertResult{Changed: ok}, nil
}
