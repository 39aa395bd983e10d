package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"

	"github.com/shoppulse/shoppulse/activities"
)

// A rollup marks itself with the hour it rolls up, so the UI can find it.
func TestRevenueRollupHourly_SetsItsPeriodSearchAttribute(t *testing.T) {
	env := newEnv(t)
	hour := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	var got temporal.SearchAttributes
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		got = args.Get(0).(temporal.SearchAttributes)
	}).Return(nil).Once()
	env.OnActivity(activities.NameCheckWatermarks, mock.Anything, mock.Anything).Return(activities.WatermarkResult{Ready: true}, nil)
	env.OnActivity(activities.NameRollupRevenueHour, mock.Anything, mock.Anything).Return(activities.RollupHourResult{Hour: hour}, nil)
	env.OnActivity(activities.NameRollupPeriod, mock.Anything, mock.Anything).Return(activities.RollupPeriodResult{}, nil)
	env.ExecuteWorkflow(NameRevenueRollupHourly, RollupInput{Hour: hour.Add(20 * time.Minute), Topic: "t"})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	period, _ := got.GetKeyword(SearchPeriod)
	topic, _ := got.GetKeyword(SearchTopic)
	if period != "2026-11-26T13:00:00Z" || topic != "t" {
		t.Fatalf("search attributes: period %q, topic %q; want 2026-11-26T13:00:00Z, t", period, topic)
	}
	env.AssertExpectations(t)
}

func TestPeriods(t *testing.T) {
	at := time.Date(2026, 11, 26, 13, 42, 7, 0, time.FixedZone("CET", 3600))
	if got := PeriodHour(at); got != "2026-11-26T12:00:00Z" {
		t.Errorf("PeriodHour = %s", got)
	}
	if got := PeriodDay(at); got != "2026-11-26" {
		t.Errorf("PeriodDay = %s", got)
	}
	if got := partitionValues(3); len(got) != 3 || got[0] != "0" || got[2] != "2" {
		t.Errorf("partitionValues(3) = %v", got)
	}
}
