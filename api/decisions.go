package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/shoppulse/shoppulse/store"
)

// ProblemDecisionRefused is a decision the replenishment workflow's Update
// validator refused (a quantity beyond the policy's bounds): 422, errors[]
// naming the field.
const ProblemDecisionRefused = problemBase + "decision-refused"

// decisionRoutes are the approvals a person makes (scope operate):
// purchase orders go through their replenishment workflow's "decide"
// Update, so the workflow, which owns the order, validates and applies the
// decision; pricing recommendations are decided in Postgres (nothing runs
// on them).
func (s *Server) decisionRoutes() []route {
	post := func(path string, h http.HandlerFunc) route {
		return route{method: http.MethodPost, path: path, scope: ScopeOperate, h: h}
	}
	return []route{
		post("/v1/replenishment/orders/{po_id}/approve", func(w http.ResponseWriter, r *http.Request) { s.decideOrder(w, r, true) }),
		post("/v1/replenishment/orders/{po_id}/reject", func(w http.ResponseWriter, r *http.Request) { s.decideOrder(w, r, false) }),
		post("/v1/pricing/recommendations/{id}/approve", func(w http.ResponseWriter, r *http.Request) { s.decidePrice(w, r, true) }),
		post("/v1/pricing/recommendations/{id}/reject", func(w http.ResponseWriter, r *http.Request) { s.decidePrice(w, r, false) }),
	}
}

// The replenishment workflow's Update, as workflows.ReplenishProduct
// registers it. The api package does not import workflows (it may import
// store and events only); replenishDecision is the wire form of
// workflows.Decision, and the API's test against a running workflow keeps
// the two in step.
const updateDecide = "decide"

type replenishDecision struct {
	POID     string `json:"po_id,omitempty"`
	Approver string `json:"approver"`
	Approve  bool   `json:"approve"`
	Quantity int64  `json:"quantity,omitempty"`
	Note     string `json:"note,omitempty"`
}

// ApproveOrder is the optional body of an approval: a quantity replacing
// the planned one (within the policy's bounds) and a note.
type ApproveOrder struct {
	Quantity int64  `json:"quantity"`
	Note     string `json:"note"`
}

// RejectOrder is the optional body of a rejection.
type RejectOrder struct {
	Note string `json:"note"`
}

// updateTimeout bounds an Update: the workflow stores the decision in a
// local activity before it answers.
const updateTimeout = 20 * time.Second

// decideOrder approves or rejects a purchase order awaiting approval by
// sending its workflow the "decide" Update and waiting for it to complete:
// 200 with the stored order once the workflow applied it, 422 naming the
// field its validator refused, 409 when the order is not awaiting approval
// or its workflow is not running, 503 when Temporal is unreachable.
func (s *Server) decideOrder(w http.ResponseWriter, r *http.Request, approve bool) {
	p := newParams(r)
	id := p.path("po_id", 300)
	if !p.ok(w) {
		return
	}
	d := replenishDecision{POID: id, Approver: callerOf(r).KeyID, Approve: approve}
	if approve {
		var body ApproveOrder
		if !readSmallJSON(w, r, &body, true) {
			return
		}
		d.Quantity, d.Note = body.Quantity, body.Note
	} else {
		var body RejectOrder
		if !readSmallJSON(w, r, &body, true) {
			return
		}
		d.Note = body.Note
	}
	var errs []ProblemError
	if d.Quantity < 0 {
		errs = append(errs, ProblemError{Path: "/quantity", Reason: "want a positive quantity, or 0 (absent) to keep the planned one"})
	}
	if len(d.Note) > 2000 {
		errs = append(errs, ProblemError{Path: "/note", Reason: "at most 2000 characters"})
	}
	if len(errs) > 0 {
		bodyError(w, r, errs)
		return
	}
	po, err := s.db.PurchaseOrder(r.Context(), id)
	if s.storeError(w, r, err) {
		return
	}
	if po.Status != store.POAwaitingApproval && po.Status != store.PODraft {
		writeProblem(w, r, Problem{Type: ProblemConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: fmt.Sprintf("purchase order %s is %s, not awaiting approval", id, po.Status)})
		return
	}
	if s.cfg.Temporal == nil {
		s.temporalDown(w, r, nil)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.updateTimeout)
	defer cancel()
	h, err := s.cfg.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: po.WorkflowID, UpdateName: updateDecide, Args: []any{d}, WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	var decided store.PurchaseOrder
	if err == nil {
		err = h.Get(ctx, &decided)
	}
	if err != nil {
		// The SDK may give up waiting (its own error type) a moment before
		// ctx's deadline is marked passed.
		var waited *client.WorkflowUpdateServiceTimeoutOrCanceledError
		s.updateError(w, r, po, ctx.Err() != nil || errors.As(err, &waited), err)
		return
	}
	writeJSON(w, http.StatusOK, purchaseOrderOf(decided))
}

// refusedFields are the Decision fields the workflow's validator names
// first in its message when it refuses them: the request can be fixed.
var refusedFields = map[string]string{"quantity": "/quantity", "approver": "/approver"}

// updateError answers a failed "decide" Update.
// timedOut: the Update's own deadline passed (the workflow is running but
// nothing answered: no worker on its task queue, say).
func (s *Server) updateError(w http.ResponseWriter, r *http.Request, po store.PurchaseOrder, timedOut bool, err error) {
	var notFound *serviceerror.NotFound
	var app *temporal.ApplicationError
	switch {
	case errors.As(err, &notFound):
		writeProblem(w, r, Problem{Type: ProblemConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: fmt.Sprintf("the replenishment workflow %s of purchase order %s is not running: %s", po.WorkflowID, po.ID, notFound.Error())})
	case errors.As(err, &app):
		msg := app.Message()
		field, _, _ := strings.Cut(msg, " ")
		field = strings.TrimSuffix(field, ":")
		if path, ok := refusedFields[field]; ok {
			writeProblem(w, r, Problem{Type: ProblemDecisionRefused, Title: "Decision refused", Status: http.StatusUnprocessableEntity,
				Detail: fmt.Sprintf("the replenishment workflow refused the decision on %s: %s", po.ID, msg),
				Errors: []ProblemError{{Path: path, Reason: msg}}})
			return
		}
		writeProblem(w, r, Problem{Type: ProblemConflict, Title: "Conflict", Status: http.StatusConflict,
			Detail: fmt.Sprintf("the replenishment workflow did not apply the decision on %s: %s", po.ID, msg)})
	case timedOut && r.Context().Err() == nil:
		writeProblem(w, r, unavailable(fmt.Sprintf("the replenishment workflow %s did not answer within %s: is a worker running on its task queue?",
			po.WorkflowID, s.updateTimeout), s.cfg.RetryAfter))
	default:
		s.temporalDown(w, r, err)
	}
}

// PriceDecision is the optional body of a pricing decision.
type PriceDecision struct {
	Note string `json:"note"`
}

func (s *Server) decidePrice(w http.ResponseWriter, r *http.Request, approve bool) {
	p := newParams(r)
	id := pricingID(p)
	if !p.ok(w) {
		return
	}
	var body PriceDecision
	if !readSmallJSON(w, r, &body, true) {
		return
	}
	if len(body.Note) > 2000 {
		bodyError(w, r, []ProblemError{{Path: "/note", Reason: "at most 2000 characters"}})
		return
	}
	rec, err := s.db.DecidePricingRecommendation(r.Context(), id, approve, callerOf(r).KeyID, body.Note)
	if errors.Is(err, store.ErrDecided) {
		writeProblem(w, r, Problem{Type: ProblemConflict, Title: "Conflict", Status: http.StatusConflict, Detail: err.Error()})
		return
	}
	if s.storeError(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, pricingOf(rec))
}
