package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

// recorder is a Publisher that keeps what it was given. It is a stand-in
// for the producer; the Kafka path is tested against a real broker in
// producer_test.go.
type recorder struct {
	mu      sync.Mutex
	got     []events.OrderPlaced // the orders among all
	all     []events.Event
	batches []int
	fail    error
	// onProduce runs after each batch is recorded.
	onProduce func(total int)
	// ctxErr records whether a Produce context was already done.
	ctxErr error
}

func (r *recorder) Publish(ctx context.Context, evs ...events.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		r.ctxErr = err
	}
	if r.fail != nil {
		return r.fail
	}
	for _, ev := range evs {
		if o, ok := ev.(events.OrderPlaced); ok {
			r.got = append(r.got, o)
		}
	}
	r.all = append(r.all, evs...)
	r.batches = append(r.batches, len(evs))
	if r.onProduce != nil {
		r.onProduce(len(r.all))
	}
	return nil
}

func TestRun_ReplayKeepsHistoricalTimes(t *testing.T) {
	orders, _ := readOnlineRetailFile(t, "2010-12-02.csv")
	rec := &recorder{}
	st, err := Run(t.Context(), NewReplay(orders), rec, RunConfig{Name: "replay", BatchSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	if st.Produced != len(orders) || st.Taken != len(orders) || st.Failed != 0 || len(rec.got) != len(orders) {
		t.Fatalf("stats %+v, recorded %d; want %d", st, len(rec.got), len(orders))
	}
	for i := range orders {
		if rec.got[i].EventID != orders[i].EventID || !rec.got[i].EventTime.Equal(orders[i].EventTime) {
			t.Fatalf("event %d: got %s at %s, want %s at %s", i, rec.got[i].EventID, rec.got[i].EventTime, orders[i].EventID, orders[i].EventTime)
		}
	}
	for _, n := range rec.batches {
		if n > 50 {
			t.Errorf("batch of %d, more than BatchSize 50", n)
		}
	}
}

func TestRun_CountAndClock(t *testing.T) {
	clock := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	rec := &recorder{}
	st, err := Run(t.Context(), NewSimulator(SimConfig{Seed: 1}).Source(), rec, RunConfig{
		Count: 1234,
		Clock: func() time.Time { clock = clock.Add(time.Millisecond); return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Produced != 1234 || len(rec.got) != 1234 {
		t.Fatalf("produced %d, recorded %d; want 1234", st.Produced, len(rec.got))
	}
	if first := rec.got[0].EventTime; !first.Equal(time.Date(2026, 1, 5, 12, 0, 0, int(time.Millisecond), time.UTC)) {
		t.Errorf("first event time %s, want the injected clock", first)
	}
	// The same seed through Run gives the same events as direct calls.
	want := NewSimulator(SimConfig{Seed: 1})
	for i, o := range rec.got {
		if w := want.Next(o.EventTime); w.EventID != o.EventID || w.TotalMinor != o.TotalMinor {
			t.Fatalf("event %d differs from a direct simulation", i)
		}
	}
}

func TestRun_RateLimits(t *testing.T) {
	// A lower bound only: pacing must not let 100 events through at 500/s in
	// much less than 0.2s (burst is 5). Speed is for benchmarks.
	rec := &recorder{}
	st, err := Run(t.Context(), NewSimulator(SimConfig{Seed: 1}).Source(), rec, RunConfig{Rate: 500, Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	if st.Produced != 100 {
		t.Fatalf("produced %d", st.Produced)
	}
	if st.Elapsed < 150*time.Millisecond {
		t.Errorf("100 events at 500/s took %s, want about 200ms", st.Elapsed)
	}
}

func TestRun_CancelFlushesWhatWasTaken(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	rec := &recorder{onProduce: func(total int) {
		if total >= 1000 {
			cancel()
		}
	}}
	st, err := Run(ctx, NewSimulator(SimConfig{Seed: 1}).Source(), rec, RunConfig{BatchSize: 100})
	if err != nil {
		t.Fatalf("a cancelled unbounded run should stop cleanly, got %v", err)
	}
	if st.Taken != st.Produced || st.Produced != len(rec.got) || st.Produced < 1000 {
		t.Fatalf("stats %+v, recorded %d: every taken event must be produced", st, len(rec.got))
	}
	if rec.ctxErr != nil {
		t.Errorf("a Produce call got a done context: %v", rec.ctxErr)
	}
}

func TestRun_CancelWhileWaitingForTheLimiter(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	rec := &recorder{}
	st, err := Run(ctx, NewSimulator(SimConfig{Seed: 1}).Source(), rec, RunConfig{Rate: 20, FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if st.Produced == 0 || st.Produced != st.Taken || st.Produced != len(rec.got) {
		t.Fatalf("stats %+v, recorded %d", st, len(rec.got))
	}
}

func TestRun_ProduceErrorStops(t *testing.T) {
	boom := errors.New("broker gone")
	rec := &recorder{fail: boom}
	var progress bytes.Buffer
	st, err := Run(t.Context(), NewSimulator(SimConfig{Seed: 1}).Source(), rec, RunConfig{BatchSize: 10, Progress: &progress})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap %v", err, boom)
	}
	if st.Failed != 10 || st.Produced != 0 {
		t.Errorf("stats %+v, want 10 failed", st)
	}
	if !strings.Contains(progress.String(), "10 errors") {
		t.Errorf("progress %q does not report the errors", progress.String())
	}
}

func TestRun_ProgressLines(t *testing.T) {
	var progress bytes.Buffer
	rec := &recorder{}
	_, err := Run(t.Context(), NewSimulator(SimConfig{Seed: 1}).Source(), rec, RunConfig{
		Rate: 1000, Count: 300, Progress: &progress, ProgressEvery: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	re := regexp.MustCompile(`^generate: \d+ events, \d+\.\d/s, 0 errors$`)
	if len(lines) < 2 {
		t.Fatalf("progress %q: want periodic lines and a final one", progress.String())
	}
	for _, l := range lines[:len(lines)-1] {
		if !re.MatchString(l) {
			t.Errorf("progress line %q does not match %s", l, re)
		}
	}
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "generate: done, 300 events in ") {
		t.Errorf("last line %q", last)
	}
}

func TestRunConfig_Validate(t *testing.T) {
	bad := []RunConfig{{Rate: -1}, {Count: -1}, {BatchSize: -1}, {FlushInterval: -time.Second}, {Speed: -1}}
	for _, rc := range bad {
		if _, err := Run(t.Context(), NewReplay(nil), &recorder{}, rc); err == nil {
			t.Errorf("Run accepted %+v", rc)
		}
	}
}

// timed is a Source of page views, one per offset from a base time.
func timed(base time.Time, offsets ...time.Duration) Source {
	i := 0
	return SourceFunc(func(time.Time) (events.Event, bool) {
		if i >= len(offsets) {
			return nil, false
		}
		i++
		return events.PageView{
			Header:      events.Header{EventID: fmt.Sprintf("ev-%d", i), Type: events.TypePageView, SchemaVersion: 1, EventTime: base.Add(offsets[i-1])},
			Clickstream: events.Clickstream{SessionID: "s1"},
		}, true
	})
}

func TestRun_SpeedPacesByEventTime(t *testing.T) {
	base := time.Date(2019, 10, 1, 0, 0, 0, 0, time.UTC)
	var at []time.Duration
	start := time.Now()
	rec := &recorder{onProduce: func(int) { at = append(at, time.Since(start)) }}
	// 6 s of event time at 60x is 100 ms; BatchSize 1 timestamps each event.
	st, err := Run(t.Context(), timed(base, 0, 3*time.Second, 6*time.Second), rec, RunConfig{Speed: 60, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Produced != 3 || len(rec.all) != 3 {
		t.Fatalf("stats %+v", st)
	}
	if at[1] < 50*time.Millisecond || at[2] < 100*time.Millisecond {
		t.Errorf("published at %v; want the 2nd after 50ms and the 3rd after 100ms", at)
	}
}

func TestRun_SpeedZeroDoesNotWait(t *testing.T) {
	base := time.Date(2019, 10, 1, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	st, err := Run(ctx, timed(base, 0, time.Hour, 24*time.Hour), &recorder{}, RunConfig{})
	if err != nil || st.Produced != 3 {
		t.Fatalf("stats %+v, err %v", st, err)
	}
}

func TestRun_SpeedCancelledWhileWaitingDeliversTaken(t *testing.T) {
	base := time.Date(2019, 10, 1, 0, 0, 0, 0, time.UTC)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	rec := &recorder{}
	st, err := Run(ctx, timed(base, 0, time.Hour), rec, RunConfig{Speed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if st.Taken != 2 || st.Produced != 2 || len(rec.all) != 2 {
		t.Fatalf("stats %+v, recorded %d: taken events must still be published", st, len(rec.all))
	}
}

func TestRun_LiveSendsPastEventsAtOnceAndWaitsForLaterOnes(t *testing.T) {
	now := time.Now()
	var orders []events.OrderPlaced
	sim := NewSimulator(SimConfig{Seed: 9, Customers: 5, Products: 5})
	for _, at := range []time.Time{now.Add(-10 * time.Minute), now.Add(-5 * time.Minute), now.Add(300 * time.Millisecond)} {
		orders = append(orders, sim.Next(at))
	}
	var mu sync.Mutex
	var sentAt []time.Time
	pub := PublisherFunc(func(_ context.Context, evs ...events.Event) error {
		mu.Lock()
		defer mu.Unlock()
		for range evs {
			sentAt = append(sentAt, time.Now())
		}
		return nil
	})
	start := time.Now()
	st, err := Run(context.Background(), NewReplay(orders), pub, RunConfig{Speed: 1, Live: true, FlushInterval: time.Millisecond})
	if err != nil || st.Produced != 3 {
		t.Fatalf("run: %+v, %v", st, err)
	}
	if d := sentAt[1].Sub(start); d > 2*time.Second {
		t.Errorf("past events waited %s", d)
	}
	if d := sentAt[2].Sub(start); d < 250*time.Millisecond {
		t.Errorf("the event 300ms ahead was sent after %s", d)
	}
	if _, err := Run(context.Background(), NewReplay(orders), pub, RunConfig{Speed: 2, Live: true}); err == nil {
		t.Error("live pacing at speed 2 was accepted")
	}
}
