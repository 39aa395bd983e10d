package workflows

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

func TestSplitPartitions(t *testing.T) {
	tests := []struct {
		name string
		n, k int
		want [][]int
	}{
		{"one consumer owns all", 4, 1, [][]int{{0, 1, 2, 3}}},
		{"round robin", 6, 4, [][]int{{0, 4}, {1, 5}, {2}, {3}}},
		{"more consumers than partitions", 2, 5, [][]int{{0}, {1}}},
		{"no consumers", 3, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SplitPartitions(tt.n, tt.k); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("SplitPartitions(%d, %d) = %v, want %v", tt.n, tt.k, got, tt.want)
			}
		})
	}
}

func newEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(StreamSupervisor, workflow.RegisterOptions{Name: NameStreamSupervisor})
	env.RegisterWorkflowWithOptions(RevenueRollupHourly, workflow.RegisterOptions{Name: NameRevenueRollupHourly})
	stream := &activities.Stream{}
	roll := &activities.Rollup{}
	env.RegisterActivityWithOptions(stream.EnsureStream, activity.RegisterOptions{Name: activities.NameEnsureStream})
	env.RegisterActivityWithOptions(stream.ConsumePartitions, activity.RegisterOptions{Name: activities.NameConsumePartitions})
	env.RegisterActivityWithOptions(roll.CheckWatermark, activity.RegisterOptions{Name: activities.NameCheckWatermark})
	env.RegisterActivityWithOptions(roll.RollupRevenueHour, activity.RegisterOptions{Name: activities.NameRollupRevenueHour})
	env.RegisterActivityWithOptions(roll.CheckWatermarks, activity.RegisterOptions{Name: activities.NameCheckWatermarks})
	env.RegisterActivityWithOptions(roll.RollupPeriod, activity.RegisterOptions{Name: activities.NameRollupPeriod})
	env.RegisterWorkflowWithOptions(RollupDaily, workflow.RegisterOptions{Name: NameRollupDaily})
	alerts := &activities.BatchAlerts{}
	env.RegisterActivityWithOptions(alerts.RaiseAlert, activity.RegisterOptions{Name: activities.NameRaiseAlert})
	env.RegisterWorkflowWithOptions(EraseCustomer, workflow.RegisterOptions{Name: NameEraseCustomer})
	erasure := &activities.Erasure{}
	env.RegisterActivityWithOptions(erasure.EraseCustomer, activity.RegisterOptions{Name: activities.NameEraseCustomer})
	env.RegisterActivityWithOptions(erasure.FinishErasure, activity.RegisterOptions{Name: activities.NameFinishErasure})
	env.RegisterWorkflowWithOptions(DataQuality, workflow.RegisterOptions{Name: NameDataQuality})
	quality := &activities.Quality{}
	env.RegisterActivityWithOptions(quality.CheckTable, activity.RegisterOptions{Name: activities.NameCheckTableQuality})
	env.RegisterActivityWithOptions(quality.CheckSchemaDrift, activity.RegisterOptions{Name: activities.NameCheckSchemaDrift})
	env.RegisterWorkflowWithOptions(PartitionMaintenance, workflow.RegisterOptions{Name: NamePartitionMaintenance})
	parts := &activities.Partitions{}
	env.RegisterActivityWithOptions(parts.EnsurePartitions, activity.RegisterOptions{Name: activities.NameEnsurePartitions})
	env.RegisterActivityWithOptions(parts.DropExpiredPartitions, activity.RegisterOptions{Name: activities.NameDropExpiredPartitions})
	return env
}

func TestStreamSupervisor_SpreadsPartitionsAndRestartsConsumers(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(activities.NameEnsureStream, mock.Anything, activities.EnsureStreamInput{Topic: "orders", Partitions: 4}).
		Return(activities.EnsureStreamResult{Partitions: 4}, nil)
	var mu sync.Mutex
	seen := map[string]int{}
	env.OnActivity(activities.NameConsumePartitions, mock.Anything, mock.Anything).After(time.Hour).Return(
		func(_ context.Context, in activities.ConsumeInput) (activities.ConsumeResult, error) {
			mu.Lock()
			defer mu.Unlock()
			seen[fmt.Sprint(in.Partitions)]++
			return activities.ConsumeResult{}, nil
		})
	// Stop the endless loop after each consumer has been restarted a few times.
	env.RegisterDelayedCallback(env.CancelWorkflow, 5*time.Hour+30*time.Minute)
	env.ExecuteWorkflow(NameStreamSupervisor, SupervisorInput{
		Topic: "orders", Partitions: 4, Consumers: 2, MaxRun: time.Hour, HeartbeatTimeout: 20 * time.Second,
	})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	want := []string{"[0 2]", "[1 3]"}
	if len(seen) != len(want) {
		t.Fatalf("partition sets: %v", seen)
	}
	for _, k := range want {
		if seen[k] < 2 {
			t.Fatalf("set %s started %d times, want it restarted after returning", k, seen[k])
		}
	}
}

func TestStreamSupervisor_RejectsInvalidInput(t *testing.T) {
	env := newEnv(t)
	env.ExecuteWorkflow(NameStreamSupervisor, SupervisorInput{Topic: "orders"})
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("want an error for zero partitions and consumers")
	}
}

func TestRevenueRollupHourly_WaitsForWatermarkThenRollsUpPreviousHour(t *testing.T) {
	env := newEnv(t)
	start := time.Date(2026, 11, 26, 14, 5, 0, 0, time.UTC)
	env.SetStartTime(start)
	wantHour := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	checks := 0
	env.OnActivity(activities.NameCheckWatermarks, mock.Anything, activities.WatermarksInput{Topics: DefaultRollupTopics, Until: wantHour.Add(time.Hour)}).Return(
		func(context.Context, activities.WatermarksInput) (activities.WatermarkResult, error) {
			checks++
			if checks < 3 {
				return activities.WatermarkResult{Lagging: []int{2}, LaggingPartitions: []string{"shop.orders.v1/2"}}, nil
			}
			return activities.WatermarkResult{Ready: true}, nil
		})
	env.OnActivity(activities.NameRollupRevenueHour, mock.Anything, mock.MatchedBy(func(in activities.RollupHourInput) bool {
		return in.Hour.Equal(wantHour) && in.Complete && in.RunID != ""
	})).Return(activities.RollupHourResult{Hour: wantHour, Rows: 1, Orders: 7, RevenueMinor: 12345}, nil)
	env.OnActivity(activities.NameRollupPeriod, mock.Anything, mock.MatchedBy(func(in activities.RollupPeriodInput) bool {
		return in.Grain == "hour" && in.Start.Equal(wantHour) && in.Complete && in.RunID != "" && len(in.Topics) == 3
	})).Return(activities.RollupPeriodResult{Grain: "hour", SalesRows: 5}, nil).Once()

	env.ExecuteWorkflow(NameRevenueRollupHourly, RollupInput{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res RollupResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if !res.Complete || res.Orders != 7 || checks != 3 || !res.Hour.Equal(wantHour) || res.Period.SalesRows != 5 {
		t.Fatalf("result %+v after %d checks", res, checks)
	}
	env.AssertNotCalled(t, activities.NameRaiseAlert, mock.Anything, mock.Anything)
}

func TestRevenueRollupHourly_RollsUpIncompleteDataAfterTheWait(t *testing.T) {
	env := newEnv(t)
	hour := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	env.OnActivity(activities.NameCheckWatermarks, mock.Anything, mock.Anything).
		Return(activities.WatermarkResult{Lagging: []int{0, 1}, LaggingPartitions: []string{"shop.orders.v1/0", "shop.orders.v1/1"}}, nil)
	env.OnActivity(activities.NameRollupRevenueHour, mock.Anything, mock.MatchedBy(func(in activities.RollupHourInput) bool {
		return !in.Complete && in.Hour.Equal(hour)
	})).Return(activities.RollupHourResult{Hour: hour}, nil)
	env.OnActivity(activities.NameRollupPeriod, mock.Anything, mock.MatchedBy(func(in activities.RollupPeriodInput) bool {
		return !in.Complete
	})).Return(activities.RollupPeriodResult{}, nil)
	env.OnActivity(activities.NameRaiseAlert, mock.Anything, mock.MatchedBy(func(in activities.RaiseAlertInput) bool {
		return in.Type == activities.AlertRollupIncomplete && in.DedupKey == "rollup_incomplete:hour:2026-11-26T09:00:00Z" && !in.Resolve
	})).Return(activities.RaiseAlertResult{Changed: true}, nil).Once()
	env.ExecuteWorkflow(NameRevenueRollupHourly, RollupInput{Hour: hour.Add(17 * time.Minute), WatermarkWait: Duration(time.Minute)})
	var res RollupResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Complete || !reflect.DeepEqual(res.Lagging, []int{0, 1}) {
		t.Fatalf("want an incomplete rollup naming the lagging partitions, got %+v", res)
	}
	env.AssertExpectations(t)
}

func TestRevenueRollupHourly_FailsWhenRollupKeepsFailing(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(activities.NameCheckWatermarks, mock.Anything, mock.Anything).Return(activities.WatermarkResult{Ready: true}, nil)
	env.OnActivity(activities.NameRollupRevenueHour, mock.Anything, mock.Anything).Return(activities.RollupHourResult{}, errors.New("database down"))
	env.ExecuteWorkflow(NameRevenueRollupHourly, RollupInput{Hour: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("want the workflow to fail after the activity's retries")
	}
}

func TestDuration_JSON(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{`"90s"`, 90 * time.Second, false},
		{`"10m"`, 10 * time.Minute, false},
		{`1000000000`, time.Second, false},
		{`"soon"`, 0, true},
		{`true`, 0, true},
	}
	for _, tt := range tests {
		var d Duration
		err := d.UnmarshalJSON([]byte(tt.in))
		if (err != nil) != tt.bad || (!tt.bad && time.Duration(d) != tt.want) {
			t.Errorf("%s: got %v, %v", tt.in, time.Duration(d), err)
		}
	}
	b, _ := Duration(90 * time.Second).MarshalJSON()
	if string(b) != `"1m30s"` {
		t.Errorf("marshal: %s", b)
	}
}

func TestPartitionMaintenance_CreatesTodayAndAWeekAhead(t *testing.T) {
	env := newEnv(t)
	start := time.Date(2026, 11, 26, 0, 15, 0, 0, time.UTC)
	env.SetStartTime(start)
	today := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	env.OnActivity(activities.NameEnsurePartitions, mock.Anything, activities.PartitionsInput{From: today, Days: DefaultPartitionDaysAhead + 1}).
		Return(activities.PartitionsResult{From: today, To: today.AddDate(0, 0, 8)}, nil).Once()
	env.ExecuteWorkflow(NamePartitionMaintenance, PartitionsInput{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	env.AssertExpectations(t)
}

func TestStreamSupervisor_ContinuesAsNewBeforeItsHistoryGrowsLarge(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(activities.NameEnsureStream, mock.Anything, mock.Anything).Return(activities.EnsureStreamResult{Partitions: 2}, nil)
	env.OnActivity(activities.NameConsumePartitions, mock.Anything, mock.Anything).After(time.Hour).Return(activities.ConsumeResult{}, nil)
	in := SupervisorInput{Topic: "orders", Partitions: 2, Consumers: 2, MaxRun: time.Hour, HeartbeatTimeout: 20 * time.Second}
	// After a few hours the history is past the limit: the next consumer to
	// return drains the others and the supervisor continues as new.
	env.RegisterDelayedCallback(func() { env.SetCurrentHistoryLength(historyLimit + 1) }, 3*time.Hour+time.Minute)
	env.ExecuteWorkflow(NameStreamSupervisor, in)
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new once the history is long, got %v", err)
	}
	if can.WorkflowType.Name != NameStreamSupervisor {
		t.Fatalf("continued as %s", can.WorkflowType.Name)
	}
}

func TestStreamSupervisor_NewConsumerCountDrainsAndContinuesAsNewWithIt(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(activities.NameEnsureStream, mock.Anything, mock.Anything).Return(activities.EnsureStreamResult{Partitions: 4}, nil)
	var mu sync.Mutex
	var started []string
	cancelled := 0
	// Each consumer runs for an hour of the test clock unless cancelled.
	env.OnActivity(activities.NameConsumePartitions, mock.Anything, mock.Anything).After(time.Hour).Return(
		activities.ConsumeResult{}, nil)
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		if info.ActivityType.Name != activities.NameConsumePartitions {
			return
		}
		var in activities.ConsumeInput
		if err := args.Get(&in); err != nil {
			t.Error(err)
		}
		mu.Lock()
		defer mu.Unlock()
		started = append(started, fmt.Sprint(in.Partitions))
	})
	env.SetOnActivityCanceledListener(func(*activity.Info) {
		mu.Lock()
		defer mu.Unlock()
		cancelled++
	})
	in := SupervisorInput{Topic: "orders", Partitions: 4, Consumers: 2, MaxRun: time.Hour, HeartbeatTimeout: 20 * time.Second}
	// The same count changes nothing; a new one re-assigns.
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalSetConsumers, 2) }, 10*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalSetConsumers, 4) }, 20*time.Minute)
	env.ExecuteWorkflow(NameStreamSupervisor, in)

	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new with the new count, got %v", err)
	}
	var next SupervisorInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if want := in; next != (SupervisorInput{Topic: want.Topic, Partitions: 4, Consumers: 4, MaxRun: want.MaxRun, HeartbeatTimeout: want.HeartbeatTimeout}) {
		t.Fatalf("continued with %+v, want 4 consumers", next)
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(started)
	if fmt.Sprint(started) != "[[0 2] [1 3]]" || cancelled != 2 {
		t.Fatalf("the old run started %v and saw %d cancelled, want sets [0 2] and [1 3] each started once and cancelled before the new run", started, cancelled)
	}
	if got := SplitPartitions(next.Partitions, next.Consumers); fmt.Sprint(got) != "[[0] [1] [2] [3]]" {
		t.Fatalf("the next run's sets: %v", got)
	}
}
