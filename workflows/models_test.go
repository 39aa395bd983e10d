package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/analytics"
)

func newModelsEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(FraudModelTraining, workflow.RegisterOptions{Name: NameFraudModelTraining})
	env.RegisterWorkflowWithOptions(DemandForecast, workflow.RegisterOptions{Name: NameDemandForecast})
	f := &activities.FraudTraining{}
	fc := &activities.Forecasts{}
	env.RegisterActivityWithOptions(f.TrainFraudModel, activity.RegisterOptions{Name: activities.NameTrainFraudModel})
	env.RegisterActivityWithOptions(f.PromoteFraudModel, activity.RegisterOptions{Name: activities.NamePromoteFraudModel})
	env.RegisterActivityWithOptions(fc.ForecastDemand, activity.RegisterOptions{Name: activities.NameForecastDemand})
	return env
}

func trained(auc, baseAUC float64, active string) activities.TrainFraudResult {
	base := analytics.RulesVersion
	if active != "" {
		base = active
	}
	return activities.TrainFraudResult{Version: "fraud-lr-x", BaselineVersion: base, BaselineActive: active,
		Candidate: analytics.ClassifierMetrics{AUC: auc}, Baseline: analytics.ClassifierMetrics{AUC: baseAUC}}
}

func TestFraudModelTraining_PromotesWhenBetterThanRules(t *testing.T) {
	env := newModelsEnv(t)
	start := time.Date(2026, 11, 26, 2, 30, 0, 0, time.UTC)
	env.SetStartTime(start)
	env.OnActivity(activities.NameTrainFraudModel, mock.Anything, mock.MatchedBy(func(in activities.TrainFraudInput) bool {
		return in.AsOf.Equal(start) && in.TrainWindow == 90*24*time.Hour && in.LabelDelay == 30*24*time.Hour &&
			in.HoldoutFraction == 0.25 && in.RunID != "" && in.Workflow == NameFraudModelTraining
	})).Return(trained(0.97, 0.90, ""), nil).Once()
	env.OnActivity(activities.NamePromoteFraudModel, mock.Anything, mock.MatchedBy(func(in activities.PromoteFraudInput) bool {
		return in.Version == "fraud-lr-x" && in.ExpectActive == ""
	})).Return(activities.PromoteFraudResult{Promoted: true, Active: "fraud-lr-x"}, nil).Once()
	env.ExecuteWorkflow(NameFraudModelTraining, FraudTrainingInput{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res FraudTrainingResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if !res.Promoted || res.Active != "fraud-lr-x" {
		t.Fatalf("got %+v", res)
	}
	env.AssertExpectations(t)
}

func TestFraudModelTraining_KeepsActiveModelWhenNotBetter(t *testing.T) {
	for _, tt := range []struct {
		name          string
		auc, baseline float64
		in            FraudTrainingInput
	}{
		{"worse", 0.85, 0.9, FraudTrainingInput{}},
		{"equal", 0.9, 0.9, FraudTrainingInput{}},
		{"better but below the required gain", 0.905, 0.9, FraudTrainingInput{MinAUCGain: 0.01}},
		{"better but no_promote", 0.99, 0.9, FraudTrainingInput{NoPromote: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := newModelsEnv(t)
			env.OnActivity(activities.NameTrainFraudModel, mock.Anything, mock.Anything).Return(trained(tt.auc, tt.baseline, "fraud-lr-old"), nil)
			env.ExecuteWorkflow(NameFraudModelTraining, tt.in)
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var res FraudTrainingResult
			_ = env.GetWorkflowResult(&res)
			if res.Promoted || res.Active != "fraud-lr-old" {
				t.Fatalf("got %+v", res)
			}
			env.AssertNotCalled(t, activities.NamePromoteFraudModel, mock.Anything, mock.Anything)
		})
	}
}

func TestFraudModelTraining_InputsAndFailures(t *testing.T) {
	zero := 0
	env := newModelsEnv(t)
	asOf := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	env.OnActivity(activities.NameTrainFraudModel, mock.Anything, mock.MatchedBy(func(in activities.TrainFraudInput) bool {
		return in.AsOf.Equal(asOf) && in.LabelDelay == 0 && in.TrainWindow == 30*24*time.Hour && in.Threshold == 0.5
	})).Return(activities.TrainFraudResult{}, temporal.NewNonRetryableApplicationError("no fraud", activities.ErrNotEnoughLabels, nil)).Once()
	env.ExecuteWorkflow(NameFraudModelTraining, FraudTrainingInput{AsOf: asOf, TrainDays: 30, LabelDelayDays: &zero, AlertThreshold: 0.5})
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("want the activity's error")
	}
	env.AssertExpectations(t)

	bad := newModelsEnv(t)
	bad.ExecuteWorkflow(NameFraudModelTraining, FraudTrainingInput{HoldoutFraction: 1.5})
	if err := bad.GetWorkflowError(); err == nil {
		t.Fatal("want an error for holdout_fraction 1.5")
	}
}

func TestFraudModelTraining_ActiveChangedSinceComparison(t *testing.T) {
	env := newModelsEnv(t)
	env.OnActivity(activities.NameTrainFraudModel, mock.Anything, mock.Anything).Return(trained(0.99, 0.9, "fraud-lr-old"), nil)
	env.OnActivity(activities.NamePromoteFraudModel, mock.Anything, mock.Anything).
		Return(activities.PromoteFraudResult{Promoted: false, Active: "fraud-lr-other"}, nil)
	env.ExecuteWorkflow(NameFraudModelTraining, FraudTrainingInput{})
	var res FraudTrainingResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Promoted || res.Active != "fraud-lr-other" {
		t.Fatalf("got %+v", res)
	}
}

func TestDemandForecast_DefaultsFromScheduledDay(t *testing.T) {
	env := newModelsEnv(t)
	env.SetStartTime(time.Date(2026, 11, 26, 1, 45, 0, 0, time.UTC))
	day := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	env.OnActivity(activities.NameForecastDemand, mock.Anything, mock.MatchedBy(func(in activities.ForecastInput) bool {
		return in.AsOf.Equal(day) && in.HistoryDays == 182 && in.Horizon == 28 && in.Holdout == 14 && in.Period == 7 &&
			in.Alpha == 0.1 && in.RunID != "" && in.Workflow == NameDemandForecast
	})).Return(func(_ context.Context, in activities.ForecastInput) (activities.ForecastResult, error) {
		return activities.ForecastResult{Version: activities.ForecastVersion(in.AsOf), Products: 3, Rows: 84}, nil
	}).Once()
	env.ExecuteWorkflow(NameDemandForecast, ForecastInput{})
	var res activities.ForecastResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Version != "forecast-2026-11-26" || res.Rows != 84 {
		t.Fatalf("got %+v", res)
	}
	env.AssertExpectations(t)

	bad := newModelsEnv(t)
	bad.ExecuteWorkflow(NameDemandForecast, ForecastInput{Horizon: -1})
	if err := bad.GetWorkflowError(); err == nil {
		t.Fatal("want an error for a negative horizon")
	}
}
