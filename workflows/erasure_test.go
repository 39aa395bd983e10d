package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

func TestEraseCustomer_ErasesRecomputesCompleteDaysAndFinishes(t *testing.T) {
	env := newEnv(t)
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	env.SetStartTime(start)
	yesterday, today := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	env.OnActivity(activities.NameEraseCustomer, mock.Anything, mock.MatchedBy(func(in activities.EraseInput) bool {
		return in.RequestID == "req-7" && in.CustomerID == "C42" && in.Deadline.Equal(start.Add(DefaultErasureDeadline))
	})).Return(activities.EraseResult{Pseudonym: "erased-x", Rows: map[string]int64{"orders": 3}, Days: []time.Time{yesterday, today}}, nil).Once()
	var recomputed []time.Time
	env.OnWorkflow(NameRollupDaily, mock.Anything, mock.Anything).Return(
		func(ctx workflow.Context, in RollupDailyInput) (RollupDailyResult, error) {
			recomputed = append(recomputed, in.Day)
			return RollupDailyResult{}, nil
		})
	env.OnActivity(activities.NameFinishErasure, mock.Anything, activities.FinishErasureInput{RequestID: "req-7", Days: []time.Time{yesterday}}).Return(nil).Once()
	env.ExecuteWorkflow(NameEraseCustomer, ErasureInput{RequestID: "req-7", CustomerID: "C42"})
	var res ErasureResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res.Overdue || res.Pseudonym != "erased-x" || len(recomputed) != 1 || !recomputed[0].Equal(yesterday) {
		t.Fatalf("result %+v, recomputed %v (want yesterday only: today is not complete)", res, recomputed)
	}
	env.AssertExpectations(t)
	env.AssertNotCalled(t, activities.NameRaiseAlert, mock.Anything, mock.Anything)
}

func TestEraseCustomer_AlertsWhenTheDeadlinePassesAndStillFinishes(t *testing.T) {
	env := newEnv(t)
	env.OnActivity(activities.NameEraseCustomer, mock.Anything, mock.Anything).After(90*time.Minute).
		Return(activities.EraseResult{Pseudonym: "erased-y"}, nil)
	env.OnActivity(activities.NameRaiseAlert, mock.Anything, mock.MatchedBy(func(in activities.RaiseAlertInput) bool {
		return in.Type == activities.AlertErasureOverdue && in.DedupKey == "erasure_overdue:req-8" && in.Severity == "critical"
	})).Return(activities.RaiseAlertResult{Changed: true}, nil).Once()
	env.OnActivity(activities.NameFinishErasure, mock.Anything, mock.MatchedBy(func(in activities.FinishErasureInput) bool {
		return in.Overdue
	})).Return(nil).Once()
	env.ExecuteWorkflow(NameEraseCustomer, ErasureInput{RequestID: "req-8", CustomerID: "C1", Deadline: Duration(time.Hour)})
	var res ErasureResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if !res.Overdue {
		t.Fatalf("result %+v, want overdue", res)
	}
	env.AssertExpectations(t)
}

func TestEraseCustomer_RejectsARequestWithoutIDs(t *testing.T) {
	env := newEnv(t)
	env.ExecuteWorkflow(NameEraseCustomer, ErasureInput{RequestID: "req-9"})
	if err := env.GetWorkflowError(); err == nil || !strings.Contains(err.Error(), "customer_id") {
		t.Fatalf("want an input error naming customer_id, got %v", err)
	}
}
