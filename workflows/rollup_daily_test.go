package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/shoppulse/shoppulse/activities"
)

func TestRollupDaily_RollsUpYesterdayOnceTheWatermarksPass(t *testing.T) {
	env := newEnv(t)
	env.SetStartTime(time.Date(2026, 11, 26, 0, 20, 0, 0, time.UTC))
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	checks := 0
	env.OnActivity(activities.NameCheckWatermarks, mock.Anything, activities.WatermarksInput{Topics: DefaultRollupTopics, Until: day.AddDate(0, 0, 1)}).
		Return(func(context.Context, activities.WatermarksInput) (activities.WatermarkResult, error) {
			checks++
			return activities.WatermarkResult{Ready: checks == 2}, nil
		})
	env.OnActivity(activities.NameRollupPeriod, mock.Anything, mock.MatchedBy(func(in activities.RollupPeriodInput) bool {
		return in.Grain == "day" && in.Start.Equal(day) && in.Complete && in.Workflow == NameRollupDaily
	})).Return(activities.RollupPeriodResult{Grain: "day", Start: day, SalesRows: 9}, nil).Once()
	env.ExecuteWorkflow(NameRollupDaily, RollupDailyInput{})
	var res RollupDailyResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if !res.Complete || !res.Day.Equal(day) || res.Period.SalesRows != 9 || checks != 2 {
		t.Fatalf("result %+v after %d checks", res, checks)
	}
	env.AssertExpectations(t)
}

func TestRollupDaily_AlertsWhenTheWaitRunsOut(t *testing.T) {
	env := newEnv(t)
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	env.OnActivity(activities.NameCheckWatermarks, mock.Anything, mock.Anything).
		Return(activities.WatermarkResult{LaggingPartitions: []string{"shop.clickstream.v1/none"}}, nil)
	env.OnActivity(activities.NameRaiseAlert, mock.Anything, mock.MatchedBy(func(in activities.RaiseAlertInput) bool {
		return in.DedupKey == "rollup_incomplete:day:2026-03-01T00:00:00Z" && in.Severity == "warning"
	})).Return(activities.RaiseAlertResult{Changed: true}, nil).Once()
	env.OnActivity(activities.NameRollupPeriod, mock.Anything, mock.MatchedBy(func(in activities.RollupPeriodInput) bool {
		return !in.Complete && in.Start.Equal(day)
	})).Return(activities.RollupPeriodResult{}, nil).Once()
	env.ExecuteWorkflow(NameRollupDaily, RollupDailyInput{Day: day.Add(13 * time.Hour), WatermarkWait: Duration(2 * time.Minute)})
	var res RollupDailyResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Complete || len(res.Lagging) != 1 {
		t.Fatalf("result %+v", res)
	}
	env.AssertExpectations(t)
}
