package workers

import (
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/workflows"
)

// registerCustomers registers the customer model workflows (segmentation,
// churn and lifetime value, recommendations) and their activities.
func registerCustomers(r worker.Registry, a *activities.Customers) {
	r.RegisterWorkflowWithOptions(workflows.CustomerFeatures, workflow.RegisterOptions{Name: workflows.NameCustomerFeatures})
	r.RegisterWorkflowWithOptions(workflows.ChurnLTV, workflow.RegisterOptions{Name: workflows.NameChurnLTV})
	r.RegisterWorkflowWithOptions(workflows.Recommendations, workflow.RegisterOptions{Name: workflows.NameRecommendations})
	r.RegisterActivityWithOptions(a.ComputeCustomerFeatures, activity.RegisterOptions{Name: activities.NameComputeCustomerFeatures})
	r.RegisterActivityWithOptions(a.FitChurnLTV, activity.RegisterOptions{Name: activities.NameFitChurnLTV})
	r.RegisterActivityWithOptions(a.BuildRecommendations, activity.RegisterOptions{Name: activities.NameBuildRecommendations})
	r.RegisterActivityWithOptions(a.PromoteCustomerModel, activity.RegisterOptions{Name: activities.NamePromoteCustomerModel})
}
