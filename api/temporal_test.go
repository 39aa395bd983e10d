package api

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/shoppulse/shoppulse/internal/testenv"
)

// TestSchedulesAndRunsFromTemporal creates a paused schedule and starts a
// workflow (no worker: it stays running) on the real dev server, and finds
// both through the API.
func TestSchedulesAndRunsFromTemporal(t *testing.T) {
	c, err := client.Dial(client.Options{HostPort: testenv.TemporalAddress(t), Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := testenv.Context(t, time.Minute)
	id := testenv.Name("api-test")
	wfType := "ApiTestWorkflow" + id[len(id)-10:]
	h, err := c.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: id, Spec: client.ScheduleSpec{CronExpressions: []string{"0 3 * * *"}}, Paused: true, Note: "api test",
		Action: &client.ScheduleWorkflowAction{ID: id + "-wf", Workflow: wfType, TaskQueue: id},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Delete(context.Background()) })
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id + "-run", TaskQueue: id, WorkflowExecutionTimeout: 10 * time.Minute}, wfType)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "test over") })

	a := newReadAPI(t, Config{Temporal: c})
	var sched *ScheduleInfo
	var runs []WorkflowRun
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && (sched == nil || len(runs) == 0); time.Sleep(250 * time.Millisecond) {
		list := get[struct {
			Items []ScheduleInfo `json:"items"`
		}](t, a, "/v1/schedules")
		if i := slices.IndexFunc(list.Items, func(s ScheduleInfo) bool { return s.ID == id }); i >= 0 {
			sched = &list.Items[i]
		}
		runs = get[page[WorkflowRun]](t, a, "/v1/workflows/runs?status=running&workflow_type="+wfType).Items
	}
	if sched == nil || sched.WorkflowType != wfType || !sched.Paused || sched.Note != "api test" || len(sched.NextActions) == 0 {
		t.Errorf("schedule: %+v", sched)
	}
	if len(runs) != 1 || runs[0].WorkflowID != id+"-run" || runs[0].RunID != run.GetRunID() || runs[0].Status != "running" || runs[0].ClosedAt != nil || runs[0].TaskQueue != id {
		t.Errorf("runs: %+v", runs)
	}
	wantBadParams(t, a.do(t, http.MethodGet, "/v1/workflows/runs?workflow_type=x'%20OR%20'1&status=lost", a.Keys[ScopeRead], nil), "workflow_type", "status")

	ready := decode[Readiness](t, a.do(t, http.MethodGet, "/readyz", "", nil).Body)
	if ready.Checks["temporal"].Status != "up" {
		t.Errorf("readyz: %s", mustJSON(ready))
	}
}

// TestTemporalDown: a lazy client to nowhere lets the API start; the
// workflow routes answer 503 and /readyz reports Temporal down but the API
// ready (Temporal is optional).
func TestTemporalDown(t *testing.T) {
	c, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:1", Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := newReadAPI(t, Config{Temporal: c})
	for _, p := range []string{"/v1/schedules", "/v1/workflows/runs"} {
		ans := a.do(t, http.MethodGet, p, a.Keys[ScopeRead], nil)
		if ans.Status != http.StatusServiceUnavailable || ans.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d %s", p, ans.Status, ans.Body)
		}
	}
	ans := a.do(t, http.MethodGet, "/readyz", "", nil)
	r := decode[Readiness](t, ans.Body)
	if ans.Status != 200 || r.Checks["temporal"].Status != "down" || r.Checks["temporal"].Required {
		t.Errorf("readyz: %d %s", ans.Status, ans.Body)
	}
	if ans := a.do(t, http.MethodGet, "/v1/alerts", a.Keys[ScopeRead], nil); ans.Status != 200 {
		t.Errorf("reads with Temporal down: %d", ans.Status)
	}
}
