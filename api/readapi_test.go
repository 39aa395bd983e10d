package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// readAPI is a real API server over a fresh schema, with one key per scope
// (and one with read and operate). Every answer it gets is validated
// against the schema /openapi.json documents for its route and status, so
// a response that drifts from the document fails the test that got it.
type readAPI struct {
	URL    string
	Server *Server
	DB     *store.DB
	Keys   map[string]string // scope -> token
	KeyIDs map[string]string // scope -> key id
	doc    *openAPIValidator
}

func newReadAPI(t testing.TB, cfg Config) *readAPI {
	t.Helper()
	return newReadAPIOn(t, testenv.DB(t).DB, cfg)
}

// newReadAPIOn is newReadAPI over a schema the test made itself (to share
// it with a worker).
func newReadAPIOn(t testing.TB, db *store.DB, cfg Config) *readAPI {
	t.Helper()
	if cfg.Brokers == nil {
		cfg.Brokers = testenv.Brokers(t)
	}
	if cfg.DefaultReorderPoint == 0 {
		cfg.DefaultReorderPoint = 10
	}
	s, err := New(cfg, db, nil)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	a := &readAPI{URL: hs.URL, Server: s, DB: db, Keys: map[string]string{}, KeyIDs: map[string]string{}, doc: docValidator(t, s.openapi)}
	for _, sc := range Scopes {
		a.Keys[sc] = createKey(t, db, sc, sc)
		id, _, _ := parseToken(a.Keys[sc])
		a.KeyIDs[sc] = id
	}
	return a
}

// answer is one response.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a *readAPI) do(t testing.TB, method, path, key string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b []byte
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		// A live stream does not end: its status and headers are the
		// answer (live_test.go reads the events).
	} else if b, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	ans := answer{Status: resp.StatusCode, Header: resp.Header, Body: b}
	a.doc.check(t, a.Server, req, ans)
	return ans
}

// noRedirects answers a redirect itself, so that it is checked against the
// route that gave it.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get is a GET with the read key that must answer 200, decoded into T.
func get[T any](t testing.TB, a *readAPI, path string) T {
	t.Helper()
	ans := a.do(t, http.MethodGet, path, a.Keys[ScopeRead], nil)
	if ans.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, ans.Status, ans.Body)
	}
	return decode[T](t, ans.Body)
}

// wantBadParams checks a 400 invalid-parameters problem naming exactly the
// fields.
func wantBadParams(t testing.TB, ans answer, fields ...string) {
	t.Helper()
	if ans.Status != http.StatusBadRequest {
		t.Fatalf("want 400, got %d %s", ans.Status, ans.Body)
	}
	p := decode[Problem](t, ans.Body)
	if p.Type != ProblemInvalidParameters {
		t.Fatalf("problem type %s: %s", p.Type, ans.Body)
	}
	var got []string
	for _, e := range p.Errors {
		got = append(got, e.Path)
	}
	if strings.Join(got, ",") != strings.Join(fields, ",") {
		t.Fatalf("bad fields %v, want %v: %s", got, fields, ans.Body)
	}
}

// openAPIValidator validates answers against the document's schemas.
type openAPIValidator struct {
	doc      map[string]any
	compiler *jsonschema.Compiler
	mu       sync.Mutex
	schemas  map[string]*jsonschema.Schema
}

const docURL = "mem://shoppulse/openapi.json"

func docValidator(t testing.TB, raw []byte) *openAPIValidator {
	t.Helper()
	v := &openAPIValidator{schemas: map[string]*jsonschema.Schema{}}
	if err := json.Unmarshal(raw, &v.doc); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	v.compiler = jsonschema.NewCompiler()
	v.compiler.DefaultDraft(jsonschema.Draft2020)
	v.compiler.AssertFormat()
	if err := v.compiler.AddResource(docURL, inst); err != nil {
		t.Fatal(err)
	}
	return v
}

func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// check finds the route of req, the documented response for the answer's
// status and content type, and validates the body against its schema. An
// undocumented status is a failure too.
func (v *openAPIValidator) check(t testing.TB, s *Server, req *http.Request, ans answer) {
	t.Helper()
	_, pattern := s.mux.Handler(req)
	if pattern == "" {
		return // 404/405 of the mux: no route to check against
	}
	method, path, _ := strings.Cut(pattern, " ")
	path = docPath(path)
	m := strings.ToLower(method)
	op := dig(v.doc, "paths", path, m)
	if op == nil {
		t.Fatalf("%s %s is not documented", method, path)
	}
	code := fmt.Sprint(ans.Status)
	resp := dig(op, "responses", code)
	if resp == nil {
		t.Fatalf("%s %s answered %d, which the document does not list: %s", method, path, ans.Status, ans.Body)
	}
	ptr := "/paths/" + pointerEscape(path) + "/" + m + "/responses/" + code
	if ref, ok := resp["$ref"].(string); ok {
		ptr = strings.TrimPrefix(ref, "#")
		resp = dig(v.doc, strings.Split(strings.TrimPrefix(ptr, "/"), "/")...)
	}
	ct, _, _ := strings.Cut(ans.Header.Get("Content-Type"), ";")
	if _, ok := dig(resp, "content")[ct]; !ok {
		if len(dig(resp, "content")) == 0 {
			return
		}
		t.Fatalf("%s %s %d: content type %q is not documented", method, path, ans.Status, ct)
	}
	if !strings.Contains(ct, "json") {
		return
	}
	loc := docURL + "#" + ptr + "/content/" + pointerEscape(ct) + "/schema"
	v.mu.Lock()
	sch, ok := v.schemas[loc]
	if !ok {
		var err error
		sch, err = v.compiler.Compile(loc)
		if err != nil {
			v.mu.Unlock()
			t.Fatalf("compile %s: %v", loc, err)
		}
		v.schemas[loc] = sch
	}
	v.mu.Unlock()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(ans.Body))
	if err != nil {
		t.Fatalf("%s %s %d: not JSON: %v", method, path, ans.Status, err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("%s %s %d: the answer does not match the document: %v\n%s", method, path, ans.Status, err, ans.Body)
	}
}

// seed helpers: everything goes through the store's batch commits, the
// hot path's own writes.

func orderEvent(id, customer string, at time.Time, country, channel string, total int64, lines ...events.OrderLine) events.OrderPlaced {
	return events.OrderPlaced{
		Header:  events.Header{EventID: "ev-" + id, Type: events.TypeOrderPlaced, SchemaVersion: 1, EventTime: at},
		OrderID: "o-" + id, CustomerID: customer, Country: country, Currency: "GBP", Channel: channel,
		Lines: lines, TotalMinor: total,
	}
}

// offsets remembers the next offset of each topic's partition 0.
type seeder struct {
	t    testing.TB
	db   *store.DB
	next map[string]int64
}

func newSeeder(t testing.TB, db *store.DB) *seeder {
	ctx := testenv.Context(t, time.Minute)
	for _, topic := range []string{events.TopicOrders, events.TopicClickstream, events.TopicInventory, events.TopicPayments} {
		if err := db.InitOffsets(ctx, topic, 1); err != nil {
			t.Fatal(err)
		}
	}
	return &seeder{t: t, db: db, next: map[string]int64{}}
}

func (s *seeder) span(topic string, n int) (int64, int64) {
	start := s.next[topic]
	s.next[topic] = start + int64(n)
	return start, start + int64(n)
}

func (s *seeder) orders(fraud *store.FraudScoring, os ...events.OrderPlaced) {
	s.t.Helper()
	start, end := s.span(events.TopicOrders, len(os))
	b := store.OrderBatch{Topic: events.TopicOrders, Start: start, End: end, Fraud: fraud}
	for i, o := range os {
		b.Orders = append(b.Orders, store.PositionedOrder{Order: o, Offset: start + int64(i)})
	}
	if _, err := s.db.CommitOrderBatch(context.Background(), b); err != nil {
		s.t.Fatal(err)
	}
}

func (s *seeder) clicks(evs ...store.ClickEvent) {
	s.t.Helper()
	start, end := s.span(events.TopicClickstream, len(evs))
	for i := range evs {
		evs[i].Offset = start + int64(i)
	}
	if _, err := s.db.CommitClickstreamBatch(context.Background(), store.ClickstreamBatch{
		BatchMeta: store.BatchMeta{Topic: events.TopicClickstream, Start: start, End: end}, Events: evs}); err != nil {
		s.t.Fatal(err)
	}
}

func (s *seeder) stock(at time.Time, moves ...[3]any) {
	s.t.Helper()
	start, end := s.span(events.TopicInventory, len(moves))
	b := store.InventoryBatch{BatchMeta: store.BatchMeta{Topic: events.TopicInventory, Start: start, End: end}, DefaultReorderPoint: 10}
	for i, m := range moves {
		off := start + int64(i)
		b.Movements = append(b.Movements, store.PositionedMovement{Offset: off, Movement: events.InventoryAdjusted{
			Header:    events.Header{EventID: fmt.Sprintf("inv-%d", off), Type: events.TypeInventoryAdjusted, SchemaVersion: 1, EventTime: at.Add(time.Duration(i) * time.Second)},
			ProductID: m[0].(string), WarehouseID: m[1].(string), Delta: int64(m[2].(int)), Reason: "count"}})
	}
	if _, err := s.db.CommitInventoryBatch(context.Background(), b); err != nil {
		s.t.Fatal(err)
	}
}

func (s *seeder) payments(ps ...events.Payment) {
	s.t.Helper()
	start, end := s.span(events.TopicPayments, len(ps))
	b := store.PaymentBatch{BatchMeta: store.BatchMeta{Topic: events.TopicPayments, Start: start, End: end}}
	for i, p := range ps {
		b.Payments = append(b.Payments, store.PositionedPayment{Payment: p, Offset: start + int64(i)})
	}
	if _, err := s.db.CommitPaymentBatch(context.Background(), b); err != nil {
		s.t.Fatal(err)
	}
}
