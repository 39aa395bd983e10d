package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/shoppulse/shoppulse/events"
)

// maxEventBytes is the largest event the catalogue accepts.
const maxEventBytes = events.MaxEventBytes

// schemaRoutes serve the catalogue's JSON Schemas. They are public, like
// /openapi.json: they document the contract and reveal no data.
func (s *Server) schemaRoutes() []route {
	return []route{
		{method: http.MethodGet, path: "/v1/schemas", h: s.handleSchemas},
		{method: http.MethodGet, path: "/v1/schemas/{type}", h: s.handleSchema},
	}
}

// SchemaSummary is one schema version in the GET /v1/schemas list.
type SchemaSummary struct {
	Type    string `json:"type"`
	Version int    `json:"version"`
	Topic   string `json:"topic"`
	Key     string `json:"key"`
	URL     string `json:"url"`
}

func (s *Server) handleSchemas(w http.ResponseWriter, _ *http.Request) {
	infos := events.Schemas()
	out := make([]SchemaSummary, len(infos))
	for i, si := range infos {
		out[i] = SchemaSummary{Type: si.Type, Version: si.Version, Topic: si.Topic, Key: si.Key,
			URL: fmt.Sprintf("/v1/schemas/%s?version=%d", si.Type, si.Version)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"schemas": out})
}

// handleSchema serves one type's JSON Schema document: the latest version,
// or ?version=N.
func (s *Server) handleSchema(w http.ResponseWriter, r *http.Request) {
	typ := r.PathValue("type")
	version := 0
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeProblem(w, r, Problem{Type: ProblemMalformed, Title: "Bad parameter", Status: http.StatusBadRequest,
				Detail: fmt.Sprintf("version %q: want a positive integer", v),
				Errors: []ProblemError{{Path: "version", Reason: "want a positive integer"}}})
			return
		}
		version = n
	}
	si, ok := events.Schema(typ, version)
	if !ok {
		writeProblem(w, r, Problem{Type: ProblemNotFound, Title: "Not found", Status: http.StatusNotFound,
			Detail: fmt.Sprintf("no schema for type %q version %d (0 means latest); see /v1/schemas", typ, version)})
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Schema-Version", strconv.Itoa(si.Version))
	_, _ = w.Write(si.JSON)
}
