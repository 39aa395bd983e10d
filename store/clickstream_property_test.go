package store_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// TestSessions_AnyArrivalOrderAndBatchingGiveTheSessionsOfTheWholeSet sends
// random clickstreams (a few session ids over a day boundary, gaps drawn
// around the 30-minute cut, exactly 30 minutes included) in a random order
// and random batches, then requires the stored sessions and the sessions
// started per minute to equal those cut from the whole set of events in Go.
// A batch rebuilds a session id only from the earliest stored session that
// ends within the gap of its new events, so this checks that bound: late
// events that merge, split or extend sessions far back, across daily
// partitions.
func TestSessions_AnyArrivalOrderAndBatchingGiveTheSessionsOfTheWholeSet(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	const topic = "clicks"
	if err := s.DB.InitOffsets(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	base := time.Now().UTC().AddDate(0, 0, -3).Truncate(24 * time.Hour).Add(20 * time.Hour)
	gaps := []time.Duration{time.Second, 5 * time.Minute, 29*time.Minute + 59*time.Second, 30 * time.Minute,
		30*time.Minute + time.Second, 45 * time.Minute, 3 * time.Hour}
	var all []store.ClickEvent
	for seed := range 8 {
		rng := rand.New(rand.NewPCG(uint64(seed), 99))
		for id := range 4 {
			sid := fmt.Sprintf("s%d-%d", seed, id)
			at := base.Add(time.Duration(rng.IntN(120)) * time.Minute)
			for n := range 5 + rng.IntN(25) {
				all = append(all, store.ClickEvent{EventID: fmt.Sprintf("%s-e%d", sid, n), Type: "page_view",
					EventTime: at, SessionID: sid, Page: fmt.Sprintf("/p%d", n)})
				at = at.Add(gaps[rng.IntN(len(gaps))])
			}
		}
	}
	// Expected: per session id, events by time (then id) cut where two
	// neighbours are more than the gap apart.
	type sess struct {
		id         string
		start, end time.Time
		events     int64
	}
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b store.ClickEvent) int {
		if c := strings.Compare(a.SessionID, b.SessionID); c != 0 {
			return c
		}
		if c := a.EventTime.Compare(b.EventTime); c != 0 {
			return c
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	var want []sess
	for i, e := range sorted {
		if i == 0 || e.SessionID != sorted[i-1].SessionID || e.EventTime.Sub(sorted[i-1].EventTime) > store.DefaultSessionGap {
			want = append(want, sess{id: e.SessionID, start: e.EventTime, end: e.EventTime})
		}
		w := &want[len(want)-1]
		w.end, w.events = e.EventTime, w.events+1
	}

	// Arrival: shuffled, in batches of 1 to 12, each event sent twice
	// somewhere (a repeat is stored once).
	rng := rand.New(rand.NewPCG(1, 2))
	log := append(slices.Clone(all), all[:len(all)/3]...)
	rng.Shuffle(len(log), func(i, j int) { log[i], log[j] = log[j], log[i] })
	for start := 0; start < len(log); {
		end := min(len(log), start+1+rng.IntN(12))
		batch := store.ClickstreamBatch{BatchMeta: store.BatchMeta{Topic: topic, Start: int64(start), End: int64(end), Owner: "t"}}
		for i := start; i < end; i++ {
			e := log[i]
			e.Offset = int64(i)
			batch.Events = append(batch.Events, e)
		}
		if _, err := s.DB.CommitClickstreamBatch(ctx, batch); err != nil {
			t.Fatal(err)
		}
		start = end
	}

	got, err := s.DB.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var have []sess
	for _, g := range got {
		have = append(have, sess{id: g.SessionID, start: g.StartedAt.UTC(), end: g.EndedAt.UTC(), events: g.Events})
	}
	slices.SortFunc(have, func(a, b sess) int {
		if c := strings.Compare(a.id, b.id); c != 0 {
			return c
		}
		return a.start.Compare(b.start)
	})
	if len(have) != len(want) {
		t.Fatalf("%d sessions stored, %d in the whole set", len(have), len(want))
	}
	for i := range want {
		if have[i] != want[i] {
			t.Errorf("session %d: stored %+v, want %+v", i, have[i], want[i])
		}
	}

	// sessions_started per minute agrees with the sessions.
	starts := map[time.Time]int64{}
	for _, w := range want {
		starts[w.start.Truncate(time.Minute)]++
	}
	rows, err := s.DB.Pool.Query(ctx, `SELECT minute, sessions_started FROM traffic_minute WHERE sessions_started <> 0`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var m time.Time
		var c int64
		if err := rows.Scan(&m, &c); err != nil {
			t.Fatal(err)
		}
		n++
		if starts[m.UTC()] != c {
			t.Errorf("minute %s: %d sessions started, want %d", m.UTC(), c, starts[m.UTC()])
		}
	}
	if n != len(starts) {
		t.Errorf("%d minutes with sessions started, want %d", n, len(starts))
	}
}
