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
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

// testAPI is a real API server on loopback over a fresh schema, writing to
// the real broker's catalogue topics.
type testAPI struct {
	URL     string
	Server  *Server
	DB      *store.DB
	Brokers []string
	// Topics maps each catalogue topic to this test's own topic.
	Topics map[string]string
	// Key holds the ingest scope; ReadKey only read.
	Key, ReadKey string
}

func newTestAPI(t testing.TB, cfg Config) *testAPI {
	t.Helper()
	db := testenv.DB(t).DB
	brokers := testenv.Brokers(t)
	ctx := testenv.Context(t, time.Minute)
	// Fresh topics per test, so tests never write to the catalogue topics a
	// running `shoppulse dev` consumes.
	if cfg.Topics == nil {
		cfg.Topics = map[string]string{}
		for _, spec := range streaming.CatalogueTopics(3, 1) {
			cfg.Topics[spec.Name] = testenv.Name("api." + spec.Name)
		}
	}
	var specs []streaming.TopicSpec
	for _, name := range cfg.Topics {
		specs = append(specs, streaming.TopicSpec{Name: name, Partitions: 3, ReplicationFactor: 1})
	}
	if _, err := streaming.EnsureTopics(ctx, brokers, specs...); err != nil {
		t.Fatalf("ensure topics: %v", err)
	}
	// A new topic's partitions may still be taking up their leaders: wait
	// until each answers, so the first produce does not meet "not leader".
	for _, spec := range specs {
		if _, err := streaming.EndOffsets(ctx, brokers, spec.Name, spec.Partitions); err != nil {
			t.Fatalf("topic %s not ready: %v", spec.Name, err)
		}
	}
	if cfg.Brokers == nil {
		cfg.Brokers = brokers
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
	return &testAPI{URL: hs.URL, Server: s, DB: db, Brokers: brokers, Topics: cfg.Topics,
		Key: createKey(t, db, "ingest", ScopeIngest), ReadKey: createKey(t, db, "reader", ScopeRead)}
}

func createKey(t testing.TB, db *store.DB, name string, scopes ...string) string {
	t.Helper()
	tok, k, err := NewAPIKey(name, scopes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return tok
}

// post sends body to POST /v1/events with the content type and key.
func (a *testAPI) post(t testing.TB, contentType, key string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.URL+"/v1/events", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	return resp, b
}

// orderJSON is a valid order_placed event.
func orderJSON(id, customer string, at time.Time) string {
	return fmt.Sprintf(`{"id":%q,"type":"order_placed","source":"web","time":%q,"schema_version":1,"shop_id":"shop-1",`+
		`"data":{"order_id":"o-%s","customer_id":%q,"country":"GB","currency":"GBP","channel":"web",`+
		`"lines":[{"product_id":"p-1","quantity":2,"unit_price_minor":250}],"total_minor":500}}`,
		id, at.UTC().Format(time.RFC3339Nano), id, customer)
}

// pageViewJSON is a valid page_view event.
func pageViewJSON(id, session string, at time.Time) string {
	return fmt.Sprintf(`{"id":%q,"type":"page_view","source":"web","time":%q,"schema_version":1,"shop_id":"shop-1",`+
		`"data":{"session_id":%q,"page":"/"}}`, id, at.UTC().Format(time.RFC3339Nano), session)
}

func array(evs ...string) []byte { return []byte("[" + strings.Join(evs, ",") + "]") }

func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// wantProblem checks a problem details answer's status, content type and type.
func wantProblem(t testing.TB, resp *http.Response, body []byte, status int, typ string) Problem {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	p := decode[Problem](t, body)
	if p.Type != typ || p.Status != status || p.Title == "" {
		t.Fatalf("problem %+v, want type %s status %d", p, typ, status)
	}
	return p
}

// readBack returns the messages of the key's partition of topic from offset
// `from` to the partition's end.
func readBack(t testing.TB, brokers []string, topic string, key []byte, from map[int]int64) []kafka.Message {
	t.Helper()
	ctx := testenv.Context(t, 30*time.Second)
	n := len(from)
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	p := kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: key}, parts...)
	end, err := streaming.EndOffsets(ctx, brokers, topic, n)
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	if end[p] <= from[p] {
		return nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(from[p]); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("read %s/%d: %v", topic, p, err)
		}
		out = append(out, m)
		if m.Offset >= end[p]-1 {
			return out
		}
	}
}

func endOffsets(t testing.TB, brokers []string, topic string) map[int]int64 {
	t.Helper()
	ctx := testenv.Context(t, 30*time.Second)
	parts, err := streaming.EnsureTopics(ctx, brokers, streaming.TopicSpec{Name: topic, Partitions: 6, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	end, err := streaming.EndOffsets(ctx, brokers, topic, parts[topic])
	if err != nil {
		t.Fatal(err)
	}
	return end
}

// withID returns the messages whose event id is id.
func withID(msgs []kafka.Message, id string) []kafka.Message {
	var out []kafka.Message
	for _, m := range msgs {
		var h struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(m.Value, &h) == nil && h.ID == id {
			out = append(out, m)
		}
	}
	return out
}

func newHTTPTest(t testing.TB, s *Server) string {
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() { hs.Close(); _ = s.Close() })
	return hs.URL
}

func readAll(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
