package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

// NamePricingRecommendations is the registered name of PricingRecommendations.
const NamePricingRecommendations = "PricingRecommendations"

// PricingInput is the pricing workflow's input; every field is optional.
type PricingInput struct {
	// AsOf: the fit uses the days before its UTC day; default the workflow's start.
	AsOf time.Time `json:"as_of,omitzero"`
	// Policy overrides the configured pricing policy's fields.
	Policy activities.PricingPolicy `json:"policy,omitzero"`
}

// PricingResult is the model version registered and the recommendations made.
type PricingResult struct {
	Fit       activities.FitResult
	Recommend activities.RecommendResult
}

// PricingRecommendations fits each product's price elasticity, registers
// the fits as a version of the 'pricing' model with its metrics, and stores
// a proposed price per product within the guardrails. Nothing is applied:
// each proposal waits for a person's approval.
func PricingRecommendations(ctx workflow.Context, in PricingInput) (PricingResult, error) {
	if in.AsOf.IsZero() {
		in.AsOf = workflow.Now(ctx).UTC()
	}
	info := workflow.GetInfo(ctx)
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5},
	})
	var res PricingResult
	if err := workflow.ExecuteActivity(actx, activities.NameFitPriceElasticities, activities.FitInput{
		AsOf: in.AsOf, Policy: in.Policy, RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
	}).Get(ctx, &res.Fit); err != nil {
		return res, fmt.Errorf("fit price elasticities: %w", err)
	}
	if res.Fit.Fitted == 0 {
		return res, nil
	}
	if err := workflow.ExecuteActivity(actx, activities.NameRecommendPrices, activities.RecommendInput{
		Version: res.Fit.Version, AsOf: in.AsOf, Policy: in.Policy, RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
	}).Get(ctx, &res.Recommend); err != nil {
		return res, fmt.Errorf("recommend prices: %w", err)
	}
	return res, nil
}
