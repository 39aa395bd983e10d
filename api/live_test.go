package api

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// sseEvent is one parsed Server-Sent Event.
type sseEvent struct {
	Event, ID, Data string
}

// readSSE sends the stream's events to the returned channel until it ends.
func readSSE(resp *http.Response) <-chan sseEvent {
	out := make(chan sseEvent, 16)
	go func() {
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.Event != "" || ev.Data != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, ":"):
			case strings.HasPrefix(line, "event: "):
				ev.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.ID = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.Data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return out
}

func nextUpdate(t *testing.T, evs <-chan sseEvent, within time.Duration) store.DataVersion {
	t.Helper()
	select {
	case ev, ok := <-evs:
		if !ok {
			t.Fatal("the stream ended")
		}
		if ev.Event != "update" {
			t.Fatalf("event %q, want update", ev.Event)
		}
		var le liveEvent
		if err := json.Unmarshal([]byte(ev.Data), &le); err != nil {
			t.Fatalf("update data %q: %v", ev.Data, err)
		}
		return le.Version
	case <-time.After(within):
		t.Fatalf("no update within %s", within)
	}
	return store.DataVersion{}
}

func openLive(t *testing.T, ctx context.Context, url, key string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestLiveStreamPushesWhenTheHotPathCommits: a committed order batch moves
// the data version, and every open stream gets an update event with it
// within the poll interval; one poller serves every stream and stops when
// the last one leaves.
func TestLiveStreamPushesWhenTheHotPathCommits(t *testing.T) {
	// No Kafka: the live stream reads only Postgres.
	db := testenv.DB(t).DB
	s, err := New(Config{Brokers: []string{"127.0.0.1:1"}}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &testAPI{URL: newHTTPTest(t, s), Server: s, DB: db,
		Key: createKey(t, db, "ingest", ScopeIngest), ReadKey: createKey(t, db, "reader", ScopeRead)}
	ctx := testenv.Context(t, time.Minute)

	resp := openLive(t, ctx, a.URL, "")
	wantProblem(t, resp, readAll(t, resp), http.StatusUnauthorized, ProblemUnauthorized)
	resp = openLive(t, ctx, a.URL, a.Key) // ingest only
	wantProblem(t, resp, readAll(t, resp), http.StatusForbidden, ProblemForbidden)

	topic := testenv.Name("live.orders")
	if err := a.DB.InitOffsets(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	var streams []<-chan sseEvent
	for range 2 {
		resp := openLive(t, sctx, a.URL, a.ReadKey)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("live: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		defer resp.Body.Close()
		streams = append(streams, readSSE(resp))
	}
	first := nextUpdate(t, streams[0], 5*time.Second)
	nextUpdate(t, streams[1], 5*time.Second)
	if first.Offsets != 0 || !first.LastCommit.After(time.Time{}) {
		t.Fatalf("first version %+v: want offsets 0 and the offset row's time", first)
	}

	at := time.Now().UTC().Add(-time.Minute)
	if _, err := a.DB.CommitOrderBatch(ctx, store.OrderBatch{Topic: topic, Partition: 0, Start: 0, End: 3, Owner: "test",
		Orders: []store.PositionedOrder{{Offset: 0, Order: events.OrderPlaced{
			Header:  events.Header{EventID: "live-1", Type: events.TypeOrderPlaced, SchemaVersion: 1, EventTime: at},
			OrderID: "o-live-1", CustomerID: "c-1", Country: "GB", Currency: "GBP", Channel: "web",
			Lines: []events.OrderLine{{ProductID: "p-1", Quantity: 1, UnitPriceMinor: 999}}, TotalMinor: 999,
		}}}}); err != nil {
		t.Fatal(err)
	}
	for i, evs := range streams {
		v := nextUpdate(t, evs, 5*time.Second)
		if v.Offsets != 3 || !v.LastCommit.After(first.LastCommit) {
			t.Fatalf("stream %d: version after the commit %+v, before %+v", i, v, first)
		}
	}
	select {
	case ev := <-streams[0]:
		t.Fatalf("an update without a change: %+v", ev)
	case <-time.After(2500 * time.Millisecond):
	}

	stop()
	deadline := time.Now().Add(5 * time.Second)
	for {
		a.Server.live.mu.Lock()
		n, running := len(a.Server.live.subs), a.Server.live.stop != nil
		a.Server.live.mu.Unlock()
		if n == 0 && !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the clients left: %d subscribers, poller running %v", n, running)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDashboardIsServed: the page and its vendored chart library come from
// the binary with a Content-Security-Policy, and the root leads there.
func TestDashboardIsServed(t *testing.T) {
	s, err := New(Config{Brokers: []string{"127.0.0.1:1"}}, &store.DB{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	url := newHTTPTest(t, s)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(url + "/")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/dashboard/" {
		t.Fatalf("GET /: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for path, want := range map[string]string{
		"/dashboard/":                      "text/html",
		"/dashboard/app.js":                "text/javascript",
		"/dashboard/vendor/echarts.min.js": "text/javascript",
		"/dashboard/style.css":             "text/css",
	} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b := readAll(t, resp)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), want) || len(b) == 0 {
			t.Errorf("%s: %d %q %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		etag := resp.Header.Get("ETag")
		req, _ := http.NewRequest(http.MethodGet, url+path, nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		if etag == "" || resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s: ETag %q answered %d when unchanged", path, etag, resp.StatusCode)
		}
	}
	resp, err = http.Get(url + "/dashboard/nope.js")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("missing asset: %d", resp.StatusCode)
	}
}
