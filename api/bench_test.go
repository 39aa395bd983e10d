package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
)

// benchBatch is the batch size of the target (events per request).
const benchBatch = 100

// benchBody returns a JSON array of n valid order_placed events with ids
// unique to prefix and seq.
func benchBody(prefix string, seq int64, n int, at time.Time) []byte {
	var b bytes.Buffer
	b.Grow(n * 330)
	b.WriteByte('[')
	ts := at.UTC().Format(time.RFC3339Nano)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		id := prefix + "-" + strconv.FormatInt(seq, 10) + "-" + strconv.Itoa(i)
		fmt.Fprintf(&b, `{"id":%q,"type":"order_placed","source":"bench","time":%q,"schema_version":1,"shop_id":"shop-1",`+
			`"data":{"order_id":"o-%s","customer_id":"c-%d","country":"GB","currency":"GBP","channel":"web",`+
			`"lines":[{"product_id":"p-1","quantity":2,"unit_price_minor":250}],"total_minor":500}}`, id, ts, id, (seq*benchBatch+int64(i))%5000)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// BenchmarkIngestAPI posts batches of 100 valid order_placed events to a
// real server on loopback, backed by the real Postgres and Kafka. One op is
// one batch; events/s is the figure of the target.
//
//	go test ./api/ -run '^$' -bench 'IngestAPI|Producer' -benchtime 20000x
func BenchmarkIngestAPI(b *testing.B) {
	for _, linger := range []time.Duration{200 * time.Microsecond, time.Millisecond, 5 * time.Millisecond} {
		b.Run("linger="+linger.String(), func(b *testing.B) {
			a := newTestAPI(b, Config{ProduceBatchTimeout: linger, RateLimit: -1}) // default MaxInFlight (64) > 32 clients
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}
			prefix := testenv.Name("bench")
			var seq atomic.Int64
			now := time.Now()
			var failed atomic.Int64
			b.SetParallelism(16) // 16 x GOMAXPROCS concurrent clients
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					body := benchBody(prefix, seq.Add(1), benchBatch, now)
					req, _ := http.NewRequest(http.MethodPost, a.URL+"/v1/events", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Authorization", "Bearer "+a.Key)
					resp, err := client.Do(req)
					if err != nil {
						failed.Add(1)
						continue
					}
					var res IngestResponse
					_ = jsonDecode(resp, &res)
					if resp.StatusCode != http.StatusOK || res.Accepted != benchBatch {
						failed.Add(1)
					}
				}
			})
			el := time.Since(start)
			b.ReportMetric(float64(b.N*benchBatch)/el.Seconds(), "events/s")
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d batches failed", n, b.N)
			}
		})
	}
}

// BenchmarkProducerBaseline is the same-run baseline: the same kafka.Writer
// settings writing the same batches of 100 pre-encoded events directly, with
// no HTTP, validation or Postgres.
func BenchmarkProducerBaseline(b *testing.B) {
	brokers := testenv.Brokers(b)
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Balancer: kafka.Murmur2Balancer{}, RequiredAcks: kafka.RequireAll,
		BatchSize: DefaultProduceBatchSize, BatchTimeout: time.Millisecond, BatchBytes: 64 << 20}
	defer w.Close()
	topic := testenv.Topic(b, brokers, 3)
	prefix := testenv.Name("base")
	var seq atomic.Int64
	now := time.Now()
	b.SetParallelism(16)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s := seq.Add(1)
			msgs := make([]kafka.Message, benchBatch)
			for i := range msgs {
				ev := events.OrderPlaced{Header: events.Header{EventID: fmt.Sprintf("%s-%d-%d", prefix, s, i), Type: events.TypeOrderPlaced,
					EventTime: now, SchemaVersion: 1}, OrderID: "o", CustomerID: "c-" + strconv.Itoa(i), Country: "GB", Currency: "GBP",
					Channel: "web", Lines: []events.OrderLine{{ProductID: "p-1", Quantity: 2, UnitPriceMinor: 250}}, TotalMinor: 500}
				v, _ := events.Encode(ev)
				msgs[i] = kafka.Message{Topic: topic, Key: ev.Key(), Value: v}
			}
			if err := w.WriteMessages(context.Background(), msgs...); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*benchBatch)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkDecodeBatch is the CPU cost the API cannot avoid per batch:
// splitting the body and events.Decode of each of its 100 events.
func BenchmarkDecodeBatch(b *testing.B) {
	body := benchBody("dec", 1, benchBatch, time.Now())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		raws, err := readJSONArray(bytes.NewReader(body), benchBatch)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for _, r := range raws {
			if _, err := events.Decode(r, now); err != nil {
				b.Fatal(err)
			}
		}
	}
}
