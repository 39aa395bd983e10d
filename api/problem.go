package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// problemBase prefixes every problem type URI. The URIs are identifiers that
// clients may switch on; they are documented in the OpenAPI document.
const problemBase = "https://shoppulse.dev/problems/"

// Problem types.
const (
	ProblemUnsupportedMediaType = problemBase + "unsupported-media-type"
	ProblemBodyTooLarge         = problemBase + "body-too-large"
	ProblemTooManyEvents        = problemBase + "too-many-events"
	ProblemMalformed            = problemBase + "malformed-body"
	ProblemInvalidEvents        = problemBase + "invalid-events"
	ProblemUnauthorized         = problemBase + "unauthorized"
	ProblemForbidden            = problemBase + "forbidden"
	ProblemNotFound             = problemBase + "not-found"
	ProblemMethodNotAllowed     = problemBase + "method-not-allowed"
	ProblemUnavailable          = problemBase + "unavailable"
	ProblemInternal             = problemBase + "internal"
)

// Problem is an RFC 9457 problem details document. Errors and Results are
// extension members: Errors names each bad field, Results gives the per-event
// outcome of an ingest batch that was rejected whole.
type Problem struct {
	Type     string         `json:"type"`
	Title    string         `json:"title"`
	Status   int            `json:"status"`
	Detail   string         `json:"detail,omitempty"`
	Instance string         `json:"instance,omitempty"`
	Errors   []ProblemError `json:"errors,omitempty"`
	Results  []EventResult  `json:"results,omitempty"`
	// RetryAfterSeconds repeats the Retry-After header of a 503 in the body.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
}

// ProblemError is one bad field. Index is the event's position in the batch
// when the problem is about a batch of events.
type ProblemError struct {
	Index  *int   `json:"index,omitempty"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// writeProblem writes p as application/problem+json, with Retry-After when
// p asks for one.
func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Instance == "" && r != nil {
		p.Instance = r.URL.Path
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfterSeconds))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p) // the client went away: nothing to do
}

// unavailable is the 503 answer of an overloaded or disconnected dependency.
func unavailable(detail string, retryAfter time.Duration) Problem {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return Problem{Type: ProblemUnavailable, Title: "Service unavailable", Status: http.StatusServiceUnavailable,
		Detail: detail, RetryAfterSeconds: secs}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
