package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

// DefaultPartitionDaysAhead is how many days of partitions the maintenance
// workflow keeps ready beyond today.
const DefaultPartitionDaysAhead = 7

// PartitionsInput is the maintenance workflow's input; every field optional.
type PartitionsInput struct {
	// DaysAhead of today to create; default DefaultPartitionDaysAhead.
	DaysAhead int `json:"days_ahead,omitempty"`
}

// PartitionMaintenance creates the fact tables' daily partitions from today to
// DaysAhead days ahead, so the hot path never waits on DDL at midnight. The
// hot path still creates a missing day's partition itself (late or replayed
// events), so a missed run loses nothing.
func PartitionMaintenance(ctx workflow.Context, in PartitionsInput) (activities.PartitionsResult, error) {
	if in.DaysAhead <= 0 {
		in.DaysAhead = DefaultPartitionDaysAhead
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	today := workflow.Now(ctx).UTC().Truncate(24 * time.Hour)
	upsertSearch(ctx, SearchPeriod.ValueSet(PeriodDay(today)))
	var res activities.PartitionsResult
	err := workflow.ExecuteActivity(actx, activities.NameEnsurePartitions,
		activities.PartitionsInput{From: today, Days: in.DaysAhead + 1}).Get(ctx, &res)
	if err != nil {
		return res, fmt.Errorf("ensure partitions: %w", err)
	}
	return res, nil
}
