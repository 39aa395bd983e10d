package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/shoppulse/shoppulse/store"
)

// operateRoutes change state a person decides on: alerts and fraud labels.
// They need the operate scope and record the deciding key's id.
func (s *Server) operateRoutes() []route {
	return []route{
		{method: http.MethodPost, path: "/v1/alerts/{id}/acknowledge", scope: ScopeOperate, h: s.handleAcknowledge},
		{method: http.MethodPost, path: "/v1/alerts/{id}/resolve", scope: ScopeOperate, h: s.handleResolve},
		{method: http.MethodPut, path: "/v1/fraud/orders/{order_id}/label", scope: ScopeOperate, h: s.handleLabel},
	}
}

// maxSmallBody bounds the JSON body of an operate or admin request.
const maxSmallBody = 16 << 10

// readSmallJSON decodes an optional (when optional) JSON object body into
// dst, refusing unknown fields. On error it has written the problem.
func readSmallJSON(w http.ResponseWriter, r *http.Request, dst any, optional bool) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxSmallBody+1))
	if err != nil {
		writeProblem(w, r, Problem{Type: ProblemMalformed, Title: "Malformed body", Status: http.StatusBadRequest, Detail: "cannot read the body"})
		return false
	}
	if len(b) > maxSmallBody {
		writeProblem(w, r, Problem{Type: ProblemBodyTooLarge, Title: "Body too large", Status: http.StatusRequestEntityTooLarge,
			Detail: fmt.Sprintf("at most %d bytes", maxSmallBody)})
		return false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		if optional {
			return true
		}
		writeProblem(w, r, Problem{Type: ProblemMalformed, Title: "Malformed body", Status: http.StatusBadRequest,
			Detail: "a JSON object body is required"})
		return false
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		writeProblem(w, r, Problem{Type: ProblemUnsupportedMediaType, Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType,
			Detail: "send application/json"})
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		pe := ProblemError{Path: "/", Reason: err.Error()}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			pe = ProblemError{Path: "/" + strings.ReplaceAll(te.Field, ".", "/"), Reason: "want a " + te.Type.String()}
		} else if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			pe = ProblemError{Path: "/" + strings.Trim(f, `"`), Reason: "unknown field"}
		}
		writeProblem(w, r, Problem{Type: ProblemMalformed, Title: "Malformed body", Status: http.StatusBadRequest,
			Detail: "the body is not the JSON object this route takes", Errors: []ProblemError{pe}})
		return false
	}
	var generic any
	if json.Unmarshal(b, &generic) == nil {
		if at, found := nulAt(generic, ""); found {
			writeProblem(w, r, Problem{Type: ProblemMalformed, Title: "Malformed body", Status: http.StatusBadRequest,
				Detail: "the body is not the JSON object this route takes",
				Errors: []ProblemError{{Path: at, Reason: "contains a NUL character (\\u0000)"}}})
			return false
		}
	}
	return true
}

// nulAt finds a string (or key) holding a NUL character, which PostgreSQL
// refuses in text (a 500 otherwise), and returns its JSON pointer.
func nulAt(v any, at string) (string, bool) {
	switch x := v.(type) {
	case string:
		return at, strings.ContainsRune(x, 0)
	case []any:
		for i, e := range x {
			if p, ok := nulAt(e, fmt.Sprintf("%s/%d", at, i)); ok {
				return p, true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.ContainsRune(k, 0) {
				return at + "/" + k, true
			}
			if p, ok := nulAt(e, at+"/"+k); ok {
				return p, true
			}
		}
	}
	return "", false
}

// bodyError writes a 400 naming the body's bad fields.
func bodyError(w http.ResponseWriter, r *http.Request, errs []ProblemError) {
	writeProblem(w, r, Problem{Type: ProblemMalformed, Title: "Invalid body", Status: http.StatusBadRequest,
		Detail: "bad field(s) in the body", Errors: errs})
}

// AlertAction is the optional body of acknowledge and resolve.
type AlertAction struct {
	Note string `json:"note"`
}

func (s *Server) handleAcknowledge(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	id := alertID(p)
	if !p.ok(w) {
		return
	}
	var body AlertAction
	if !readSmallJSON(w, r, &body, true) {
		return
	}
	a, err := s.db.AcknowledgeAlert(r.Context(), id, callerOf(r).KeyID, s.now())
	if s.storeError(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, alertOf(a))
}

func (s *Server) handleResolve(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	id := alertID(p)
	if !p.ok(w) {
		return
	}
	var body AlertAction
	if !readSmallJSON(w, r, &body, true) {
		return
	}
	if len(body.Note) > 2000 {
		bodyError(w, r, []ProblemError{{Path: "/note", Reason: "at most 2000 characters"}})
		return
	}
	a, err := s.db.ResolveAlertByID(r.Context(), id, callerOf(r).KeyID, body.Note, s.now())
	if s.storeError(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, alertOf(a))
}

// LabelRequest is the body of PUT /v1/fraud/orders/{order_id}/label.
type LabelRequest struct {
	Label string `json:"label"`
	Note  string `json:"note"`
}

func (s *Server) handleLabel(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	order := p.path("order_id", 200)
	if !p.ok(w) {
		return
	}
	var body LabelRequest
	if !readSmallJSON(w, r, &body, false) {
		return
	}
	var errs []ProblemError
	if body.Label != store.LabelFraud && body.Label != store.LabelLegitimate {
		errs = append(errs, ProblemError{Path: "/label", Reason: fmt.Sprintf("%q is not fraud or legitimate", body.Label)})
	}
	if len(body.Note) > 2000 {
		errs = append(errs, ProblemError{Path: "/note", Reason: "at most 2000 characters"})
	}
	if len(errs) > 0 {
		bodyError(w, r, errs)
		return
	}
	l, err := s.db.LabelOrder(r.Context(), store.FraudLabel{OrderID: order, Label: body.Label, DecidedBy: callerOf(r).KeyID,
		DecidedAt: s.now(), Note: body.Note})
	if s.storeError(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, labelOf(l))
}
