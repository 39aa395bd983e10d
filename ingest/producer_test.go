package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoppulse/shoppulse/events"
)

// testBrokers returns the brokers of the real Kafka the tests run against,
// from SHOPPULSE_TEST_KAFKA_BROKERS (comma-separated host:port). Without it
// the test is skipped, unless SHOPPULSE_REQUIRE_SERVICES=1 makes that fatal.
func testBrokers(t *testing.T) []string {
	t.Helper()
	v := os.Getenv("SHOPPULSE_TEST_KAFKA_BROKERS")
	if v == "" {
		if os.Getenv("SHOPPULSE_REQUIRE_SERVICES") == "1" {
			t.Fatal("SHOPPULSE_TEST_KAFKA_BROKERS is not set and SHOPPULSE_REQUIRE_SERVICES=1")
		}
		t.Skip("SHOPPULSE_TEST_KAFKA_BROKERS is not set")
	}
	return strings.Split(v, ",")
}

var topicUnsafe = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// createTopic makes a fresh topic for this test, waits until its partitions
// have leaders, and deletes it when the test ends.
func createTopic(t *testing.T, brokers []string, partitions int) string {
	t.Helper()
	name := fmt.Sprintf("test.ingest.%s.%d", topicUnsafe.ReplaceAllString(t.Name(), "_"), time.Now().UnixNano())
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: name, NumPartitions: partitions, ReplicationFactor: 1}},
	})
	if err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	if err := resp.Errors[name]; err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{name}}); err != nil {
			t.Logf("delete topic %s: %v", name, err)
		}
	})
	for {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{name}})
		if err == nil && len(md.Topics) == 1 && md.Topics[0].Error == nil && len(md.Topics[0].Partitions) == partitions {
			ready := true
			for _, p := range md.Topics[0].Partitions {
				ready = ready && p.Error == nil && p.Leader.Host != ""
			}
			if ready {
				return name
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s has no leaders yet (last error %v)", name, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// javaMurmur2 is Apache Kafka's Utils.murmur2, written out again here so the
// test checks kafka-go's balancer against the Java client, not against itself.
func javaMurmur2(data []byte) int32 {
	const m, r = uint32(0x5bd1e995), 24
	h := uint32(0x9747b28c) ^ uint32(len(data))
	n := len(data) / 4 * 4
	for i := 0; i < n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h = h*m ^ k
	}
	switch len(data) % 4 {
	case 3:
		h ^= uint32(data[n+2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[n+1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[n])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// javaPartition is the Java client's default partition for a non-null key.
func javaPartition(key []byte, partitions int) int {
	return int(uint32(javaMurmur2(key))&0x7fffffff) % partitions
}

func TestJavaMurmur2Vectors(t *testing.T) {
	// From Apache Kafka's UtilsTest.testMurmur2.
	cases := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	}
	for in, want := range cases {
		if got := javaMurmur2([]byte(in)); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
	// kafka-go's balancer agrees with the Java client on our keys.
	for _, o := range simulate(SimConfig{Seed: 3}, 500) {
		got := kafka.Murmur2Balancer{}.Balance(kafka.Message{Key: o.Key()}, 0, 1, 2)
		if want := javaPartition(o.Key(), 3); got != want {
			t.Fatalf("key %s: kafka-go partition %d, Java %d", o.Key(), got, want)
		}
	}
}

// readAll reads partition p of topic from the start until want messages
// arrived or the deadline passed.
func readAll(t *testing.T, brokers []string, topic string, p, want int) []kafka.Message {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:   brokers,
		Topic:     topic,
		Partition: p,
		MinBytes:  1,
		MaxBytes:  10 << 20,
		MaxWait:   200 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(kafka.FirstOffset); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out []kafka.Message
	for len(out) < want {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			t.Fatalf("partition %d: read %d of %d messages: %v", p, len(out), want, err)
		}
		out = append(out, m)
	}
	return out
}

// endOffsets returns each partition's next offset.
func endOffsets(t *testing.T, brokers []string, topic string, partitions int) []int64 {
	t.Helper()
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	var req []kafka.OffsetRequest
	for p := range partitions {
		req = append(req, kafka.LastOffsetOf(p))
	}
	resp, err := client.ListOffsets(t.Context(), &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: req}})
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	out := make([]int64, partitions)
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			t.Fatalf("list offsets of partition %d: %v", po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out
}

func TestProducer_KeysLandOnTheJavaPartition(t *testing.T) {
	brokers := testBrokers(t)
	const partitions, n = 3, 1500
	topic := createTopic(t, brokers, partitions)

	p := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()
	orders := simulate(SimConfig{Seed: 11, Customers: 200}, n)
	for chunk := range slicesChunk(orders, 400) {
		if err := p.Produce(t.Context(), chunk...); err != nil {
			t.Fatal(err)
		}
	}
	poisonKey, poison := []byte("poison-customer"), []byte(`{"type":"order_placed","lines":"not a list"`)
	if err := p.ProduceRaw(t.Context(), poisonKey, poison); err != nil {
		t.Fatal(err)
	}

	want := make([]int, partitions)
	byEventID := map[string]events.OrderPlaced{}
	for _, o := range orders {
		want[javaPartition(o.Key(), partitions)]++
		byEventID[o.EventID] = o
	}
	poisonPart := javaPartition(poisonKey, partitions)
	want[poisonPart]++

	ends := endOffsets(t, brokers, topic, partitions)
	for part := range partitions {
		if ends[part] != int64(want[part]) {
			t.Errorf("partition %d holds %d messages, want %d", part, ends[part], want[part])
		}
	}
	seen, lastSeq := 0, map[string]int64{}
	for part := range partitions {
		for _, m := range readAll(t, brokers, topic, part, want[part]) {
			if got := javaPartition(m.Key, partitions); got != part {
				t.Errorf("key %s on partition %d, Java would pick %d", m.Key, part, got)
			}
			if string(m.Key) == string(poisonKey) {
				if string(m.Value) != string(poison) {
					t.Errorf("poison message changed: %q", m.Value)
				}
				continue
			}
			o, err := events.DecodeOrder(m.Value, time.Now())
			if err != nil {
				t.Fatalf("partition %d offset %d: %v", part, m.Offset, err)
			}
			sent, ok := byEventID[o.EventID]
			if !ok || sent.OrderID != o.OrderID || sent.TotalMinor != o.TotalMinor || string(m.Key) != sent.CustomerID {
				t.Fatalf("partition %d offset %d: unexpected or altered event %s", part, m.Offset, o.EventID)
			}
			delete(byEventID, o.EventID)
			if o.Seq != lastSeq[o.CustomerID]+1 {
				t.Errorf("customer %s: seq %d after %d, want per-key order kept", o.CustomerID, o.Seq, lastSeq[o.CustomerID])
			}
			lastSeq[o.CustomerID] = o.Seq
			seen++
		}
	}
	if seen != n || len(byEventID) != 0 {
		t.Errorf("read %d orders, %d never arrived; want all %d", seen, len(byEventID), n)
	}
}

// slicesChunk yields consecutive chunks of at most size elements.
func slicesChunk[T any](s []T, size int) func(func([]T) bool) {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			c := s[:min(size, len(s))]
			s = s[len(c):]
			if !yield(c) {
				return
			}
		}
	}
}

func TestRun_ToKafka(t *testing.T) {
	brokers := testBrokers(t)
	const partitions, n = 3, 5000
	topic := createTopic(t, brokers, partitions)
	p := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()

	var progress strings.Builder
	st, err := Run(t.Context(), NewSimulator(SimConfig{Seed: 5}).Source(), p, RunConfig{Count: n, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(strings.TrimSpace(progress.String()))
	if st.Produced != n || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	var total int64
	for _, e := range endOffsets(t, brokers, topic, partitions) {
		total += e
	}
	if total != n {
		t.Errorf("topic holds %d messages, want %d", total, n)
	}
}

func TestProducer_DoesNotCreateTopics(t *testing.T) {
	brokers := testBrokers(t)
	topic := fmt.Sprintf("test.ingest.missing.%d", time.Now().UnixNano())
	p := NewProducer(ProducerConfig{Brokers: brokers, Topic: topic, MaxAttempts: 2, WriteTimeout: 2 * time.Second})
	defer p.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err := p.Produce(ctx, simulate(SimConfig{Seed: 1}, 1)...)
	if err == nil {
		t.Fatal("produce to a missing topic succeeded")
	}
	t.Logf("produce to a missing topic: %v", err)
	client := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 10 * time.Second}
	md, err := client.Metadata(t.Context(), &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	if len(md.Topics) == 1 && md.Topics[0].Error == nil {
		t.Errorf("the producer created topic %s", topic)
		client.DeleteTopics(t.Context(), &kafka.DeleteTopicsRequest{Topics: []string{topic}})
	}
}

func TestProducer_InvalidConfig(t *testing.T) {
	for _, cfg := range []ProducerConfig{
		{Topic: "t"},
		{Brokers: []string{"127.0.0.1:1"}},
		{Brokers: []string{""}, Topic: "t"},
		{Brokers: []string{"127.0.0.1:1"}, Topic: "t", BatchSize: -1},
	} {
		p := NewProducer(cfg)
		if err := p.Produce(t.Context(), simulate(SimConfig{Seed: 1}, 1)...); err == nil {
			t.Errorf("config %+v: produce succeeded", cfg)
		}
		if err := p.ProduceRaw(t.Context(), nil, []byte("x")); err == nil {
			t.Errorf("config %+v: produce raw succeeded", cfg)
		}
		if err := p.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}
	if err := errors.Unwrap(NewProducer(ProducerConfig{}).Produce(t.Context())); err == nil {
		t.Error("an empty config should fail even for no orders")
	}
}

func TestProducer_PublishRoutesEachTypeToItsTopicByItsKey(t *testing.T) {
	brokers := testBrokers(t)
	orders, clicks, payments := createTopic(t, brokers, 1), createTopic(t, brokers, 1), createTopic(t, brokers, 1)
	p := NewProducer(ProducerConfig{Brokers: brokers, TopicMap: map[string]string{
		events.TopicOrders: orders, events.TopicClickstream: clicks, events.TopicPayments: payments,
	}})
	defer p.Close()
	at := time.Date(2019, 10, 1, 0, 0, 0, 0, time.UTC)
	view := events.ProductView{
		Header:      events.Header{EventID: "v1", Type: events.TypeProductView, SchemaVersion: 1, EventTime: at},
		Clickstream: events.Clickstream{SessionID: "session-1", CustomerID: "c1"},
		ProductID:   "p1", PriceMinor: 100, Currency: "USD",
	}
	refund := events.Refund{
		Header:   events.Header{EventID: "r1", Type: events.TypeRefund, SchemaVersion: 1, EventTime: at},
		RefundID: "C1", OrderID: "C1", CustomerID: "c9", AmountMinor: 5, Currency: "GBP",
	}
	order := simulate(SimConfig{Seed: 2}, 1)[0]
	if err := p.Publish(t.Context(), view, refund, order); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		topic string
		ev    events.Event
	}{
		{"clickstream by session", clicks, view},
		{"payments by customer", payments, refund},
		{"orders by customer", orders, order},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := readAll(t, brokers, tt.topic, 0, 1)
			want, err := events.Encode(tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if string(msgs[0].Key) != string(tt.ev.Key()) || string(msgs[0].Value) != string(want) {
				t.Errorf("got key %q value %s; want key %q value %s", msgs[0].Key, msgs[0].Value, tt.ev.Key(), want)
			}
			if got := p.TopicOf(tt.ev); got != tt.topic {
				t.Errorf("TopicOf = %s, want %s", got, tt.topic)
			}
		})
	}
	if got := NewProducer(ProducerConfig{Brokers: brokers, Topic: "override"}).TopicOf(view); got != "override" {
		t.Errorf("Topic does not override: %s", got)
	}
	if got := NewProducer(ProducerConfig{Brokers: brokers}).TopicOf(refund); got != events.TopicPayments {
		t.Errorf("without a map a refund goes to %s", got)
	}
}

func TestProducer_PublishRawNeedsATopic(t *testing.T) {
	p := NewProducer(ProducerConfig{Brokers: []string{"127.0.0.1:1"}})
	if err := p.PublishRaw(t.Context(), RawMessage{Value: []byte("x")}); err == nil {
		t.Error("PublishRaw without a topic: no error")
	}
	if err := p.ProduceRaw(t.Context(), nil, []byte("x")); err == nil {
		t.Error("ProduceRaw without a config Topic: no error")
	}
}
