package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

func newCustomersEnv(t *testing.T) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(CustomerFeatures, workflow.RegisterOptions{Name: NameCustomerFeatures})
	env.RegisterWorkflowWithOptions(ChurnLTV, workflow.RegisterOptions{Name: NameChurnLTV})
	env.RegisterWorkflowWithOptions(Recommendations, workflow.RegisterOptions{Name: NameRecommendations})
	a := &activities.Customers{}
	env.RegisterActivityWithOptions(a.ComputeCustomerFeatures, activity.RegisterOptions{Name: activities.NameComputeCustomerFeatures})
	env.RegisterActivityWithOptions(a.FitChurnLTV, activity.RegisterOptions{Name: activities.NameFitChurnLTV})
	env.RegisterActivityWithOptions(a.BuildRecommendations, activity.RegisterOptions{Name: activities.NameBuildRecommendations})
	env.RegisterActivityWithOptions(a.PromoteCustomerModel, activity.RegisterOptions{Name: activities.NamePromoteCustomerModel})
	return env
}

var asOf = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)

func TestCustomerFeatures_ComputesThenPromotes(t *testing.T) {
	env := newCustomersEnv(t)
	var got activities.CustomerFeaturesInput
	env.OnActivity(activities.NameComputeCustomerFeatures, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CustomerFeaturesInput) (activities.CustomerFeaturesResult, error) {
			got = in
			return activities.CustomerFeaturesResult{ModelVersion: "v1", Customers: 40, K: 3}, nil
		}).Once()
	env.OnActivity(activities.NamePromoteCustomerModel, mock.Anything, mock.MatchedBy(func(in activities.PromoteInput) bool {
		return in.Model == activities.ModelSegmentation && in.Version == "v1" && in.By != ""
	})).Return(activities.PromoteResult{Promoted: true, Active: "v1"}, nil).Once()
	env.ExecuteWorkflow(NameCustomerFeatures, CustomerFeaturesInput{AsOf: Date{asOf.Add(13 * time.Hour)}, KMax: 5})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res CustomerFeaturesResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if !res.Promoted || res.ModelVersion != "v1" || !res.AsOf.Equal(asOf) {
		t.Errorf("result %+v", res)
	}
	if !got.AsOf.Equal(asOf) || got.Days != DefaultCustomerWindowDays || got.KMax != 5 || got.RunID == "" || got.Workflow != NameCustomerFeatures {
		t.Errorf("activity input %+v", got)
	}
	env.AssertExpectations(t)
}

func TestCustomerFeatures_AsOfDefaultsToTheStartDate(t *testing.T) {
	env := newCustomersEnv(t)
	env.SetStartTime(time.Date(2026, 10, 5, 2, 30, 0, 0, time.UTC))
	var got activities.CustomerFeaturesInput
	env.OnActivity(activities.NameComputeCustomerFeatures, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CustomerFeaturesInput) (activities.CustomerFeaturesResult, error) {
			got = in
			return activities.CustomerFeaturesResult{Skipped: "too few customers"}, nil
		})
	env.ExecuteWorkflow(NameCustomerFeatures, CustomerFeaturesInput{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res CustomerFeaturesResult
	_ = env.GetWorkflowResult(&res)
	if want := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC); !got.AsOf.Equal(want) {
		t.Errorf("as of %v, want %v", got.AsOf, want)
	}
	// Skipped: nothing to promote (no promote mock is set, so a call would fail).
	if res.Promoted || res.Skipped == "" {
		t.Errorf("result %+v", res)
	}
}

func TestCustomerFeatures_RetriesTransientFailures(t *testing.T) {
	env := newCustomersEnv(t)
	calls := 0
	env.OnActivity(activities.NameComputeCustomerFeatures, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CustomerFeaturesInput) (activities.CustomerFeaturesResult, error) {
			calls++
			if calls < 3 {
				return activities.CustomerFeaturesResult{}, errors.New("connection reset")
			}
			return activities.CustomerFeaturesResult{ModelVersion: "v2"}, nil
		})
	env.OnActivity(activities.NamePromoteCustomerModel, mock.Anything, mock.Anything).Return(activities.PromoteResult{Promoted: true}, nil)
	env.ExecuteWorkflow(NameCustomerFeatures, CustomerFeaturesInput{AsOf: Date{asOf}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Errorf("calls %d, want 3", calls)
	}
}

func TestCustomerModels_InvalidInputFailsWithoutRetry(t *testing.T) {
	tests := []struct {
		name     string
		workflow string
		input    any
	}{
		{"negative window", NameCustomerFeatures, CustomerFeaturesInput{WindowDays: -3}},
		{"k_max below k_min", NameCustomerFeatures, CustomerFeaturesInput{KMin: 5, KMax: 3}},
		{"negative horizon", NameChurnLTV, ChurnLTVInput{HorizonDays: -1}},
		{"huge window", NameRecommendations, RecommendationsInput{WindowDays: 100000}},
		{"negative k", NameRecommendations, RecommendationsInput{K: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newCustomersEnv(t)
			env.ExecuteWorkflow(tt.workflow, tt.input)
			err := env.GetWorkflowError()
			var app *temporal.ApplicationError
			if !errors.As(err, &app) || app.Type() != "InvalidInput" || !app.NonRetryable() {
				t.Fatalf("want a non-retryable InvalidInput error, got %v", err)
			}
		})
	}
}

func TestCustomerFeatures_ActivityInvalidInputIsNotRetried(t *testing.T) {
	env := newCustomersEnv(t)
	calls := 0
	env.OnActivity(activities.NameComputeCustomerFeatures, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.CustomerFeaturesInput) (activities.CustomerFeaturesResult, error) {
			calls++
			return activities.CustomerFeaturesResult{}, temporal.NewNonRetryableApplicationError("k_max too big", "InvalidInput", nil)
		})
	env.ExecuteWorkflow(NameCustomerFeatures, CustomerFeaturesInput{AsOf: Date{asOf}, KMax: 50})
	if env.GetWorkflowError() == nil || calls != 1 {
		t.Fatalf("err %v after %d calls: want a failure after one call", env.GetWorkflowError(), calls)
	}
}

func TestChurnLTV_PromotesOnlyAConvergedFit(t *testing.T) {
	for _, converged := range []bool{true, false} {
		env := newCustomersEnv(t)
		env.OnActivity(activities.NameFitChurnLTV, mock.Anything, mock.MatchedBy(func(in activities.ChurnInput) bool {
			return in.AsOf.Equal(asOf) && in.Days == 180 && in.HorizonDays == 30
		})).Return(activities.ChurnResult{ModelVersion: "c1", Customers: 100, Repeaters: 40, Converged: converged}, nil).Once()
		promoted := 0
		env.OnActivity(activities.NamePromoteCustomerModel, mock.Anything, mock.Anything).Return(
			func(_ context.Context, in activities.PromoteInput) (activities.PromoteResult, error) {
				if in.Model != activities.ModelChurn || in.Version != "c1" {
					t.Errorf("promote %+v", in)
				}
				promoted++
				return activities.PromoteResult{Promoted: true}, nil
			}).Maybe()
		env.ExecuteWorkflow(NameChurnLTV, ChurnLTVInput{AsOf: Date{asOf}, WindowDays: 180, HorizonDays: 30})
		if err := env.GetWorkflowError(); err != nil {
			t.Fatal(err)
		}
		var res ChurnLTVResult
		_ = env.GetWorkflowResult(&res)
		if want := map[bool]int{true: 1, false: 0}[converged]; promoted != want || res.Promoted != converged {
			t.Errorf("converged %v: promoted %d times (result %v)", converged, promoted, res.Promoted)
		}
	}
}

func TestRecommendations_PromotesOnlyWhenBeatingPopularity(t *testing.T) {
	tests := []struct {
		name        string
		res         activities.RecommendationsResult
		wantPromote bool
	}{
		{"beats popularity", activities.RecommendationsResult{ModelVersion: "r1", EvaluatedUsers: 50, HitRate: 0.3, PopularityHitRate: 0.2}, true},
		{"loses to popularity", activities.RecommendationsResult{ModelVersion: "r1", EvaluatedUsers: 50, HitRate: 0.1, PopularityHitRate: 0.2}, false},
		{"nobody to evaluate", activities.RecommendationsResult{ModelVersion: "r1"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newCustomersEnv(t)
			env.OnActivity(activities.NameBuildRecommendations, mock.Anything, mock.MatchedBy(func(in activities.RecommendationsInput) bool {
				return in.Days == DefaultRecommendationsWindowDays && in.K == 0
			})).Return(tt.res, nil)
			promoted := false
			env.OnActivity(activities.NamePromoteCustomerModel, mock.Anything, mock.Anything).Return(
				func(_ context.Context, in activities.PromoteInput) (activities.PromoteResult, error) {
					promoted = true
					return activities.PromoteResult{Promoted: true}, nil
				}).Maybe()
			env.ExecuteWorkflow(NameRecommendations, RecommendationsInput{AsOf: Date{asOf}})
			if err := env.GetWorkflowError(); err != nil {
				t.Fatal(err)
			}
			var res RecommendationsResult
			_ = env.GetWorkflowResult(&res)
			if promoted != tt.wantPromote || res.Promoted != tt.wantPromote {
				t.Errorf("promoted %v (result %v), want %v", promoted, res.Promoted, tt.wantPromote)
			}
		})
	}
}

// The CLI's JSON inputs decode as the README shows.
func TestCustomerInputs_DecodeCLIJSON(t *testing.T) {
	var in ChurnLTVInput
	if err := json.Unmarshal([]byte(`{"as_of":"2026-11-26","window_days":180,"horizon_days":30,"annual_discount_rate":0.08}`), &in); err != nil {
		t.Fatal(err)
	}
	if !in.AsOf.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) || in.WindowDays != 180 || in.HorizonDays != 30 || in.AnnualDiscountRate != 0.08 {
		t.Errorf("decoded %+v", in)
	}
	var r RecommendationsInput
	if err := json.Unmarshal([]byte(`{"as_of":"2026-11-26T15:04:05Z","k":5}`), &r); err != nil {
		t.Fatal(err)
	}
	if !r.AsOf.Equal(time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)) || r.K != 5 {
		t.Errorf("decoded %+v", r)
	}
	if err := json.Unmarshal([]byte(`{"as_of":"26/11/2026"}`), &r); err == nil {
		t.Error("a malformed date should not decode")
	}
	b, _ := json.Marshal(CustomerFeaturesInput{AsOf: Date{asOf}})
	if string(b) != `{"as_of":"2026-09-01"}` {
		t.Errorf("encoded %s", b)
	}
}

// A backfill of an old date registers its model but leaves the newer active
// one in place: the result says it was not promoted.
func TestCustomerFeatures_BackfillDoesNotReplaceANewerModel(t *testing.T) {
	env := newCustomersEnv(t)
	env.OnActivity(activities.NameComputeCustomerFeatures, mock.Anything, mock.Anything).Return(
		activities.CustomerFeaturesResult{ModelVersion: "old", Customers: 10, K: 2}, nil)
	env.OnActivity(activities.NamePromoteCustomerModel, mock.Anything, mock.Anything).Return(
		activities.PromoteResult{Promoted: false, Active: "new"}, nil)
	env.ExecuteWorkflow(NameCustomerFeatures, CustomerFeaturesInput{AsOf: Date{asOf.AddDate(0, -1, 0)}})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res CustomerFeaturesResult
	_ = env.GetWorkflowResult(&res)
	if res.Promoted {
		t.Errorf("result %+v: want not promoted", res)
	}
}
