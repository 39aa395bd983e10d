package streaming_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

// roundRobin spreads partitions 0..n-1 over k sets as the supervisor does
// (workflows.SplitPartitions; streaming stays free of Temporal).
func roundRobin(n, k int) [][]int {
	sets := make([][]int, min(n, k))
	for p := 0; p < n; p++ {
		sets[p%len(sets)] = append(sets[p%len(sets)], p)
	}
	return sets
}

// runConsumers runs one orders consumer per partition set, as the
// supervisor's activities would, and returns a function that stops them and
// returns their errors. Like ConsumePartitions under Temporal's retry policy,
// a consumer that is fenced starts again from the stored offsets (a fenced
// consumer stops all its partitions, so without the retry a partition shared
// by two fenced owners would be left with none). A consumer that was fenced
// at least once reports store.ErrFenced when stopped.
func runConsumers(t *testing.T, ctx context.Context, db *store.DB, base streaming.Config, sets [][]int) func() []error {
	t.Helper()
	ctx, stop := context.WithCancel(ctx)
	done := make(chan error, len(sets))
	for i, set := range sets {
		cfg := base
		cfg.Partitions = set
		start := func(attempt int) (*streaming.Consumer, error) {
			cfg.Owner = fmt.Sprintf("%s#%d.%d", base.Owner, i, attempt)
			return streaming.NewConsumer(cfg, db, nil, logger)
		}
		c, err := start(1)
		if err != nil {
			stop()
			t.Fatal(err)
		}
		go func() {
			var fenced error
			for attempt := 2; ; attempt++ {
				err := c.Run(ctx)
				if !errors.Is(err, store.ErrFenced) || ctx.Err() != nil {
					done <- cmp.Or(err, fenced)
					return
				}
				fenced = err
				select {
				case <-ctx.Done():
					done <- fenced
					return
				case <-time.After(50 * time.Millisecond):
				}
				if c, err = start(attempt); err != nil {
					done <- err
					return
				}
			}
		}()
	}
	return func() []error {
		stop()
		errs := make([]error, len(sets))
		for i := range errs {
			errs[i] = <-done
		}
		return errs
	}
}

// TestConsumers_ReassignedToOtherCountsThroughTheFence changes the number of
// consumers twice, as the supervisor does on SignalSetConsumers: 2 -> 3
// with the old owners still running (the worst case: a drain that has not
// finished, or a zombie), then 3 -> 1 after a clean stop. The fence lets one
// owner commit each batch, so the totals are exact and every old owner
// either stopped cleanly or was fenced.
func TestConsumers_ReassignedToOtherCountsThroughTheFence(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, 3*time.Minute)
	const partitions = 4
	topic := testenv.Topic(t, brokers, partitions)
	dlq := testenv.Topic(t, brokers, 1)
	if err := s.DB.InitOffsets(ctx, topic, partitions); err != nil {
		t.Fatal(err)
	}
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()
	sim := ingest.NewSimulator(ingest.SimConfig{Seed: 9, Customers: 200, Products: 50})
	// 4,000 orders a second apart: start two hours back so the last stays
	// well behind now (an event more than 5 minutes ahead is a dead letter).
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
	var orders []events.OrderPlaced
	produce := func(n int) {
		batch := make([]events.OrderPlaced, n)
		for i := range batch {
			batch[i] = sim.Next(base.Add(time.Duration(len(orders)+i) * time.Second))
		}
		orders = append(orders, batch...)
		if err := p.Produce(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}
	cfg := streaming.Config{Brokers: brokers, Topic: topic, DLQTopic: dlq, BatchSize: 50, BatchWait: 20 * time.Millisecond,
		IdleCheck: 50 * time.Millisecond}

	produce(1500)
	cfg.Owner = "two"
	stopTwo := runConsumers(t, ctx, s.DB, cfg, roundRobin(partitions, 2))
	time.Sleep(200 * time.Millisecond)
	cfg.Owner = "three"
	stopThree := runConsumers(t, ctx, s.DB, cfg, roundRobin(partitions, 3))
	produce(1500)
	testenv.WaitCaughtUp(t, ctx, s.DB, brokers, topic, partitions)
	for _, err := range append(stopTwo(), stopThree()...) {
		if err != nil && !errors.Is(err, store.ErrFenced) {
			t.Fatalf("an owner failed other than by the fence: %v", err)
		}
	}

	produce(1000)
	cfg.Owner = "one"
	stopOne := runConsumers(t, ctx, s.DB, cfg, roundRobin(partitions, 1))
	testenv.WaitCaughtUp(t, ctx, s.DB, brokers, topic, partitions)
	for _, err := range stopOne() {
		if err != nil {
			t.Fatalf("the single owner: %v", err)
		}
	}

	want, got := expected(orders), stored(t, s.DB)
	if len(want) != len(got) {
		t.Fatalf("minutes: want %d, got %d", len(want), len(got))
	}
	for m, w := range want {
		if got[m] != w {
			t.Errorf("minute %s: want %+v, got %+v", m.Format(time.RFC3339), w, got[m])
		}
	}
	var n, scores int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM fraud_scores)`).Scan(&n, &scores); err != nil {
		t.Fatal(err)
	}
	if n != len(orders) || scores != len(orders) {
		t.Fatalf("want %d orders and scores, got %d and %d", len(orders), n, scores)
	}
}
