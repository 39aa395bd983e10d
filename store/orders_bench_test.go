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
// the offset fence, as the hot path does.
//
//	go test ./store/ -run '^$' -bench CommitOrderBatch -benchtime 20x
func BenchmarkCommitOrderBatch(b *testing.B) {
	for _, size := range []int{500, 2000} {
		b.Run(fmt.Sprintf("orders=%d", size), func(b *testing.B) {
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
				for j := 0; j < size; j++ {
					bt.Orders = append(bt.Orders, store.PositionedOrder{Order: sim.Next(now), Offset: off})
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
