package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// shopClicks returns the first n clickstream events of the simulated shop
// (50 events/s of simulated time, so sessions span several batches, as on
// the stream), flattened as the clickstream sink does.
func shopClicks(n int) []store.ClickEvent {
	shop := ingest.NewShop(ingest.ShopConfig{Seed: 1, EventsPerSecond: 50, Customers: 5000, Products: 500})
	out := make([]store.ClickEvent, 0, n)
	for len(out) < n {
		ev, _ := shop.Next()
		var c events.Clickstream
		var product string
		switch e := ev.(type) {
		case *events.PageView:
			c = e.Clickstream
		case *events.ProductView:
			c, product = e.Clickstream, e.ProductID
		case *events.Search:
			c = e.Clickstream
		case *events.CartChange:
			c, product = e.Clickstream, e.ProductID
		case *events.CheckoutStarted:
			c = e.Clickstream
		default:
			continue
		}
		h := ev.Head()
		out = append(out, store.ClickEvent{EventID: h.EventID, Type: h.Type, EventTime: h.EventTime, SessionID: c.SessionID,
			CustomerID: c.CustomerID, Device: c.Device, Page: c.Page, Referrer: c.Referrer, ProductID: product, Offset: int64(len(out))})
	}
	return out
}

// BenchmarkCommitClickstreamBatch commits batches of the simulated shop's
// clickstream to a fresh schema: one op is one batch, in one transaction
// with the offset fence, as the hot path does (events stored, sessions of
// every touched session id rebuilt, traffic per minute).
//
//	go test ./store/ -run '^$' -bench CommitClickstreamBatch -benchtime 20x
//
// days is how many daily partitions of clickstream_events exist before the
// events' own (retention): the session rebuild must not slow down with them.
func BenchmarkCommitClickstreamBatch(b *testing.B) {
	for _, c := range []struct{ size, days int }{{500, 0}, {2000, 0}, {500, 120}, {2000, 120}} {
		size := c.size
		b.Run(fmt.Sprintf("events=%d/days=%d", c.size, c.days), func(b *testing.B) {
			s := testenv.DB(b)
			ctx := testenv.Context(b, 10*time.Minute)
			if err := s.DB.InitOffsets(ctx, "bench", 1); err != nil {
				b.Fatal(err)
			}
			if _, err := s.DB.Pool.Exec(ctx, "SELECT ensure_day_partitions('clickstream_events'::regclass, current_date - $1::int, $1)", c.days); err != nil {
				b.Fatal(err)
			}
			clicks := shopClicks(b.N * size)
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				bt := store.ClickstreamBatch{
					BatchMeta: store.BatchMeta{Topic: "bench", Start: int64(i * size), End: int64((i + 1) * size)},
					Events:    clicks[i*size : (i+1)*size],
				}
				if _, err := s.DB.CommitClickstreamBatch(ctx, bt); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "events/s")
		})
	}
}
