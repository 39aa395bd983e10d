package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

// NameAlertNotifier is the registered name of AlertNotifier.
const NameAlertNotifier = "AlertNotifier"

// NotifierInput tunes one notifier run. The zero value (what the schedule
// starts it with) uses the defaults.
type NotifierInput struct {
	// Limit caps the alerts one run delivers; the next run takes the rest.
	// 0 means 100.
	Limit int `json:"limit,omitempty"`
	// MaxAttempts bounds the delivery attempts of one alert in one run
	// (with exponential backoff between them); 0 means 5. An alert still
	// undelivered is tried again by the next run.
	MaxAttempts int32 `json:"max_attempts,omitempty"`
}

// NotifierResult counts what one run did.
type NotifierResult struct {
	Pending, Delivered, Failed int
}

// AlertNotifier delivers the alerts not yet delivered to the configured
// webhooks: one DeliverAlert activity per alert, a few at a time, each
// retried with backoff. The schedule shoppulse-alerts-notify starts it every minute;
// a run that finds nothing does nothing. Delivery is idempotent: an alert
// delivered by an earlier run or attempt is not posted again.
func AlertNotifier(ctx workflow.Context, in NotifierInput) (NotifierResult, error) {
	if in.Limit <= 0 {
		in.Limit = 100
	}
	if in.MaxAttempts <= 0 {
		in.MaxAttempts = 5
	}
	log := workflow.GetLogger(ctx)
	listCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
	var pending activities.PendingAlertsResult
	if err := workflow.ExecuteActivity(listCtx, activities.NamePendingAlerts,
		activities.PendingAlertsInput{Limit: in.Limit}).Get(ctx, &pending); err != nil {
		return NotifierResult{}, err
	}
	res := NotifierResult{Pending: len(pending.AlertIDs)}
	deliverCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    time.Second,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
			MaximumAttempts:    in.MaxAttempts,
		},
	})
	// At most notifyConcurrency deliveries at once, so a burst of alerts
	// does not fill the worker's activity slots beside the consumers.
	for first := 0; first < len(pending.AlertIDs); first += notifyConcurrency {
		ids := pending.AlertIDs[first:min(first+notifyConcurrency, len(pending.AlertIDs))]
		futures := make([]workflow.Future, len(ids))
		for i, id := range ids {
			futures[i] = workflow.ExecuteActivity(deliverCtx, activities.NameDeliverAlert, activities.DeliverAlertInput{AlertID: id})
		}
		for i, f := range futures {
			if err := f.Get(ctx, nil); err != nil {
				res.Failed++
				log.Warn("alert not delivered; the next run tries again", "alert_id", ids[i], "error", err)
				continue
			}
			res.Delivered++
		}
	}
	return res, nil
}

// notifyConcurrency bounds the DeliverAlert activities one run has running.
const notifyConcurrency = 10
