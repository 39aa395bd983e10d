package workflows

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

func newBackfillEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	env := newEnv(t)
	env.RegisterWorkflowWithOptions(Backfill, workflow.RegisterOptions{Name: NameBackfill})
	env.RegisterWorkflowWithOptions(BackfillDay, workflow.RegisterOptions{Name: NameBackfillDay})
	return env
}

func TestBackfill_RunsEachDayOnceWithLimitedConcurrency(t *testing.T) {
	env := newBackfillEnv(t)
	var mu sync.Mutex
	running, maxRunning := 0, 0
	days := map[string]int{}
	env.OnWorkflow(NameBackfillDay, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in BackfillDayInput) (BackfillDayResult, error) {
			mu.Lock()
			running++
			maxRunning = max(maxRunning, running)
			days[in.Day.Format(time.DateOnly)]++
			mu.Unlock()
			if in.Workflow != NameRollupDaily || in.Backfill.WatermarkWait != Duration(DefaultBackfillWatermarkWait) {
				return BackfillDayResult{}, errors.New("wrong options")
			}
			if id := workflow.GetInfo(ctx).WorkflowExecution.ID; !strings.HasSuffix(id, "/RollupDaily/"+in.Day.Format(time.DateOnly)) {
				return BackfillDayResult{}, errors.New("child id " + id)
			}
			_ = workflow.Sleep(ctx, time.Duration(1+in.Day.Day()%3)*time.Minute)
			mu.Lock()
			running--
			mu.Unlock()
			return BackfillDayResult{Runs: 1}, nil
		})
	env.ExecuteWorkflow(NameBackfill, BackfillInput{Workflow: NameRollupDaily, From: "2026-10-30", To: "2026-11-05", Concurrency: 2})
	var res BackfillResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Days != 7 || len(days) != 7 || maxRunning != 2 {
		t.Fatalf("result %+v, days %v, max concurrent %d (want 7 days, at most 2 at once)", res, days, maxRunning)
	}
	for d, n := range days {
		if n != 1 {
			t.Errorf("day %s ran %d times", d, n)
		}
	}
}

func TestBackfill_ContinuesAsNewFromTheNextDay(t *testing.T) {
	env := newBackfillEnv(t)
	env.OnWorkflow(NameBackfillDay, mock.Anything, mock.Anything).Return(BackfillDayResult{Runs: 1}, nil)
	env.ExecuteWorkflow(NameBackfill, BackfillInput{Workflow: NameRollupDaily, From: "2026-01-01", To: "2026-01-10", DaysPerRun: 4})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
	var next BackfillInput
	if err := converter.GetDefaultDataConverter().FromPayloads(can.Input, &next); err != nil {
		t.Fatal(err)
	}
	if next.From != "2026-01-05" || next.To != "2026-01-10" || next.Done != 4 {
		t.Fatalf("continued with %+v, want from 2026-01-05 with 4 done", next)
	}
}

func TestBackfill_FailsNamingTheFailedDaysAfterRunningTheOthers(t *testing.T) {
	env := newBackfillEnv(t)
	ran := 0
	env.OnWorkflow(NameBackfillDay, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in BackfillDayInput) (BackfillDayResult, error) {
			ran++
			if in.Day.Day() == 2 {
				return BackfillDayResult{}, errors.New("database down")
			}
			return BackfillDayResult{Runs: 1}, nil
		})
	env.ExecuteWorkflow(NameBackfill, BackfillInput{Workflow: NameRollupDaily, From: "2026-01-01", To: "2026-01-03"})
	err := env.GetWorkflowError()
	if err == nil || !strings.Contains(err.Error(), "1 days failed: 2026-01-02") {
		t.Fatalf("want the failed day named, got %v", err)
	}
	if ran < 3 {
		t.Fatalf("%d day runs, want every day tried", ran)
	}
}

func TestBackfill_RejectsBadInput(t *testing.T) {
	for _, in := range []BackfillInput{
		{Workflow: "Nope", From: "2026-01-01", To: "2026-01-02"},
		{Workflow: NameRollupDaily, From: "2026-13-01", To: "2026-01-02"},
		{Workflow: NameRollupDaily, From: "2026-01-05", To: "2026-01-02"},
		{Workflow: NameRollupDaily, From: "2000-01-01", To: "2026-01-02"},
	} {
		env := newBackfillEnv(t)
		env.ExecuteWorkflow(NameBackfill, in)
		if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "backfill input") {
			t.Errorf("%+v: want an input error, got %v", in, err)
		}
	}
}

func TestBackfillDay_RunsTheHoursOfADayAsChildren(t *testing.T) {
	env := newBackfillEnv(t)
	var hours []time.Time
	env.OnWorkflow(NameRevenueRollupHourly, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in RollupInput) (RollupResult, error) {
			hours = append(hours, in.Hour)
			return RollupResult{}, nil
		})
	day := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	env.ExecuteWorkflow(NameBackfillDay, BackfillDayInput{Workflow: NameRevenueRollupHourly, Day: day,
		Backfill: BackfillInput{WatermarkWait: Duration(time.Minute), DayTimeout: Duration(time.Hour)}})
	var res BackfillDayResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Runs != 24 || len(hours) != 24 || !hours[0].Equal(day) || !hours[23].Equal(day.Add(23*time.Hour)) {
		t.Fatalf("result %+v, hours %v", res, hours)
	}
}
