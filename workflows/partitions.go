package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/store"
)

// DefaultPartitionDaysAhead is how many days of partitions the maintenance
// workflow keeps ready beyond today.
const DefaultPartitionDaysAhead = 7

// PartitionsInput is the maintenance workflow's input; every field optional.
type PartitionsInput struct {
	// DaysAhead of today to create; default DefaultPartitionDaysAhead.
	DaysAhead int `json:"days_ahead,omitempty"`
	// RetentionDays: partitions whose whole day is more than this many days
	// before today are detached and dropped. 0 keeps everything; otherwise
	// at least MinRetentionDays.
	RetentionDays int `json:"retention_days,omitempty"`
}

// MinRetentionDays is the shortest retention accepted, so a typo cannot drop
// the days the stream still writes to.
const MinRetentionDays = 2

// PartitionsResult is what the maintenance created and dropped.
type PartitionsResult struct {
	activities.PartitionsResult
	Dropped []store.DroppedPartition `json:",omitempty"`
}

// PartitionMaintenance creates the fact tables' daily partitions from today to
// DaysAhead days ahead, so the hot path never waits on DDL at midnight, and,
// with RetentionDays set, detaches and drops the partitions whose day ended
// more than RetentionDays before today. The hot path still creates a missing
// day's partition itself (late or replayed events), so a missed run loses
// nothing.
func PartitionMaintenance(ctx workflow.Context, in PartitionsInput) (PartitionsResult, error) {
	if in.DaysAhead <= 0 {
		in.DaysAhead = DefaultPartitionDaysAhead
	}
	if in.RetentionDays < 0 || (in.RetentionDays > 0 && in.RetentionDays < MinRetentionDays) {
		return PartitionsResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("retention_days %d: want 0 (keep everything) or at least %d", in.RetentionDays, MinRetentionDays), "InvalidInput", nil)
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	today := workflow.Now(ctx).UTC().Truncate(24 * time.Hour)
	upsertSearch(ctx, SearchPeriod.ValueSet(PeriodDay(today)))
	var res PartitionsResult
	err := workflow.ExecuteActivity(actx, activities.NameEnsurePartitions,
		activities.PartitionsInput{From: today, Days: in.DaysAhead + 1}).Get(ctx, &res.PartitionsResult)
	if err != nil {
		return res, fmt.Errorf("ensure partitions: %w", err)
	}
	if in.RetentionDays == 0 {
		return res, nil
	}
	// Dropping is added behind a version, so runs in flight replay.
	if workflow.GetVersion(ctx, "partition-retention", workflow.DefaultVersion, 1) < 1 {
		return res, nil
	}
	info := workflow.GetInfo(ctx)
	dropCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 10},
	})
	var dropped activities.DropPartitionsResult
	if err := workflow.ExecuteActivity(dropCtx, activities.NameDropExpiredPartitions, activities.DropPartitionsInput{
		Before: today.AddDate(0, 0, -in.RetentionDays), RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
	}).Get(ctx, &dropped); err != nil {
		return res, fmt.Errorf("drop expired partitions: %w", err)
	}
	res.Dropped = dropped.Dropped
	return res, nil
}
