package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

// NameAnomalyDetector is the registered name of AnomalyDetector.
const NameAnomalyDetector = "AnomalyDetector"

// DefaultClickstreamTopic is the clickstream topic whose watermarks complete
// the traffic series.
const DefaultClickstreamTopic = "shop.clickstream.v1"

// DefaultPaymentsTopic is the payments topic whose watermarks complete the
// payment failure rate.
const DefaultPaymentsTopic = "shop.payments.v1"

// DefaultAnomalyRounds bounds the calls per series in one run (each scores up
// to a week of minutes), so a long backlog is caught up over a few runs.
const DefaultAnomalyRounds = 8

// AnomalyInput is the detector workflow's input; every field is optional
// (a Temporal Schedule starts it with an empty input).
type AnomalyInput struct {
	OrdersTopic      string `json:"orders_topic,omitempty"`
	ClickstreamTopic string `json:"clickstream_topic,omitempty"`
	PaymentsTopic    string `json:"payments_topic,omitempty"`
	// Rounds per series: default DefaultAnomalyRounds.
	Rounds int `json:"rounds,omitempty"`
}

// AnomalyResult is what one run scored, per series in order.
type AnomalyResult struct {
	Series []activities.ScoreAnomaliesResult
}

// AnomalyDetector scores every series' complete minutes not scored yet
// against its seasonal baseline, storing scores and opening or resolving
// anomaly alerts (activities.ScoreAnomalies, one transaction per call).
// Series run one after another: each takes milliseconds once caught up.
func AnomalyDetector(ctx workflow.Context, in AnomalyInput) (AnomalyResult, error) {
	if in.OrdersTopic == "" {
		in.OrdersTopic = DefaultOrdersTopic
	}
	if in.ClickstreamTopic == "" {
		in.ClickstreamTopic = DefaultClickstreamTopic
	}
	if in.PaymentsTopic == "" {
		in.PaymentsTopic = DefaultPaymentsTopic
	}
	if in.Rounds <= 0 {
		in.Rounds = DefaultAnomalyRounds
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
	})
	var list activities.AnomalySeriesResult
	if err := workflow.ExecuteActivity(actx, activities.NameListAnomalySeries, activities.AnomalySeriesInput{
		OrdersTopic: in.OrdersTopic, ClickstreamTopic: in.ClickstreamTopic, PaymentsTopic: in.PaymentsTopic,
	}).Get(ctx, &list); err != nil {
		return AnomalyResult{}, fmt.Errorf("list series: %w", err)
	}
	info := workflow.GetInfo(ctx)
	var res AnomalyResult
	for _, s := range list.Series {
		for round := 0; round < in.Rounds; round++ {
			var out activities.ScoreAnomaliesResult
			if err := workflow.ExecuteActivity(actx, activities.NameScoreAnomalies, activities.ScoreAnomaliesInput{
				Series: s.Series, Topic: s.Topic, RunID: info.WorkflowExecution.RunID, Workflow: info.WorkflowType.Name,
			}).Get(ctx, &out); err != nil {
				return res, fmt.Errorf("score %s: %w", s.Series, err)
			}
			res.Series = append(res.Series, out)
			if !out.More {
				break
			}
		}
	}
	return res, nil
}
