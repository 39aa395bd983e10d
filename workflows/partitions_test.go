package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/store"
)

func TestPartitionMaintenance_DropsPartitionsPastRetention(t *testing.T) {
	env := newEnv(t)
	env.SetStartTime(time.Date(2026, 11, 26, 0, 15, 0, 0, time.UTC))
	today := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	env.OnActivity(activities.NameEnsurePartitions, mock.Anything, mock.Anything).Return(activities.PartitionsResult{From: today}, nil).Once()
	env.OnActivity(activities.NameDropExpiredPartitions, mock.Anything, mock.MatchedBy(func(in activities.DropPartitionsInput) bool {
		return in.Before.Equal(today.AddDate(0, 0, -30)) && in.RunID != "" && in.Workflow == NamePartitionMaintenance
	})).Return(activities.DropPartitionsResult{Dropped: []store.DroppedPartition{{Table: "orders", Partition: "orders_20261026"}}}, nil).Once()
	env.ExecuteWorkflow(NamePartitionMaintenance, PartitionsInput{RetentionDays: 30})
	var res PartitionsResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Dropped) != 1 || !res.From.Equal(today) {
		t.Fatalf("result %+v", res)
	}
	env.AssertExpectations(t)
}

func TestPartitionMaintenance_RejectsATooShortRetention(t *testing.T) {
	env := newEnv(t)
	env.ExecuteWorkflow(NamePartitionMaintenance, PartitionsInput{RetentionDays: 1})
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("want retention_days 1 refused")
	}
}
