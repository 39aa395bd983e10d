package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// openapiDoc is the hand-written OpenAPI 3.1 document. It is hand-written
// (rather than generated) because the API is small and net/http-only for
// now; TestOpenAPIMatchesRoutes keeps its paths, methods and scopes equal to
// the mux's routes. New builds the served copy with the configured limits.
//
//go:embed openapi.json
var openapiDoc []byte

// buildOpenAPI returns the document with the configured limits written in.
func (s *Server) buildOpenAPI() ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		return nil, fmt.Errorf("parse embedded openapi.json: %w", err)
	}
	post := dig(doc, "paths", "/v1/events", "post")
	if post == nil {
		return nil, fmt.Errorf("openapi.json: no POST /v1/events")
	}
	limits := fmt.Sprintf("Limits: at most %d events and %d bytes per request (413 beyond; the body is cut off while it is read), %d bytes per event",
		s.cfg.MaxBatchEvents, s.cfg.MaxBodyBytes, maxEventBytes)
	post["description"] = strings.Replace(post["description"].(string), "LIMITS", limits, 1)
	post["x-limits"] = map[string]any{"max_events": s.cfg.MaxBatchEvents, "max_body_bytes": s.cfg.MaxBodyBytes, "max_event_bytes": maxEventBytes}
	if arr := dig(post, "requestBody", "content", "application/json", "schema"); arr != nil {
		arr["maxItems"] = s.cfg.MaxBatchEvents
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode openapi.json: %w", err)
	}
	return b, nil
}

func dig(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil
		}
		m = next
	}
	return m
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapi)
}
