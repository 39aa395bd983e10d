package api

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
)

func TestIngestWrongContentTypeIs415(t *testing.T) {
	a := newTestAPI(t, Config{})
	for _, ct := range []string{"", "text/plain", "application/xml", "multipart/form-data; boundary=x"} {
		resp, body := a.post(t, ct, a.Key, array(orderJSON(testenv.Name("e"), "c-1", time.Now())))
		wantProblem(t, resp, body, http.StatusUnsupportedMediaType, ProblemUnsupportedMediaType)
	}
}

func TestIngestTooManyEventsIs413(t *testing.T) {
	a := newTestAPI(t, Config{MaxBatchEvents: 3})
	now := time.Now()
	evs := []string{orderJSON("a1", "c", now), orderJSON("a2", "c", now), orderJSON("a3", "c", now), orderJSON("a4", "c", now)}
	resp, body := a.post(t, "application/json", a.Key, array(evs...))
	p := wantProblem(t, resp, body, http.StatusRequestEntityTooLarge, ProblemTooManyEvents)
	if !strings.Contains(p.Detail, "3 events") {
		t.Errorf("detail %q does not state the limit", p.Detail)
	}
	resp, body = a.post(t, "application/x-ndjson", a.Key, []byte(strings.Join(evs, "\n")))
	wantProblem(t, resp, body, http.StatusRequestEntityTooLarge, ProblemTooManyEvents)
}

func TestIngestBodyTooLargeIs413(t *testing.T) {
	a := newTestAPI(t, Config{MaxBodyBytes: 2048})
	var evs []string
	for i := 0; i < 10; i++ {
		evs = append(evs, orderJSON(testenv.Name("e"), "c", time.Now()))
	}
	for _, ct := range []string{"application/json", "application/x-ndjson"} {
		body := array(evs...)
		if ct == "application/x-ndjson" {
			body = []byte(strings.Join(evs, "\n"))
		}
		resp, b := a.post(t, ct, a.Key, body)
		p := wantProblem(t, resp, b, http.StatusRequestEntityTooLarge, ProblemBodyTooLarge)
		if !strings.Contains(p.Detail, "2048 bytes") {
			t.Errorf("detail %q does not state the limit", p.Detail)
		}
	}
	// Nothing of an oversized batch was received.
	if n := countIDs(t, a); n != 0 {
		t.Errorf("%d event ids recorded from a refused batch", n)
	}
}

func TestIngestMalformedJSONIs400(t *testing.T) {
	a := newTestAPI(t, Config{})
	for name, body := range map[string]string{
		"truncated":     `[` + orderJSON("m1", "c", time.Now()),
		"syntax":        `[{"id": "x",,}]`,
		"not an array":  orderJSON("m2", "c", time.Now()),
		"trailing data": `[] {}`,
		"empty array":   `[]`,
		"empty body":    ``,
		"empty ndjson ": "\n\n",
	} {
		t.Run(name, func(t *testing.T) {
			ct := "application/json"
			if strings.HasPrefix(name, "empty ndjson") {
				ct = "application/x-ndjson"
			}
			resp, b := a.post(t, ct, a.Key, []byte(body))
			p := wantProblem(t, resp, b, http.StatusBadRequest, ProblemMalformed)
			if p.Detail == "" {
				t.Error("no detail")
			}
		})
	}
}

func TestIngestWithoutKeyIs401(t *testing.T) {
	a := newTestAPI(t, Config{})
	resp, body := a.post(t, "application/json", "", array(orderJSON("k1", "c", time.Now())))
	wantProblem(t, resp, body, http.StatusUnauthorized, ProblemUnauthorized)
	if resp.Header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
}

func TestIngestWithBadKeyIs401(t *testing.T) {
	a := newTestAPI(t, Config{})
	id, _, _ := parseToken(a.Key)
	for name, key := range map[string]string{
		"garbage":      "hello",
		"wrong secret": "sp_" + id + "_" + strings.Repeat("0", 64),
		"unknown id":   "sp_0123456789abcdef_" + strings.Repeat("a", 64),
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := a.post(t, "application/json", key, array(orderJSON("k2", "c", time.Now())))
			wantProblem(t, resp, body, http.StatusUnauthorized, ProblemUnauthorized)
		})
	}
}

func TestIngestWithRevokedKeyIs401WithinTheCacheTTL(t *testing.T) {
	const ttl = 200 * time.Millisecond
	a := newTestAPI(t, Config{KeyCacheTTL: ttl})
	resp, body := a.post(t, "application/json", a.Key, array(orderJSON(testenv.Name("e"), "c", time.Now())))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	id, _, _ := parseToken(a.Key)
	if _, err := a.DB.RevokeAPIKey(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + 50*time.Millisecond)
	resp, body = a.post(t, "application/json", a.Key, array(orderJSON(testenv.Name("e"), "c", time.Now())))
	p := wantProblem(t, resp, body, http.StatusUnauthorized, ProblemUnauthorized)
	if !strings.Contains(p.Detail, "revoked") {
		t.Errorf("detail %q does not say revoked", p.Detail)
	}
	k, err := a.DB.APIKey(context.Background(), id)
	if err != nil || k.LastUsedAt == nil {
		t.Errorf("last_used_at not recorded: %+v %v", k, err)
	}
}

func TestIngestWithoutIngestScopeIs403(t *testing.T) {
	a := newTestAPI(t, Config{})
	resp, body := a.post(t, "application/json", a.ReadKey, array(orderJSON("k3", "c", time.Now())))
	wantProblem(t, resp, body, http.StatusForbidden, ProblemForbidden)
}

func TestIngestRejectsInvalidEventsWithPaths(t *testing.T) {
	a := newTestAPI(t, Config{})
	now := time.Now()
	good := testenv.Name("good")
	cases := []struct {
		name, event, path string
	}{
		{"far-future time", orderJSON(testenv.Name("e"), "c", now.Add(time.Hour)), "$.time"},
		{"unknown type", `{"id":"u1","type":"teleported","time":"2026-01-01T00:00:00Z","schema_version":1,"data":{}}`, "$.type"},
		{"wrong JSON type", strings.Replace(orderJSON(testenv.Name("e"), "c", now), `"quantity":2`, `"quantity":"two"`, 1), "$.data.lines[0].quantity"},
		{"missing field", strings.Replace(orderJSON(testenv.Name("e"), "c", now), `"country":"GB",`, ``, 1), "$.data.country"},
		{"not an object", `42`, "$"},
	}
	batch := []string{orderJSON(good, "c-good", now)}
	for _, c := range cases {
		batch = append(batch, c.event)
	}
	resp, body := a.post(t, "application/json", a.Key, array(batch...))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mixed batch: status %d, want 200: %s", resp.StatusCode, body)
	}
	res := decode[IngestResponse](t, body)
	if res.Accepted != 1 || res.Rejected != len(cases) || len(res.Results) != len(batch) {
		t.Fatalf("answer %+v", res)
	}
	if r := res.Results[0]; r.Status != StatusAccepted || r.ID != good || r.Topic != a.Topics[events.TopicOrders] {
		t.Errorf("valid event: %+v", r)
	}
	for i, c := range cases {
		r := res.Results[i+1]
		if r.Index != i+1 || r.Status != StatusRejected || !hasPath(r.Errors, c.path) {
			t.Errorf("%s: result %+v, want rejected at %s", c.name, r, c.path)
		}
	}

	// The same events without the valid one: 422, a problem with the paths.
	resp, body = a.post(t, "application/json", a.Key, array(batch[1:]...))
	p := wantProblem(t, resp, body, http.StatusUnprocessableEntity, ProblemInvalidEvents)
	if len(p.Results) != len(cases) {
		t.Fatalf("problem results %+v", p.Results)
	}
	for i, c := range cases {
		found := false
		for _, e := range p.Errors {
			found = found || (e.Index != nil && *e.Index == i && e.Path == c.path)
		}
		if !found {
			t.Errorf("%s: no error at index %d path %s in %+v", c.name, i, c.path, p.Errors)
		}
	}
}

func hasPath(errs []events.FieldError, path string) bool {
	return slices.ContainsFunc(errs, func(e events.FieldError) bool { return e.Path == path })
}

func TestIngestLandsInKafkaOnTheRightTopicAndKey(t *testing.T) {
	a := newTestAPI(t, Config{})
	orderFrom := endOffsets(t, a.Brokers, a.Topics[events.TopicOrders])
	clickFrom := endOffsets(t, a.Brokers, a.Topics[events.TopicClickstream])
	orderID, viewID := testenv.Name("order"), testenv.Name("view")
	customer, session := testenv.Name("cust"), testenv.Name("sess")
	// NDJSON, with a blank line and a line that is not JSON (rejected alone).
	body := orderJSON(orderID, customer, time.Now()) + "\n\n" + pageViewJSON(viewID, session, time.Now()) + "\n{not json\n"
	resp, b := a.post(t, "application/x-ndjson; charset=utf-8", a.Key, []byte(body))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	res := decode[IngestResponse](t, b)
	if res.Accepted != 2 || res.Rejected != 1 || res.Results[2].Errors[0].Path != "$" {
		t.Fatalf("answer %+v", res)
	}

	for _, c := range []struct{ topic, id, key string }{
		{a.Topics[events.TopicOrders], orderID, customer},
		{a.Topics[events.TopicClickstream], viewID, session},
	} {
		from := orderFrom
		if c.topic == a.Topics[events.TopicClickstream] {
			from = clickFrom
		}
		got := withID(readBack(t, a.Brokers, c.topic, []byte(c.key), from), c.id)
		if len(got) != 1 {
			t.Fatalf("%s: %d messages with id %s on the key's partition, want 1", c.topic, len(got), c.id)
		}
		if string(got[0].Key) != c.key {
			t.Errorf("%s: key %q, want %q", c.topic, got[0].Key, c.key)
		}
		ev, err := events.Decode(got[0].Value, time.Now())
		if err != nil || ev.Head().EventID != c.id {
			t.Errorf("%s: message does not decode to the event: %v", c.topic, err)
		}
	}
}

func TestIngestDuplicateIDIsAcceptedOnce(t *testing.T) {
	a := newTestAPI(t, Config{})
	from := endOffsets(t, a.Brokers, a.Topics[events.TopicOrders])
	id, customer := testenv.Name("dup"), testenv.Name("cust")
	ev := orderJSON(id, customer, time.Now())

	resp, b := a.post(t, "application/json", a.Key, array(ev, ev))
	res := decode[IngestResponse](t, b)
	if resp.StatusCode != http.StatusOK || res.Accepted != 1 || res.Duplicates != 1 || res.Results[1].Status != StatusDuplicate {
		t.Fatalf("first post: %d %s", resp.StatusCode, b)
	}
	resp, b = a.post(t, "application/json", a.Key, array(ev))
	res = decode[IngestResponse](t, b)
	if resp.StatusCode != http.StatusOK || res.Duplicates != 1 || res.Results[0].Status != StatusDuplicate {
		t.Fatalf("retry: %d %s", resp.StatusCode, b)
	}
	if got := withID(readBack(t, a.Brokers, a.Topics[events.TopicOrders], []byte(customer), from), id); len(got) != 1 {
		t.Fatalf("topic holds %d copies of %s, want 1", len(got), id)
	}
}

func TestIngestWhenKafkaIsDownIs503AndARetryWorks(t *testing.T) {
	a := newTestAPI(t, Config{Brokers: []string{"127.0.0.1:1"}, ProduceTimeout: 2 * time.Second, RetryAfter: 7 * time.Second})
	id := testenv.Name("down")
	start := time.Now()
	resp, body := a.post(t, "application/json", a.Key, array(orderJSON(id, "c", time.Now())))
	p := wantProblem(t, resp, body, http.StatusServiceUnavailable, ProblemUnavailable)
	if resp.Header.Get("Retry-After") != "7" || p.RetryAfterSeconds != 7 {
		t.Errorf("Retry-After %q, body %d, want 7", resp.Header.Get("Retry-After"), p.RetryAfterSeconds)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("503 took %s, more than the produce timeout allows", d)
	}
	// The id was released: a retry against a working Kafka is accepted.
	if n := countIDs(t, a); n != 0 {
		t.Fatalf("%d ids still claimed after the failed write", n)
	}
	b := newTestAPIOn(t, a)
	resp, body = b.post(t, "application/json", a.Key, array(orderJSON(id, "c", time.Now())))
	if res := decode[IngestResponse](t, body); resp.StatusCode != http.StatusOK || res.Accepted != 1 {
		t.Fatalf("retry: %d %s", resp.StatusCode, body)
	}
}

// TestIngestWhenKafkaIsSlowIs503 points the writer at a "broker" that
// accepts connections and never answers: the first request holds the only
// produce slot until its timeout, the second is shed at once.
func TestIngestWhenKafkaIsSlowIs503(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	stop := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { defer conns.Done(); <-stop; c.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close(); close(stop); conns.Wait() })

	a := newTestAPI(t, Config{Brokers: []string{ln.Addr().String()}, MaxInFlight: 1, QueueWait: 50 * time.Millisecond,
		ProduceTimeout: 1500 * time.Millisecond, RetryAfter: time.Second})
	first := make(chan int, 1)
	go func() {
		resp, _ := a.post(t, "application/json", a.Key, array(orderJSON(testenv.Name("slow"), "c", time.Now())))
		first <- resp.StatusCode
	}()
	time.Sleep(300 * time.Millisecond) // the first request is writing
	start := time.Now()
	resp, body := a.post(t, "application/json", a.Key, array(orderJSON(testenv.Name("shed"), "c", time.Now())))
	wantProblem(t, resp, body, http.StatusServiceUnavailable, ProblemUnavailable)
	if d := time.Since(start); d > time.Second {
		t.Errorf("the shed request waited %s", d)
	}
	if resp.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if code := <-first; code != http.StatusServiceUnavailable {
		t.Errorf("the slow request: %d, want 503", code)
	}
	if n := countIDs(t, a); n != 0 {
		t.Errorf("%d ids still claimed", n)
	}
}

// newTestAPIOn is a second server on the same schema with the real brokers.
func newTestAPIOn(t *testing.T, a *testAPI) *testAPI {
	s, err := New(Config{Brokers: testenv.Brokers(t), Topics: a.Topics}, a.DB, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := *a
	b.Server = s
	hs := newHTTPTest(t, s)
	b.URL = hs
	return &b
}

func countIDs(t testing.TB, a *testAPI) int {
	var n int
	if err := a.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM ingest_event_ids`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestUnknownRouteAndMethodAreProblems(t *testing.T) {
	a := newTestAPI(t, Config{})
	resp, err := http.Get(a.URL + "/v1/nothing")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	wantProblem(t, resp, body, http.StatusNotFound, ProblemNotFound)
	resp, err = http.Get(a.URL + "/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	body = readAll(t, resp)
	wantProblem(t, resp, body, http.StatusMethodNotAllowed, ProblemMethodNotAllowed)
	if resp.Header.Get("Allow") == "" {
		t.Error("405 without Allow")
	}
}

func TestHealthz(t *testing.T) {
	a := newTestAPI(t, Config{})
	resp, err := http.Get(a.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	if b := readAll(t, resp); resp.StatusCode != 200 || !json.Valid(b) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
