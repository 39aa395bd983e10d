package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
)

// workflowRoutes read Temporal: the schedules and recent workflow runs.
// Temporal is optional for the API: without a client, or while Temporal is
// unreachable, these answer 503 and every other route works.
func (s *Server) workflowRoutes() []route {
	return []route{
		{method: http.MethodGet, path: "/v1/schedules", scope: ScopeRead, h: s.handleSchedules},
		{method: http.MethodGet, path: "/v1/workflows/runs", scope: ScopeRead, h: s.handleRuns},
	}
}

// temporalTimeout bounds one call to Temporal.
const temporalTimeout = 5 * time.Second

func (s *Server) temporalDown(w http.ResponseWriter, r *http.Request, err error) {
	detail := "Temporal is not configured for this API"
	if err != nil {
		s.log.WarnContext(r.Context(), "temporal unreachable", "err", err)
		detail = "Temporal is unreachable: " + err.Error()
	}
	writeProblem(w, r, unavailable(detail, s.cfg.RetryAfter))
}

// ScheduleInfo is one Temporal Schedule.
type ScheduleInfo struct {
	ID            string           `json:"id"`
	WorkflowType  string           `json:"workflow_type"`
	Paused        bool             `json:"paused"`
	Note          string           `json:"note"`
	RecentActions []ScheduleAction `json:"recent_actions"`
	NextActions   []string         `json:"next_action_times"`
}

// ScheduleAction is a run a schedule started.
type ScheduleAction struct {
	ScheduledAt string `json:"scheduled_at"`
	StartedAt   string `json:"started_at"`
	WorkflowID  string `json:"workflow_id"`
	RunID       string `json:"run_id"`
}

func (s *Server) handleSchedules(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	if !p.ok(w) {
		return
	}
	if s.cfg.Temporal == nil {
		s.temporalDown(w, r, nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	it, err := s.cfg.Temporal.ScheduleClient().List(ctx, client.ScheduleListOptions{PageSize: 100})
	if err != nil {
		s.temporalDown(w, r, err)
		return
	}
	out := struct {
		Items []ScheduleInfo `json:"items"`
	}{Items: []ScheduleInfo{}}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			s.temporalDown(w, r, err)
			return
		}
		si := ScheduleInfo{ID: e.ID, WorkflowType: e.WorkflowType.Name, Paused: e.Paused, Note: e.Note,
			RecentActions: []ScheduleAction{}, NextActions: []string{}}
		for _, a := range e.RecentActions {
			sa := ScheduleAction{ScheduledAt: a.ScheduleTime.UTC().Format(time.RFC3339Nano), StartedAt: a.ActualTime.UTC().Format(time.RFC3339Nano)}
			if a.StartWorkflowResult != nil {
				sa.WorkflowID, sa.RunID = a.StartWorkflowResult.WorkflowID, a.StartWorkflowResult.FirstExecutionRunID
			}
			si.RecentActions = append(si.RecentActions, sa)
		}
		for _, t := range e.NextActionTimes {
			si.NextActions = append(si.NextActions, t.UTC().Format(time.RFC3339Nano))
		}
		out.Items = append(out.Items, si)
	}
	writeJSON(w, http.StatusOK, out)
}

// WorkflowRun is one workflow execution.
type WorkflowRun struct {
	WorkflowID   string  `json:"workflow_id"`
	RunID        string  `json:"run_id"`
	WorkflowType string  `json:"workflow_type"`
	Status       string  `json:"status"`
	StartedAt    string  `json:"started_at"`
	ClosedAt     *string `json:"closed_at"`
	TaskQueue    string  `json:"task_queue"`
}

var (
	workflowTypeRE = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,200}$`)
	runStatuses    = map[string]string{
		"running": "Running", "completed": "Completed", "failed": "Failed", "canceled": "Canceled",
		"terminated": "Terminated", "continued_as_new": "ContinuedAsNew", "timed_out": "TimedOut",
	}
)

func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	wfType := p.match("workflow_type", workflowTypeRE, "a workflow type name")
	status := p.enum("status", "", "running", "completed", "failed", "canceled", "terminated", "continued_as_new", "timed_out")
	limit := p.intIn("limit", 50, 1, 500)
	var token []byte
	if v, ok := p.raw("cursor"); ok {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(v, cursorVersion))
		if err != nil || !strings.HasPrefix(v, cursorVersion) || len(b) == 0 {
			p.fail("cursor", "not a cursor of this list: pass next_cursor from the previous page unchanged")
		}
		token = b
	}
	if !p.ok(w) {
		return
	}
	if s.cfg.Temporal == nil {
		s.temporalDown(w, r, nil)
		return
	}
	var conds []string
	if wfType != "" {
		conds = append(conds, fmt.Sprintf("WorkflowType = '%s'", wfType)) // wfType matched workflowTypeRE: no quotes
	}
	if status != "" {
		conds = append(conds, fmt.Sprintf("ExecutionStatus = '%s'", runStatuses[status]))
	}
	ctx, cancel := context.WithTimeout(r.Context(), temporalTimeout)
	defer cancel()
	resp, err := s.cfg.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		PageSize: int32(limit), NextPageToken: token, Query: strings.Join(conds, " AND "),
	})
	if err != nil {
		s.temporalDown(w, r, err)
		return
	}
	out := page[WorkflowRun]{Items: make([]WorkflowRun, 0, len(resp.Executions))}
	for _, e := range resp.Executions {
		run := WorkflowRun{WorkflowID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(),
			WorkflowType: e.GetType().GetName(), Status: statusName(e.GetStatus()), TaskQueue: e.GetTaskQueue(),
			StartedAt: e.GetStartTime().AsTime().UTC().Format(time.RFC3339Nano)}
		if e.GetCloseTime() != nil {
			run.ClosedAt = optTime(e.GetCloseTime().AsTime())
		}
		out.Items = append(out.Items, run)
	}
	if len(resp.NextPageToken) > 0 {
		c := cursorVersion + base64.RawURLEncoding.EncodeToString(resp.NextPageToken)
		out.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
}

// statusName is the API's name of a workflow status (the keys of
// runStatuses).
func statusName(st enumspb.WorkflowExecutionStatus) string {
	switch st {
	case enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING:
		return "running"
	case enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED:
		return "completed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_FAILED:
		return "failed"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED:
		return "canceled"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED:
		return "terminated"
	case enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW:
		return "continued_as_new"
	case enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT:
		return "timed_out"
	}
	return "unknown"
}
