// Package workers wires ShopPulse's workflows and activities into Temporal
// workers: task queues, registration under explicit names, worker options.
// It starts nothing by itself beyond the worker it is asked to run.
package workers

import (
	"context"
	"fmt"
	"time"

	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/workflows"
)

// Deps are the activities' dependencies.
type Deps struct {
	Stream     *activities.Stream
	Rollup     *activities.Rollup
	Partitions *activities.Partitions
	Alerts     *activities.Alerts
	Anomalies  *activities.Anomalies
	// BatchAlerts raises the batch workflows' alerts.
	BatchAlerts *activities.BatchAlerts
	// Erasure carries out GDPR erasure requests.
	Erasure *activities.Erasure
	// Quality runs the data quality checks.
	Quality   *activities.Quality
	Customers *activities.Customers
	Fraud     *activities.FraudTraining
	Forecasts *activities.Forecasts
	// Replenishment and Pricing: nil leaves their workflows unregistered.
	Replenishment *activities.Replenishment
	Pricing       *activities.Pricing
}

// Register registers every workflow and activity under its stable name.
func Register(r worker.Registry, d Deps) {
	r.RegisterWorkflowWithOptions(workflows.StreamSupervisor, workflow.RegisterOptions{Name: workflows.NameStreamSupervisor})
	r.RegisterWorkflowWithOptions(workflows.RevenueRollupHourly, workflow.RegisterOptions{Name: workflows.NameRevenueRollupHourly})
	r.RegisterWorkflowWithOptions(workflows.PartitionMaintenance, workflow.RegisterOptions{Name: workflows.NamePartitionMaintenance})
	r.RegisterWorkflowWithOptions(workflows.AlertNotifier, workflow.RegisterOptions{Name: workflows.NameAlertNotifier})
	r.RegisterWorkflowWithOptions(workflows.AnomalyDetector, workflow.RegisterOptions{Name: workflows.NameAnomalyDetector})

	r.RegisterActivityWithOptions(d.Stream.EnsureStream, activity.RegisterOptions{Name: activities.NameEnsureStream})
	r.RegisterActivityWithOptions(d.Stream.ConsumePartitions, activity.RegisterOptions{Name: activities.NameConsumePartitions})
	r.RegisterActivityWithOptions(d.Rollup.CheckWatermark, activity.RegisterOptions{Name: activities.NameCheckWatermark})
	r.RegisterActivityWithOptions(d.Rollup.RollupRevenueHour, activity.RegisterOptions{Name: activities.NameRollupRevenueHour})
	r.RegisterActivityWithOptions(d.Partitions.EnsurePartitions, activity.RegisterOptions{Name: activities.NameEnsurePartitions})
	r.RegisterActivityWithOptions(d.Alerts.PendingAlerts, activity.RegisterOptions{Name: activities.NamePendingAlerts})
	r.RegisterActivityWithOptions(d.Alerts.DeliverAlert, activity.RegisterOptions{Name: activities.NameDeliverAlert})
	r.RegisterActivityWithOptions(d.Anomalies.ListAnomalySeries, activity.RegisterOptions{Name: activities.NameListAnomalySeries})
	r.RegisterActivityWithOptions(d.Anomalies.ScoreAnomalies, activity.RegisterOptions{Name: activities.NameScoreAnomalies})

	r.RegisterWorkflowWithOptions(workflows.RollupDaily, workflow.RegisterOptions{Name: workflows.NameRollupDaily})
	r.RegisterActivityWithOptions(d.Rollup.CheckWatermarks, activity.RegisterOptions{Name: activities.NameCheckWatermarks})
	r.RegisterActivityWithOptions(d.Rollup.RollupPeriod, activity.RegisterOptions{Name: activities.NameRollupPeriod})
	r.RegisterActivityWithOptions(d.BatchAlerts.RaiseAlert, activity.RegisterOptions{Name: activities.NameRaiseAlert})
	r.RegisterWorkflowWithOptions(workflows.Backfill, workflow.RegisterOptions{Name: workflows.NameBackfill})
	r.RegisterWorkflowWithOptions(workflows.BackfillDay, workflow.RegisterOptions{Name: workflows.NameBackfillDay})
	r.RegisterActivityWithOptions(d.Partitions.DropExpiredPartitions, activity.RegisterOptions{Name: activities.NameDropExpiredPartitions})
	r.RegisterWorkflowWithOptions(workflows.EraseCustomer, workflow.RegisterOptions{Name: workflows.NameEraseCustomer})
	r.RegisterActivityWithOptions(d.Erasure.EraseCustomer, activity.RegisterOptions{Name: activities.NameEraseCustomer})
	r.RegisterActivityWithOptions(d.Erasure.FinishErasure, activity.RegisterOptions{Name: activities.NameFinishErasure})
	r.RegisterWorkflowWithOptions(workflows.DataQuality, workflow.RegisterOptions{Name: workflows.NameDataQuality})
	r.RegisterActivityWithOptions(d.Quality.CheckTable, activity.RegisterOptions{Name: activities.NameCheckTableQuality})
	r.RegisterActivityWithOptions(d.Quality.CheckSchemaDrift, activity.RegisterOptions{Name: activities.NameCheckSchemaDrift})
	registerCustomers(r, d.Customers)
	r.RegisterWorkflowWithOptions(workflows.FraudModelTraining, workflow.RegisterOptions{Name: workflows.NameFraudModelTraining})
	r.RegisterActivityWithOptions(d.Fraud.TrainFraudModel, activity.RegisterOptions{Name: activities.NameTrainFraudModel})
	r.RegisterActivityWithOptions(d.Fraud.PromoteFraudModel, activity.RegisterOptions{Name: activities.NamePromoteFraudModel})
	r.RegisterWorkflowWithOptions(workflows.DemandForecast, workflow.RegisterOptions{Name: workflows.NameDemandForecast})
	r.RegisterActivityWithOptions(d.Forecasts.ForecastDemand, activity.RegisterOptions{Name: activities.NameForecastDemand})
	registerReplenishment(r, d.Replenishment)
	registerPricing(r, d.Pricing)
}

func registerReplenishment(r worker.Registry, a *activities.Replenishment) {
	if a == nil {
		return
	}
	r.RegisterWorkflowWithOptions(workflows.ReplenishmentScan, workflow.RegisterOptions{Name: workflows.NameReplenishmentScan})
	r.RegisterWorkflowWithOptions(workflows.ReplenishProduct, workflow.RegisterOptions{Name: workflows.NameReplenishProduct})
	r.RegisterActivityWithOptions(a.PlanReplenishment, activity.RegisterOptions{Name: activities.NamePlanReplenishment})
	r.RegisterActivityWithOptions(a.DraftPurchaseOrder, activity.RegisterOptions{Name: activities.NameDraftPurchaseOrder})
	r.RegisterActivityWithOptions(a.DecidePurchaseOrder, activity.RegisterOptions{Name: activities.NameDecidePurchaseOrder})
	r.RegisterActivityWithOptions(a.ExpirePurchaseOrder, activity.RegisterOptions{Name: activities.NameExpirePurchaseOrder})
	r.RegisterActivityWithOptions(a.SendPurchaseOrder, activity.RegisterOptions{Name: activities.NameSendPurchaseOrder})
	r.RegisterActivityWithOptions(a.ReceivePurchaseOrder, activity.RegisterOptions{Name: activities.NameReceivePurchaseOrder})
	r.RegisterActivityWithOptions(a.MarkPurchaseOrderLate, activity.RegisterOptions{Name: activities.NameMarkPurchaseOrderLate})
	r.RegisterActivityWithOptions(a.StartReplenishers, activity.RegisterOptions{Name: activities.NameStartReplenishers})
}

func registerPricing(r worker.Registry, a *activities.Pricing) {
	if a == nil {
		return
	}
	r.RegisterWorkflowWithOptions(workflows.PricingRecommendations, workflow.RegisterOptions{Name: workflows.NamePricingRecommendations})
	r.RegisterActivityWithOptions(a.FitPriceElasticities, activity.RegisterOptions{Name: activities.NameFitPriceElasticities})
	r.RegisterActivityWithOptions(a.RecommendPrices, activity.RegisterOptions{Name: activities.NameRecommendPrices})
}

// Run runs a worker on the task queue until ctx is cancelled, then stops it,
// giving running activities time to return.
func Run(ctx context.Context, c client.Client, taskQueue string, d Deps) error {
	w := worker.New(c, taskQueue, worker.Options{
		// Long-running consumers return promptly on cancellation; this bounds
		// how long a stop waits for them.
		WorkerStopTimeout: 30 * time.Second,
		// One consumer activity per partition set runs for hours; leave room
		// for the batch side beside them.
		MaxConcurrentActivityExecutionSize: 64,
	})
	Register(w, d)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on %s: %w", taskQueue, err)
	}
	<-ctx.Done()
	w.Stop()
	return nil
}

// StartSupervisor starts the stream supervisor, or finds it running. It is
// safe to call from every worker at start. A running supervisor is told
// in.Consumers (workflows.SignalSetConsumers): a worker started with a new
// stream.consumers re-assigns the partitions through the fence, and the
// same number changes nothing.
func StartSupervisor(ctx context.Context, c client.Client, taskQueue string, in workflows.SupervisorInput) (client.WorkflowRun, error) {
	id := workflows.SupervisorWorkflowID(in.Topic)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                taskQueue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
	}, workflows.NameStreamSupervisor, in)
	if err != nil {
		return nil, fmt.Errorf("start stream supervisor: %w", err)
	}
	// A supervisor already running under this id on another task queue
	// belongs to another deployment (or a test) that consumes the same
	// topic: its activities would never reach this worker, so the topic
	// would silently go unconsumed here.
	d, err := c.DescribeWorkflowExecution(ctx, id, run.GetRunID())
	if err != nil {
		return nil, fmt.Errorf("describe stream supervisor %s: %w", id, err)
	}
	if q := d.GetExecutionConfig().GetTaskQueue().GetName(); q != taskQueue {
		return nil, fmt.Errorf("stream supervisor %s of topic %s already runs on task queue %q, not %q: another deployment consumes this topic; terminate it (temporal workflow terminate -w %s) or give this one other topic names",
			id, in.Topic, q, taskQueue, id)
	}
	if err := c.SignalWorkflow(ctx, id, "", workflows.SignalSetConsumers, in.Consumers); err != nil {
		return nil, fmt.Errorf("tell stream supervisor %s its consumer count: %w", id, err)
	}
	return run, nil
}
