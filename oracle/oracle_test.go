package oracle_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/oracle"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

const partitions = 3

// pipeline is the four hot-path topics of one test, consumed into a fresh
// schema.
type pipeline struct {
	db      *store.DB
	brokers []string
	topics  oracle.Topics
	dlq     string
}

func newPipeline(t *testing.T) pipeline {
	brokers := testenv.Brokers(t)
	return pipeline{
		db:      testenv.DB(t).DB,
		brokers: brokers,
		topics: oracle.Topics{
			Orders:      testenv.Topic(t, brokers, partitions),
			Inventory:   testenv.Topic(t, brokers, partitions),
			Clickstream: testenv.Topic(t, brokers, partitions),
			Payments:    testenv.Topic(t, brokers, partitions),
		},
		dlq: testenv.Topic(t, brokers, 1),
	}
}

// publish sends a simulated shop's events of the four topics, some twice
// (an at-least-once producer's retries), and poison messages.
func (p pipeline) publish(t *testing.T, ctx context.Context, n int) {
	prod := ingest.NewProducer(ingest.ProducerConfig{Brokers: p.brokers, TopicMap: map[string]string{
		events.TopicOrders: p.topics.Orders, events.TopicInventory: p.topics.Inventory,
		events.TopicClickstream: p.topics.Clickstream, events.TopicPayments: p.topics.Payments,
	}})
	defer prod.Close()
	shop := ingest.NewShop(ingest.ShopConfig{Seed: 7, Start: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), EventsPerSecond: 20})
	var batch []events.Event
	for i := 0; len(batch) < n; i++ {
		ev, ok := shop.Next()
		if !ok {
			break
		}
		switch ev.Topic() {
		case events.TopicOrders, events.TopicInventory, events.TopicClickstream, events.TopicPayments:
			batch = append(batch, ev)
			if i%50 == 0 {
				batch = append(batch, ev) // a repeat
			}
		}
	}
	if err := prod.Publish(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	valid, err := events.Encode(batch[0])
	if err != nil {
		t.Fatal(err)
	}
	poison := []ingest.RawMessage{
		{Topic: p.topics.Orders, Value: []byte(`{"not json`)},
		{Topic: p.topics.Payments, Value: []byte("\xff\xfe")},
		{Topic: p.topics.Inventory, Value: []byte(`{"type":"order_placed"}`)},
		{Topic: p.topics.Clickstream, Value: valid}, // valid, on the wrong topic unless it is a click
	}
	if err := prod.PublishRaw(ctx, poison...); err != nil {
		t.Fatal(err)
	}
}

// consume runs the four sinks until every partition is at the log's end.
func (p pipeline) consume(t *testing.T, ctx context.Context) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sinks := map[string]streaming.Sink{
		p.topics.Orders:      streaming.NewOrderSink(p.db, 0, log),
		p.topics.Inventory:   streaming.InventorySink{DB: p.db, DefaultReorderPoint: 10},
		p.topics.Clickstream: streaming.ClickstreamSink{DB: p.db},
		p.topics.Payments:    streaming.PaymentsSink{DB: p.db},
	}
	stops := map[string]func() error{}
	for topic, sink := range sinks {
		cfg := streaming.Config{Brokers: p.brokers, Topic: topic, DLQTopic: p.dlq, Partitions: []int{0, 1, 2},
			BatchSize: 500, BatchWait: 50 * time.Millisecond, Owner: "oracle-test"}
		c, err := streaming.NewSinkConsumer(cfg, p.db, sink, nil, log)
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- c.Run(runCtx) }()
		stops[topic] = func() error { stop(); return <-done }
	}
	for topic, stop := range stops {
		end, err := streaming.EndOffsets(ctx, p.brokers, topic, partitions)
		if err != nil {
			t.Fatal(err)
		}
		for caughtUp := false; !caughtUp; {
			states, err := p.db.Offsets(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			caughtUp = len(states) == partitions
			for _, s := range states {
				caughtUp = caughtUp && s.NextOffset == end[s.Partition]
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s never caught up: %+v, want %v", topic, states, end)
			case <-time.After(50 * time.Millisecond):
			}
		}
		if err := stop(); err != nil {
			t.Fatalf("consumer of %s: %v", topic, err)
		}
	}
}

func TestOracleAgreesWithThePipelineAndNamesEveryTamperedRow(t *testing.T) {
	ctx := testenv.Context(t, 4*time.Minute)
	p := newPipeline(t)
	p.publish(t, ctx, 10000)
	p.consume(t, ctx)

	cfg := oracle.Config{Brokers: p.brokers, Topics: p.topics}
	rep, err := oracle.Check(ctx, cfg, p.db)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	rep.Write(&sb)
	if !rep.OK() {
		t.Fatalf("the oracle disagrees with an untouched pipeline:\n%s", sb.String())
	}
	var in, applied, repeats, dead int64
	for _, tc := range rep.Topics {
		if tc.Messages != tc.Applied+tc.Repeats+tc.DeadLetters {
			t.Errorf("accounting of %s does not add up: %+v", tc.Topic, tc)
		}
		in, applied, repeats, dead = in+tc.Messages, applied+tc.Applied, repeats+tc.Repeats, dead+tc.DeadLetters
	}
	if in < 10000 || rep.Topics[0].Applied < 20 || repeats == 0 || dead < 3 || rep.Compared < 100 {
		t.Fatalf("the run did not exercise the oracle: in %d applied %d repeats %d dead %d compared %d\n%s",
			in, applied, repeats, dead, rep.Compared, sb.String())
	}
	t.Logf("untouched:\n%s", sb.String())

	// Now break the database in ways the pipeline could, and require the
	// oracle to name each one.
	tamper := []struct{ sql, check string }{
		{`UPDATE revenue_minute SET revenue_minor = revenue_minor + 1 WHERE minute = (SELECT min(minute) FROM revenue_minute)`, "revenue_minute"},
		{`UPDATE traffic_minute SET page_views = page_views + 1 WHERE minute = (SELECT max(minute) FROM traffic_minute)`, "traffic_minute"},
		{`UPDATE stock_levels SET on_hand = on_hand - 1 WHERE (product_id, warehouse_id) = (SELECT product_id, warehouse_id FROM stock_levels ORDER BY 1, 2 LIMIT 1)`, "stock_levels"},
		{`UPDATE payments_minute SET failed = failed + 1 WHERE minute = (SELECT min(minute) FROM payments_minute)`, "payments_minute"},
		{`DELETE FROM dead_letters WHERE kafka_offset = (SELECT max(kafka_offset) FROM dead_letters WHERE topic = '` + p.topics.Orders + `') AND topic = '` + p.topics.Orders + `'`, "dead_letters"},
		{`DELETE FROM click_sessions WHERE session_key = (SELECT min(session_key) FROM click_sessions)`, "click_sessions"},
		{`UPDATE stream_offsets SET next_offset = next_offset - 1 WHERE topic = '` + p.topics.Payments + `' AND partition = 0`, "stream_offsets"},
	}
	for _, tm := range tamper {
		tag, err := p.db.Pool.Exec(ctx, tm.sql)
		if err != nil {
			t.Fatalf("%s: %v", tm.sql, err)
		}
		if tag.RowsAffected() != 1 {
			t.Fatalf("%s changed %d rows, want 1", tm.sql, tag.RowsAffected())
		}
	}
	rep, err = oracle.Check(ctx, cfg, p.db)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]int{}
	for _, d := range rep.Differences {
		named[d.Check]++
	}
	for _, tm := range tamper {
		if named[tm.check] == 0 {
			sb.Reset()
			rep.Write(&sb)
			t.Errorf("the oracle did not name the tampered %s:\n%s", tm.check, sb.String())
		}
	}
	// One changed row is one difference, except the deleted session, whose
	// start also leaves traffic_minute's sessions_started.
	if named["revenue_minute"] != 1 || named["stock_levels"] != 1 || named["payments_minute"] != 1 ||
		named["dead_letters"] != 1 || named["stream_offsets"] != 1 || named["click_sessions"] != 1 {
		t.Errorf("differences by check: %v, want one per tampered row", named)
	}
}
