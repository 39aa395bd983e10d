package streaming_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

var logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

type totals struct{ orders, units, revenue int64 }

// expected computes per-minute totals from the events themselves, counting
// each event id once.
func expected(orders []events.OrderPlaced) map[time.Time]totals {
	seen := map[string]bool{}
	out := map[time.Time]totals{}
	for _, o := range orders {
		if seen[o.EventID] {
			continue
		}
		seen[o.EventID] = true
		m := o.EventTime.UTC().Truncate(time.Minute)
		t := out[m]
		t.orders++
		t.units += o.Units()
		t.revenue += o.TotalMinor
		out[m] = t
	}
	return out
}

func stored(t *testing.T, db *store.DB) map[time.Time]totals {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT minute, orders, units, revenue_minor FROM revenue_minute`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[time.Time]totals{}
	for rows.Next() {
		var m time.Time
		var tt totals
		if err := rows.Scan(&m, &tt.orders, &tt.units, &tt.revenue); err != nil {
			t.Fatal(err)
		}
		out[m.UTC()] = tt
	}
	return out
}

// consumeAll runs an orders consumer until the stored offsets reach the
// topic's end offsets, then stops it and requires a clean stop.
func consumeAll(t *testing.T, ctx context.Context, db *store.DB, cfg streaming.Config) {
	t.Helper()
	consumeWith(t, ctx, db, cfg, streaming.NewOrderSink(db, 0, logger))
}

// consumeWith runs a consumer with the sink until the stored offsets reach
// the topic's end offsets, then stops it and requires a clean stop.
func consumeWith(t *testing.T, ctx context.Context, db *store.DB, cfg streaming.Config, sink streaming.Sink) {
	t.Helper()
	c, err := streaming.NewSinkConsumer(cfg, db, sink, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	testenv.WaitCaughtUp(t, ctx, db, cfg.Brokers, cfg.Topic, len(cfg.Partitions))
	stop()
	if err := <-done; err != nil {
		t.Fatalf("consumer: %v", err)
	}
}

func TestConsumer_ExactTotalsDuplicatesAndDeadLetters(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	const partitions = 3
	topic := testenv.Topic(t, brokers, partitions)
	dlq := testenv.Topic(t, brokers, 1)

	sim := ingest.NewSimulator(ingest.SimConfig{Seed: 42, Customers: 50, Products: 20})
	base := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Minute)
	var orders []events.OrderPlaced
	for i := 0; i < 600; i++ {
		orders = append(orders, sim.Next(base.Add(time.Duration(i)*3*time.Second)))
	}
	orders = append(orders, orders[10], orders[200]) // producer retries: same event ids again

	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()
	if err := p.Produce(ctx, orders...); err != nil {
		t.Fatal(err)
	}
	poison := [][]byte{[]byte(`{"type":"order_placed"`), []byte("\xff\xfe"), []byte(`{"type":"order_placed","schema_version":1}`)}
	for _, b := range poison {
		if err := p.ProduceRaw(ctx, []byte("poison"), b); err != nil {
			t.Fatal(err)
		}
	}

	consumeAll(t, ctx, s.DB, streaming.Config{
		Brokers: brokers, Topic: topic, DLQTopic: dlq, Partitions: []int{0, 1, 2},
		BatchSize: 100, BatchWait: 50 * time.Millisecond, Owner: "test",
	})

	want, got := expected(orders), stored(t, s.DB)
	if len(want) != len(got) {
		t.Fatalf("minutes: want %d, got %d", len(want), len(got))
	}
	for m, w := range want {
		if got[m] != w {
			t.Errorf("minute %s: want %+v, got %+v", m.Format(time.RFC3339), w, got[m])
		}
	}
	var nOrders, nDead int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM dead_letters)`).Scan(&nOrders, &nDead); err != nil {
		t.Fatal(err)
	}
	// Accounting: events in = events applied + duplicates + dead letters.
	if nOrders != 600 || nDead != len(poison) {
		t.Fatalf("want 600 orders and %d dead letters, got %d and %d", len(poison), nOrders, nDead)
	}
	dlqEnd, err := streaming.EndOffsets(ctx, brokers, dlq, 1)
	if err != nil {
		t.Fatal(err)
	}
	if dlqEnd[0] != int64(len(poison)) {
		t.Fatalf("DLQ topic holds %d messages, want %d", dlqEnd[0], len(poison))
	}
}

func TestConsumer_StopsWhenAnotherOwnerMovesItsPartition(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	sim := ingest.NewSimulator(ingest.SimConfig{Seed: 1, Customers: 5, Products: 5})
	var evs []events.Event
	for i := 0; i < 3; i++ {
		o := sim.Next(time.Now())
		evs = append(evs, &o)
	}
	runStaleOwner(t, ctx, s.DB, brokers, streaming.NewOrderSink(s.DB, 0, logger), evs...)
	var n int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the stale owner stored %d orders (%v)", n, err)
	}
}

// runStaleOwner runs a consumer with sink as an owner that has gone stale:
// once it has loaded offset 0, a new owner moves the partition past it, then
// evs are produced. The stale consumer must stop with ErrFenced; the caller
// then checks that it stored nothing.
func runStaleOwner(t *testing.T, ctx context.Context, db *store.DB, brokers []string, sink streaming.Sink, evs ...events.Event) {
	t.Helper()
	topic := testenv.Topic(t, brokers, 1)
	dlq := testenv.Topic(t, brokers, 1)
	c, err := streaming.NewSinkConsumer(streaming.Config{
		Brokers: brokers, Topic: topic, DLQTopic: dlq, Partitions: []int{0},
		BatchSize: 10, BatchWait: 20 * time.Millisecond, IdleCheck: 50 * time.Millisecond, Owner: "zombie",
	}, db, sink, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	// Let the consumer load offset 0, then a new owner commits past it
	// (every topic kind shares the same fence).
	time.Sleep(300 * time.Millisecond)
	moved := store.BatchMeta{Topic: topic, Partition: 0, Start: 0, End: 5, Owner: "new"}
	if _, err := db.CommitBatch(ctx, moved, func(context.Context, pgx.Tx, time.Time) (store.BatchResult, error) {
		return store.BatchResult{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()
	produceEvents(t, ctx, p, evs...)
	select {
	case err := <-done:
		if !errors.Is(err, store.ErrFenced) {
			t.Fatalf("want ErrFenced, got %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the stale consumer kept running")
	}
}

func TestConsumer_CancellationsAppliedOtherTypesDeadLettered(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	topic := testenv.Topic(t, brokers, 1)
	dlq := testenv.Topic(t, brokers, 1)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)

	sim := ingest.NewSimulator(ingest.SimConfig{Seed: 3, Customers: 5, Products: 5})
	o := sim.Next(at)
	cancel := &events.OrderCancelled{
		Header:  events.Header{EventID: "cancel-1", Type: events.TypeOrderCancelled, SchemaVersion: 1, EventTime: at.Add(2 * time.Minute)},
		OrderID: o.OrderID, CustomerID: o.CustomerID, AmountMinor: o.TotalMinor, Currency: o.Currency, Reason: "customer_request",
	}
	view := &events.PageView{
		Header:      events.Header{EventID: "view-1", Type: events.TypePageView, SchemaVersion: 1, EventTime: at},
		Clickstream: events.Clickstream{SessionID: "s-1", Page: "/"},
	}
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()
	if err := p.Produce(ctx, o); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []events.Event{cancel, view} {
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceRaw(ctx, ev.Key(), b); err != nil {
			t.Fatal(err)
		}
	}
	consumeAll(t, ctx, s.DB, streaming.Config{
		Brokers: brokers, Topic: topic, DLQTopic: dlq, Partitions: []int{0},
		BatchSize: 10, BatchWait: 20 * time.Millisecond, Owner: "test",
	})
	var revenue, cancelled int64
	if err := s.DB.Pool.QueryRow(ctx, `SELECT sum(revenue_minor), sum(cancelled_minor) FROM revenue_minute`).Scan(&revenue, &cancelled); err != nil {
		t.Fatal(err)
	}
	if revenue != o.TotalMinor || cancelled != o.TotalMinor {
		t.Fatalf("revenue %d cancelled %d, want both %d", revenue, cancelled, o.TotalMinor)
	}
	var reason string
	if err := s.DB.Pool.QueryRow(ctx, `SELECT reason FROM dead_letters`).Scan(&reason); err != nil {
		t.Fatal(err)
	}
	if want := `event type "page_view" does not belong on topic`; !strings.Contains(reason, want) {
		t.Fatalf("dead letter reason %q, want it to say %q", reason, want)
	}
}
