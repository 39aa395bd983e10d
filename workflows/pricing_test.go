package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

func newPricingEnv() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetStartTime(time.Date(2026, 11, 26, 2, 45, 0, 0, time.UTC))
	env.RegisterWorkflowWithOptions(PricingRecommendations, workflow.RegisterOptions{Name: NamePricingRecommendations})
	a := &activities.Pricing{}
	env.RegisterActivityWithOptions(a.FitPriceElasticities, activity.RegisterOptions{Name: activities.NameFitPriceElasticities})
	env.RegisterActivityWithOptions(a.RecommendPrices, activity.RegisterOptions{Name: activities.NameRecommendPrices})
	return env
}

func TestPricingRecommendations_FitsThenRecommendsFromThatVersion(t *testing.T) {
	env := newPricingEnv()
	var fitIn activities.FitInput
	env.OnActivity(activities.NameFitPriceElasticities, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.FitInput) (activities.FitResult, error) {
			fitIn = in
			return activities.FitResult{Version: "pricing-20261126-abc", Products: 10, Fitted: 4}, nil
		})
	var recIn activities.RecommendInput
	env.OnActivity(activities.NameRecommendPrices, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecommendInput) (activities.RecommendResult, error) {
			recIn = in
			return activities.RecommendResult{Recommended: 3, Unchanged: 1}, nil
		})
	env.ExecuteWorkflow(NamePricingRecommendations, PricingInput{Policy: activities.PricingPolicy{MaxStep: 0.05}})
	var res PricingResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if !fitIn.AsOf.Equal(time.Date(2026, 11, 26, 2, 45, 0, 0, time.UTC)) || fitIn.Policy.MaxStep != 0.05 || fitIn.RunID == "" {
		t.Fatalf("fit input %+v", fitIn)
	}
	if recIn.Version != "pricing-20261126-abc" || recIn.Policy.MaxStep != 0.05 || res.Recommend.Recommended != 3 {
		t.Fatalf("recommend input %+v result %+v", recIn, res)
	}
}

func TestPricingRecommendations_NothingFittedNothingRecommended(t *testing.T) {
	env := newPricingEnv()
	env.OnActivity(activities.NameFitPriceElasticities, mock.Anything, mock.Anything).Return(activities.FitResult{Version: "v", Products: 2}, nil)
	env.ExecuteWorkflow(NamePricingRecommendations, PricingInput{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	env.AssertNotCalled(t, activities.NameRecommendPrices, mock.Anything, mock.Anything)
}
