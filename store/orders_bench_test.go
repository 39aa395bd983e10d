package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// BenchmarkCommitOrderBatch commits batches of simulated orders (about 3.7
// lines each) to a fresh schema: one op is one batch, in one transaction with
// the offset fence, as the hot path does. Event times advance 1 ms per order,
// so customers build up history; with fraud=true each order's fraud
// features are computed and a score stored, as the hot path does.
//
//	go test ./store/ -run '^$' -bench CommitOrderBatch -benchtime 20x
func BenchmarkCommitOrderBatch(b *testing.B) {
	for _, c := range []struct {
		size  int
		fraud bool
	}{{500, false}, {2000, false}, {500, true}, {2000, true}} {
		size := c.size
		b.Run(fmt.Sprintf("orders=%d/fraud=%t", size, c.fraud), func(b *testing.B) {
			s := testenv.DB(b)
			ctx := testenv.Context(b, 10*time.Minute)
			if err := s.DB.InitOffsets(ctx, "bench", 1); err != nil {
				b.Fatal(err)
			}
			sim := ingest.NewSimulator(ingest.SimConfig{Seed: 1, Customers: 5000, Products: 500})
			now := time.Now().UTC()
			batches := make([]store.OrderBatch, b.N)
			off := int64(0)
			for i := range batches {
				bt := store.OrderBatch{Topic: "bench", Start: off}
				if c.fraud {
					bt.Fraud = &store.FraudScoring{Version: "bench", Score: func(store.FraudFeatures) float64 { return 0 }}
				}
				for j := 0; j < size; j++ {
					bt.Orders = append(bt.Orders, store.PositionedOrder{Order: sim.Next(now.Add(time.Duration(off) * time.Millisecond)), Offset: off})
					off++
				}
				bt.End = off
				batches[i] = bt
			}
			b.ResetTimer()
			start := time.Now()
			for i := range batches {
				if _, err := s.DB.CommitOrderBatch(ctx, batches[i]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*size)/time.Since(start).Seconds(), "orders/s")
		})
	}
}
