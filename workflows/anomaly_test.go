package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/store"
)

func newAnomalyEnv() *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(AnomalyDetector, workflow.RegisterOptions{Name: NameAnomalyDetector})
	a := &activities.Anomalies{}
	env.RegisterActivityWithOptions(a.ListAnomalySeries, activity.RegisterOptions{Name: activities.NameListAnomalySeries})
	env.RegisterActivityWithOptions(a.ScoreAnomalies, activity.RegisterOptions{Name: activities.NameScoreAnomalies})
	return env
}

func TestAnomalyDetector_ScoresEverySeriesUntilCaughtUp(t *testing.T) {
	env := newAnomalyEnv()
	env.OnActivity(activities.NameListAnomalySeries, mock.Anything,
		activities.AnomalySeriesInput{OrdersTopic: DefaultOrdersTopic, ClickstreamTopic: DefaultClickstreamTopic, PaymentsTopic: DefaultPaymentsTopic}).
		Return(activities.AnomalySeriesResult{Series: []store.AnomalySeriesRef{
			{Series: "orders", Topic: DefaultOrdersTopic}, {Series: "traffic", Topic: DefaultClickstreamTopic},
		}}, nil)
	calls := map[string]int{}
	env.OnActivity(activities.NameScoreAnomalies, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ScoreAnomaliesInput) (activities.ScoreAnomaliesResult, error) {
			calls[in.Series]++
			if in.RunID == "" || in.Workflow != NameAnomalyDetector {
				return activities.ScoreAnomaliesResult{}, errors.New("no lineage identity")
			}
			if (in.Series == "orders") != (in.Topic == DefaultOrdersTopic) {
				return activities.ScoreAnomaliesResult{}, errors.New("wrong topic for " + in.Series)
			}
			// orders has a backlog of three calls; traffic is caught up.
			return activities.ScoreAnomaliesResult{Series: in.Series, Rows: 10, More: in.Series == "orders" && calls[in.Series] < 3}, nil
		})
	env.ExecuteWorkflow(NameAnomalyDetector, AnomalyInput{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res AnomalyResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if calls["orders"] != 3 || calls["traffic"] != 1 || len(res.Series) != 4 {
		t.Fatalf("calls %v, result %+v", calls, res)
	}
}

func TestAnomalyDetector_BoundsTheRoundsOfOneRun(t *testing.T) {
	env := newAnomalyEnv()
	env.OnActivity(activities.NameListAnomalySeries, mock.Anything, mock.Anything).
		Return(activities.AnomalySeriesResult{Series: []store.AnomalySeriesRef{{Series: "orders", Topic: "o"}}}, nil)
	env.OnActivity(activities.NameScoreAnomalies, mock.Anything, mock.Anything).
		Return(activities.ScoreAnomaliesResult{Series: "orders", More: true}, nil)
	env.ExecuteWorkflow(NameAnomalyDetector, AnomalyInput{Rounds: 2})
	var res AnomalyResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if len(res.Series) != 2 {
		t.Fatalf("want 2 calls, got %+v", res)
	}
}

func TestAnomalyDetector_FailsWhenScoringFails(t *testing.T) {
	env := newAnomalyEnv()
	env.OnActivity(activities.NameListAnomalySeries, mock.Anything, mock.Anything).
		Return(activities.AnomalySeriesResult{Series: []store.AnomalySeriesRef{{Series: "orders", Topic: "o"}}}, nil)
	env.OnActivity(activities.NameScoreAnomalies, mock.Anything, mock.Anything).
		Return(activities.ScoreAnomaliesResult{}, errors.New("database down"))
	env.ExecuteWorkflow(NameAnomalyDetector, AnomalyInput{})
	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("want the activity's error")
	}
}
