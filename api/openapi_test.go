package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/shoppulse/shoppulse/store"
)

// TestOpenAPIMatchesRoutes keeps the hand-written document equal to the mux:
// the same paths and methods, public routes marked security: [], others
// naming the scope they need, and the configured limits written in.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s, err := New(Config{Brokers: []string{"127.0.0.1:1"}, MaxBatchEvents: 123, MaxBodyBytes: 4567}, &store.DB{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Scope    string           `json:"x-required-scope"`
			Security []map[string]any `json:"security"`
			Desc     string           `json:"description"`
			Limits   map[string]int64 `json:"x-limits"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(s.openapi, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	var inDoc, inMux []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := strings.ToUpper(method) + " " + path
			inDoc = append(inDoc, key)
			public := op.Security != nil && len(op.Security) == 0
			i := slices.IndexFunc(s.routes, func(r route) bool { return r.method+" "+docPath(r.path) == key })
			if i < 0 {
				continue
			}
			if r := s.routes[i]; (r.scope == "") != public || r.scope != op.Scope {
				t.Errorf("%s: document says scope %q (public %v), the mux %q", key, op.Scope, public, r.scope)
			}
		}
	}
	for _, r := range s.routes {
		inMux = append(inMux, r.method+" "+docPath(r.path))
	}
	slices.Sort(inDoc)
	slices.Sort(inMux)
	if !slices.Equal(inDoc, inMux) {
		t.Errorf("routes differ:\n document %v\n mux      %v", inDoc, inMux)
	}
	post := doc.Paths["/v1/events"]["post"]
	if post.Limits["max_events"] != 123 || post.Limits["max_body_bytes"] != 4567 || !strings.Contains(post.Desc, "at most 123 events and 4567 bytes") {
		t.Errorf("limits not written in: %v %q", post.Limits, post.Desc)
	}
}

func TestOpenAPIIsServed(t *testing.T) {
	a := newTestAPI(t, Config{})
	resp, err := http.Get(a.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	b := readAll(t, resp)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || !json.Valid(b) {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestSchemasAreServed(t *testing.T) {
	a := newTestAPI(t, Config{})
	resp, err := http.Get(a.URL + "/v1/schemas")
	if err != nil {
		t.Fatal(err)
	}
	list := decode[struct{ Schemas []SchemaSummary }](t, readAll(t, resp))
	if resp.StatusCode != 200 || !slices.ContainsFunc(list.Schemas, func(s SchemaSummary) bool {
		return s.Type == "order_placed" && s.Topic == "shop.orders.v1"
	}) {
		t.Fatalf("%d %+v", resp.StatusCode, list)
	}
	resp, err = http.Get(a.URL + "/v1/schemas/order_placed?version=1")
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); resp.StatusCode != 200 || resp.Header.Get("Schema-Version") != "1" || !json.Valid(b) {
		t.Fatalf("order_placed v1: %d %s", resp.StatusCode, resp.Header)
	}
	resp, err = http.Get(a.URL + "/v1/schemas/teleported")
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, resp, readAll(t, resp), http.StatusNotFound, ProblemNotFound)
	resp, err = http.Get(a.URL + "/v1/schemas/order_placed?version=x")
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, resp, readAll(t, resp), http.StatusBadRequest, ProblemMalformed)
}

// docPath is a mux pattern as OpenAPI writes it: a trailing wildcard
// {name...} is the path parameter {name}.
func docPath(pattern string) string { return strings.ReplaceAll(pattern, "...}", "}") }
