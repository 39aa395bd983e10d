package workflows

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

func newNotifierEnv(a *activities.Alerts) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(AlertNotifier, workflow.RegisterOptions{Name: NameAlertNotifier})
	env.RegisterActivityWithOptions(a.PendingAlerts, activity.RegisterOptions{Name: activities.NamePendingAlerts})
	env.RegisterActivityWithOptions(a.DeliverAlert, activity.RegisterOptions{Name: activities.NameDeliverAlert})
	return env
}

func TestAlertNotifier_RetriesEachAlertAndCountsTheUndelivered(t *testing.T) {
	env := newNotifierEnv(&activities.Alerts{})
	env.OnActivity(activities.NamePendingAlerts, mock.Anything, activities.PendingAlertsInput{Limit: 100}).
		Return(activities.PendingAlertsResult{AlertIDs: []int64{1, 2, 3}}, nil)
	var mu sync.Mutex
	calls := map[int64]int{}
	env.OnActivity(activities.NameDeliverAlert, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.DeliverAlertInput) (activities.DeliverAlertResult, error) {
			mu.Lock()
			defer mu.Unlock()
			calls[in.AlertID]++
			switch {
			case in.AlertID == 2 && calls[2] < 3: // refused twice, then accepted
				return activities.DeliverAlertResult{}, errors.New("status 500")
			case in.AlertID == 3: // never accepted
				return activities.DeliverAlertResult{}, errors.New("status 503")
			}
			return activities.DeliverAlertResult{Delivered: []string{"hook"}}, nil
		})
	env.ExecuteWorkflow(NameAlertNotifier, NotifierInput{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res NotifierResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res != (NotifierResult{Pending: 3, Delivered: 2, Failed: 1}) {
		t.Fatalf("result %+v", res)
	}
	if calls[1] != 1 || calls[2] != 3 || calls[3] != 5 {
		t.Fatalf("attempts per alert %v, want 1, 3 and 5 (the default cap)", calls)
	}
}

func TestAlertNotifier_NothingPendingDoesNothing(t *testing.T) {
	env := newNotifierEnv(&activities.Alerts{})
	env.OnActivity(activities.NamePendingAlerts, mock.Anything, mock.Anything).Return(activities.PendingAlertsResult{}, nil)
	env.ExecuteWorkflow(NameAlertNotifier, NotifierInput{})
	var res NotifierResult
	if err := env.GetWorkflowResult(&res); err != nil || res != (NotifierResult{}) {
		t.Fatalf("result %+v, %v", res, err)
	}
	env.AssertNotCalled(t, "DeliverAlert", mock.Anything, mock.Anything)
}

// The real activities against Postgres and an HTTP webhook that refuses the
// first POST: Temporal's retry delivers it, and a second run delivers nothing.
func TestAlertNotifier_DeliversToARealWebhook(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	tx, err := s.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.RaiseAlert(ctx, tx, store.NewAlert{Type: store.AlertStockout, Entity: "P9/W1", Severity: store.SeverityCritical,
		DedupKey: "stockout:P9/W1", OpenedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	posts, ok := 0, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		posts++
		if posts == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		ok++
	}))
	defer srv.Close()
	a := &activities.Alerts{DB: s.DB, Client: srv.Client(), Webhooks: []activities.Webhook{{URL: srv.URL, Secret: "k"}}}

	for run, want := range []NotifierResult{{Pending: 1, Delivered: 1}, {}} {
		env := newNotifierEnv(a)
		env.ExecuteWorkflow(NameAlertNotifier, NotifierInput{})
		var res NotifierResult
		if err := env.GetWorkflowResult(&res); err != nil {
			t.Fatal(err)
		}
		if res != want {
			t.Fatalf("run %d: result %+v, want %+v", run+1, res, want)
		}
	}
	if posts != 2 || ok != 1 {
		t.Fatalf("webhook saw %d posts, %d accepted; want 2 and 1", posts, ok)
	}
	alerts, err := s.DB.Alerts(ctx, store.AlertFilter{Undelivered: true})
	if err != nil || len(alerts) != 0 {
		t.Fatalf("undelivered alerts %v (%v), want none", alerts, err)
	}
}
