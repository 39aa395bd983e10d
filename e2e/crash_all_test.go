package e2e

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

// volatileColumns are set from the clock or the run (when a row was written,
// by whom, its serial id), not from the events: they are left out when two
// runs are compared row for row.
var volatileColumns = map[string]bool{
	"ingested_at": true, "updated_at": true, "scored_at": true, "received_at": true, "created_at": true,
	"computed_at": true, "caught_up_at": true, "owner": true, "id": true, "delivered_at": true,
}

// TestEndToEnd_AllTopicsKilledMidStreamSameRowsAsUninterrupted produces the
// simulated shop's traffic on every topic, SIGKILLs the worker mid-stream,
// restarts it, and requires every hot-path table to hold exactly the rows
// an uninterrupted run (the same sinks in process, with other batch sizes)
// stores: facts, minute aggregates by every dimension, sessions, stock,
// fraud scores with their features, alerts, customers, prices and offsets.
//
// The orders topic has one partition here: a card, IP or device used from
// several order partitions sees the other partitions' orders as far as
// they were committed when its batch ran (store.FraudFeatures), the one
// figure that depends on timing by design. Every other topic has four.
func TestEndToEnd_AllTopicsKilledMidStreamSameRowsAsUninterrupted(t *testing.T) {
	h := newHarnessWith(t, 1)
	ctx := testenv.Context(t, 6*time.Minute)
	topics := map[string]string{
		events.TopicOrders: h.topic, events.TopicClickstream: h.clkTopic, events.TopicPayments: h.payTopic,
		events.TopicInventory: h.invTopic, events.TopicMarket: h.mktTopic, events.TopicCustomers: h.cusTopic,
	}
	// A few simulated hours from a day ago (never in the future, whatever
	// the hour's traffic): sessions complete, orders are paid, some
	// cancelled and refunded.
	shop := ingest.NewShop(ingest.ShopConfig{Seed: 5, Start: time.Now().UTC().Add(-24 * time.Hour), EventsPerSecond: 1,
		Customers: 300, Products: 60})
	var evs []events.Event
	for len(evs) < 7000 {
		ev, ok := shop.Next()
		if !ok {
			t.Fatal("the shop ended")
		}
		evs = append(evs, ev)
	}
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: h.brokers, TopicMap: topics})
	defer p.Close()
	// The shared broker may move leaders under load: messages that failed
	// are sent again (an event sent twice is stored once, in both runs).
	publish := func(evs []events.Event) {
		for attempt := 0; len(evs) > 0; attempt++ {
			err := p.Publish(ctx, evs...)
			var werrs kafka.WriteErrors
			switch {
			case err == nil:
				return
			case attempt == 5 || !errors.As(err, &werrs):
				t.Fatal(err)
			}
			var again []events.Event
			for i, e := range werrs {
				if e != nil {
					again = append(again, evs[i])
				}
			}
			evs = again
			time.Sleep(time.Second)
		}
	}
	publish(evs[:4500])

	killedAt := h.killAfter(ctx, h.startWorker(), 500, func() int64 {
		var n int64
		if err := h.schema.DB.Pool.QueryRow(ctx, `SELECT coalesce(sum(next_offset), 0) FROM stream_offsets`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	})
	if killedAt >= 4500 {
		t.Fatalf("the worker had consumed everything (%d) before the kill; the test proves nothing", killedAt)
	}
	t.Logf("killed the worker after %d of 4500 events", killedAt)
	publish(evs[4500:])
	h.startWorker()
	for catalogue, topic := range topics {
		n := partitions
		if catalogue == events.TopicOrders {
			n = 1
		}
		h.waitForTopicEndN(ctx, topic, n)
	}

	// The uninterrupted run: the worker's sinks, in process, other batches.
	ref := testenv.DB(t)
	stream := &activities.Stream{DB: ref.DB, InventoryTopic: h.invTopic, ClickstreamTopic: h.clkTopic,
		PaymentsTopic: h.payTopic, MarketTopic: h.mktTopic, CustomersTopic: h.cusTopic,
		SessionGap: 30 * time.Minute, DefaultReorderPoint: 10, FraudAlertThreshold: 0.8}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	refCtx, stop := context.WithCancel(ctx)
	done := make(chan error, len(topics))
	for catalogue, topic := range topics {
		set := []int{0, 1, 2, 3}
		if catalogue == events.TopicOrders {
			set = []int{0}
		}
		c, err := streaming.NewSinkConsumer(streaming.Config{Brokers: h.brokers, Topic: topic, DLQTopic: testenv.Name("e2e.refdlq"),
			Partitions: set, BatchSize: 300, BatchWait: 50 * time.Millisecond, Owner: "reference"}, ref.DB, stream.SinkFor(topic), nil, log)
		if err != nil {
			t.Fatal(err)
		}
		go func() { done <- c.Run(refCtx) }()
	}
	for catalogue, topic := range topics {
		n := partitions
		if catalogue == events.TopicOrders {
			n = 1
		}
		testenv.WaitCaughtUp(t, ctx, ref.DB, h.brokers, topic, n)
	}
	stop()
	for range topics {
		if err := <-done; err != nil {
			t.Fatalf("reference consumer: %v", err)
		}
	}

	tables := hotPathTables(t, ctx, h.schema.DB, h.schema.Name)
	for _, want := range []string{"orders", "order_lines", "revenue_minute", "revenue_minute_dim", "fraud_scores",
		"clickstream_events", "click_sessions", "traffic_minute", "session_purchases", "payments", "payments_minute",
		"inventory_movements", "stock_levels", "competitor_prices", "competitor_prices_latest", "customers",
		"customer_events", "stream_offsets"} {
		var n int
		if err := h.schema.DB.Pool.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{want}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("%s is empty: the traffic does not exercise it", want)
		}
	}
	for _, table := range tables {
		cols := comparableColumns(t, ctx, h.schema.DB, h.schema.Name, table)
		if len(cols) == 0 {
			continue
		}
		list := strings.Join(cols, ", ")
		a := pgx.Identifier{h.schema.Name, table}.Sanitize()
		b := pgx.Identifier{ref.Name, table}.Sanitize()
		var onlyCrashed, onlyRef, rows int
		q := fmt.Sprintf(`SELECT (SELECT count(*) FROM (SELECT %[1]s FROM %[2]s EXCEPT ALL SELECT %[1]s FROM %[3]s) x),
		                         (SELECT count(*) FROM (SELECT %[1]s FROM %[3]s EXCEPT ALL SELECT %[1]s FROM %[2]s) y),
		                         (SELECT count(*) FROM %[2]s)`, list, a, b)
		if err := h.schema.DB.Pool.QueryRow(ctx, q).Scan(&onlyCrashed, &onlyRef, &rows); err != nil {
			t.Fatalf("compare %s: %v", table, err)
		}
		if onlyCrashed+onlyRef > 0 {
			t.Errorf("%s: %d rows only after the crash, %d only in the uninterrupted run (of %d)", table, onlyCrashed, onlyRef, rows)
		}
	}
}

// hotPathTables lists the schema's tables (partitioned parents, not their
// partitions), but the migration bookkeeping.
func hotPathTables(t *testing.T, ctx context.Context, db *store.DB, schema string) []string {
	t.Helper()
	rows, err := db.Pool.Query(ctx, `
		SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> 'goose_db_version'
		 ORDER BY c.relname`, schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// comparableColumns lists a table's columns but the volatile ones, quoted.
func comparableColumns(t *testing.T, ctx context.Context, db *store.DB, schema, table string) []string {
	t.Helper()
	rows, err := db.Pool.Query(ctx, `
		SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2
		 ORDER BY ordinal_position`, schema, table)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if !volatileColumns[n] {
			out = append(out, pgx.Identifier{n}.Sanitize())
		}
	}
	return out
}
