package activities

import (
	"context"
	"time"

	"github.com/shoppulse/shoppulse/store"
)

// Rollup runs the batch rollups.
type Rollup struct {
	DB *store.DB
}

// WatermarkInput asks whether a topic's data is complete up to Until.
type WatermarkInput struct {
	Topic string
	Until time.Time
}

// WatermarkResult says whether every partition has passed Until, and which
// have not.
type WatermarkResult = store.WatermarkResult

// CheckWatermark reports whether every partition of the topic has either
// applied an event at or after Until or been found fully consumed after Until.
func (a *Rollup) CheckWatermark(ctx context.Context, in WatermarkInput) (WatermarkResult, error) {
	return a.DB.WatermarkPassed(ctx, in.Topic, in.Until)
}

// RollupHourInput is one hour to roll up.
type RollupHourInput struct {
	Hour     time.Time
	RunID    string
	Workflow string
	Topic    string
	// Complete records whether every partition's watermark had passed the
	// hour's end when the rollup ran.
	Complete bool
}

// RollupHourResult is what the rollup wrote.
type RollupHourResult = store.RollupResult

// RollupRevenueHour replaces the hour's rows of revenue_hourly from
// revenue_minute and records lineage, in one transaction. Running it twice
// gives the same rows.
func (a *Rollup) RollupRevenueHour(ctx context.Context, in RollupHourInput) (RollupHourResult, error) {
	return a.DB.RollupRevenueHour(ctx, store.RollupRequest{
		Hour: in.Hour, RunID: in.RunID, Workflow: in.Workflow, Topic: in.Topic, Complete: in.Complete,
	})
}
