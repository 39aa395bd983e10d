package store_test

import (
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/internal/testenv"
)

func TestDropPartitionsBefore_DropsOnlyPastRetentionAndOnce(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	old := time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)
	if err := s.DB.EnsurePartitionsAhead(ctx, old, 3); err != nil { // 10, 11, 12 January
		t.Fatal(err)
	}
	if _, err := s.DB.Pool.Exec(ctx, `
		INSERT INTO orders (event_id, event_time, order_id, customer_id, country, currency, channel, total_minor, units, line_count, topic, partition, kafka_offset)
		VALUES ('a', $1, 'O1', 'C', 'DE', 'EUR', 'web', 1, 1, 1, 't', 0, 1), ('b', $2, 'O2', 'C', 'DE', 'EUR', 'web', 1, 1, 1, 't', 0, 2)`,
		old.Add(time.Hour), old.AddDate(0, 0, 2).Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	cutoff := old.AddDate(0, 0, 2) // drops the 10th and 11th, keeps the 12th
	dropped, err := s.DB.DropPartitionsBefore(ctx, cutoff, "run-1", "PartitionMaintenance")
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped) != 6 { // 2 days x orders, order_lines, clickstream_events
		t.Fatalf("dropped %+v, want 6 partitions", dropped)
	}
	if dropped[0].Partition != "orders_20250110" || dropped[0].Rows != 1 {
		t.Fatalf("first dropped %+v", dropped[0])
	}
	var n int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("orders left %d (%v), want the one of the 12th", n, err)
	}
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relname IN ('orders_20250110', 'orders_20250111') AND relnamespace = $1::regnamespace`, s.Name).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d dropped tables still exist (%v)", n, err)
	}
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM lineage WHERE run_id = 'run-1'`).Scan(&n); err != nil || n != 6 {
		t.Fatalf("lineage rows %d (%v), want 6", n, err)
	}
	again, err := s.DB.DropPartitionsBefore(ctx, cutoff, "run-2", "PartitionMaintenance")
	if err != nil || len(again) != 0 {
		t.Fatalf("second run dropped %+v (%v), want nothing", again, err)
	}
	// The dropped day can be created again (a replay of old data).
	if err := s.DB.EnsurePartitionsAhead(ctx, old, 1); err != nil {
		t.Fatal(err)
	}
}
