package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// commitDeadLetters stores dead letters at offsets 0..n-1 of partition 0 of
// topic, the way the consumer does: in a fenced batch.
func commitDeadLetters(t *testing.T, ctx context.Context, db *store.DB, topic string, reasons ...string) {
	t.Helper()
	if err := db.InitOffsets(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	b := store.OrderBatch{Topic: topic, Partition: 0, Start: 0, End: int64(len(reasons)), Owner: "test"}
	for i, r := range reasons {
		b.DeadLetters = append(b.DeadLetters, store.DeadLetter{Offset: int64(i), Reason: r, Key: []byte("k"), Payload: []byte(`{"n":` + string(rune('0'+i)) + `}`)})
	}
	if _, err := db.CommitOrderBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
}

func TestDeadLetters_FilterAndMarkReplayed(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	commitDeadLetters(t, ctx, s.DB, "orders.a", "invalid event: $.data.currency: want GBP", "invalid event: $.type: unknown event type", "invalid event: $.data.currency: bad")
	commitDeadLetters(t, ctx, s.DB, "orders.b", "invalid event: $: not JSON")

	tests := []struct {
		name string
		f    store.DeadLetterFilter
		want int
	}{
		{"everything", store.DeadLetterFilter{}, 4},
		{"one topic", store.DeadLetterFilter{Topic: "orders.a"}, 3},
		{"reason substring ignoring case", store.DeadLetterFilter{Reason: "CURRENCY"}, 2},
		{"since the future", store.DeadLetterFilter{Since: time.Now().Add(time.Hour)}, 0},
		{"since the past", store.DeadLetterFilter{Since: time.Now().Add(-time.Hour)}, 4},
		{"limit", store.DeadLetterFilter{Limit: 1}, 1},
		{"exact keys", store.DeadLetterFilter{Keys: []store.DeadLetterKey{{Topic: "orders.a", Partition: 0, Offset: 1}, {Topic: "orders.b", Partition: 0, Offset: 0}}}, 2},
		{"exact key that does not exist", store.DeadLetterFilter{Keys: []store.DeadLetterKey{{Topic: "orders.a", Partition: 0, Offset: 99}}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.DB.DeadLetters(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Errorf("got %d dead letters, want %d: %+v", len(got), tt.want, got)
			}
		})
	}

	all, err := s.DB.DeadLetters(ctx, store.DeadLetterFilter{Topic: "orders.a", Reason: "currency"})
	if err != nil || len(all) != 2 {
		t.Fatalf("%v, %v", all, err)
	}
	if string(all[0].Payload) != `{"n":0}` || string(all[0].Key) != "k" || all[0].ReceivedAt.IsZero() || !all[0].ReplayedAt.IsZero() || all[0].ReplayCount != 0 {
		t.Errorf("first row %+v", all[0])
	}
	keys := []store.DeadLetterKey{all[0].DeadLetterKey, all[1].DeadLetterKey}
	at := time.Now().UTC().Truncate(time.Microsecond)
	for round := 1; round <= 2; round++ {
		n, err := s.DB.MarkDeadLettersReplayed(ctx, keys, at)
		if err != nil || n != 2 {
			t.Fatalf("round %d: marked %d, %v", round, n, err)
		}
	}
	left, err := s.DB.DeadLetters(ctx, store.DeadLetterFilter{NotReplayed: true})
	if err != nil || len(left) != 2 {
		t.Fatalf("not replayed: %d, %v; want 2", len(left), err)
	}
	marked, err := s.DB.DeadLetters(ctx, store.DeadLetterFilter{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range marked {
		if !r.ReplayedAt.Equal(at) || r.ReplayCount != 2 {
			t.Errorf("%+v: want replayed at %s, twice", r, at)
		}
	}
}
