package workflows

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/store"
)

func TestDataQuality_ChecksEveryTableAndTopicOfThePreviousHour(t *testing.T) {
	env := newEnv(t)
	env.SetStartTime(time.Date(2026, 11, 26, 14, 10, 0, 0, time.UTC))
	hour := time.Date(2026, 11, 26, 13, 0, 0, 0, time.UTC)
	env.OnActivity(activities.NameCheckWatermarks, mock.Anything, activities.WatermarksInput{Topics: DefaultRollupTopics, Until: hour.Add(time.Hour)}).
		Return(activities.WatermarkResult{Ready: true}, nil)
	var mu sync.Mutex
	var tables []string
	env.OnActivity(activities.NameCheckTableQuality, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CheckTableInput) (activities.QualityResult, error) {
			mu.Lock()
			defer mu.Unlock()
			if in.Grain != "hour" || !in.Period.Equal(hour) || in.RunID == "" {
				return activities.QualityResult{}, errors.New("bad input")
			}
			tables = append(tables, in.Table)
			failed := []string(nil)
			if in.Table == "orders" {
				failed = []string{"duplicates"}
			}
			return activities.QualityResult{Table: in.Table, Score: 90, Failed: failed}, nil
		})
	env.OnActivity(activities.NameCheckSchemaDrift, mock.Anything, mock.MatchedBy(func(in activities.DriftInput) bool {
		return in.SampleSize == DefaultDQSampleSize && in.Period.Equal(hour)
	})).Return(func(_ context.Context, in activities.DriftInput) (activities.QualityResult, error) {
		return activities.QualityResult{Table: "topic:" + in.Topic, Score: 100}, nil
	})
	env.ExecuteWorkflow(NameDataQuality, DQInput{})
	var res DQResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(tables) != len(store.DQTables) || len(res.Results) != len(store.DQTables)+len(DefaultDQTopics) || !res.Start.Equal(hour) {
		t.Fatalf("tables %v, result %+v", tables, res)
	}
	if res.Results[0].Table != "orders" || res.Results[0].Failed[0] != "duplicates" {
		t.Fatalf("results in input order, orders first: %+v", res.Results)
	}
}

func TestDataQuality_DayGrainWithoutKafkaForBackfills(t *testing.T) {
	env := newEnv(t)
	day := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	env.OnActivity(activities.NameCheckWatermarks, mock.Anything, mock.Anything).Return(activities.WatermarkResult{Ready: true}, nil)
	env.OnActivity(activities.NameCheckTableQuality, mock.Anything, mock.MatchedBy(func(in activities.CheckTableInput) bool {
		return in.Grain == "day" && in.Period.Equal(day) && in.Table == "payments"
	})).Return(activities.QualityResult{Table: "payments", Score: 100}, nil).Once()
	env.ExecuteWorkflow(NameDataQuality, DQInput{Grain: "day", Period: day.Add(5 * time.Hour), Tables: []string{"payments"}, SkipSchemaDrift: true})
	var res DQResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	env.AssertExpectations(t)
	env.AssertNotCalled(t, activities.NameCheckSchemaDrift, mock.Anything, mock.Anything)
}

func TestDataQuality_RejectsAnUnknownGrain(t *testing.T) {
	env := newEnv(t)
	env.ExecuteWorkflow(NameDataQuality, DQInput{Grain: "week"})
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "grain") {
		t.Fatalf("want a grain error, got %v", err)
	}
}
