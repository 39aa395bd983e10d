package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

// execute runs `shoppulse ARGS` with this package's replay and dlq commands
// (added here until main.go registers them) and returns what it printed.
func execute(t *testing.T, ctx context.Context, args ...string) (string, error) {
	t.Helper()
	a := &app{}
	root := buildRootCmd(a)
	for _, c := range []*cobra.Command{newReplayCmd(a), newDLQCmd(a)} {
		if found, _, err := root.Find([]string{c.Name()}); err != nil || found == root {
			root.AddCommand(c)
		}
	}
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// lastMessage reads the last message of partition 0 of topic.
func lastMessage(t *testing.T, ctx context.Context, brokers []string, topic string) (kafka.Message, int64) {
	t.Helper()
	end, err := streaming.EndOffsets(ctx, brokers, topic, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(end[0] - 1); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := r.ReadMessage(rctx)
	if err != nil {
		t.Fatal(err)
	}
	return m, end[0]
}

func TestDLQ_ListAndReplayAgainstRealServices(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	topic := testenv.Topic(t, brokers, 1)
	dlqTopic := testenv.Topic(t, brokers, 1)
	t.Setenv("SHOPPULSE_DATABASE_URL", s.URL)
	t.Setenv("SHOPPULSE_KAFKA_BROKERS", strings.Join(brokers, ","))

	// Two poison messages and one good order go through the real consumer.
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()
	badJSON := []byte(`{"type":"order_placed"`)
	badType := []byte(`{"id":"e1","type":"no_such_type","time":"2026-01-01T00:00:00Z","schema_version":1,"data":{}}`)
	for _, b := range [][]byte{badJSON, badType} {
		if err := p.ProduceRaw(ctx, []byte("cust-1"), b); err != nil {
			t.Fatal(err)
		}
	}
	sim := ingest.NewSimulator(ingest.SimConfig{Seed: 3, Customers: 3, Products: 3})
	if err := p.Produce(ctx, sim.Next(time.Now().Add(-time.Minute))); err != nil {
		t.Fatal(err)
	}
	c, err := streaming.NewConsumer(streaming.Config{Brokers: brokers, Topic: topic, DLQTopic: dlqTopic, Partitions: []int{0},
		BatchSize: 10, BatchWait: 10 * time.Millisecond}, s.DB, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	for {
		dls, err := s.DB.DeadLetters(ctx, store.DeadLetterFilter{Topic: topic})
		if err != nil {
			t.Fatal(err)
		}
		if len(dls) == 2 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("dead letters never stored: %v", dls)
		case <-time.After(100 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	t.Run("list shows both with reason and payload", func(t *testing.T) {
		out, err := execute(t, ctx, "dlq", "list", "--topic", topic, "--since", "1h")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"TOPIC", topic + "  0          0", topic + "  0          1", `{"type":"order_placed"`, "unknown event type"} {
			if !strings.Contains(out, want) {
				t.Errorf("list output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("list by reason", func(t *testing.T) {
		out, err := execute(t, ctx, "dlq", "list", "--reason", "UNKNOWN EVENT TYPE", "--topic", topic)
		if err != nil || strings.Count(out, "\n") != 2 {
			t.Errorf("want the header and one row, got %v:\n%s", err, out)
		}
	})
	t.Run("replay without a selection is refused", func(t *testing.T) {
		_, err := execute(t, ctx, "dlq", "replay")
		var ce *configError
		if !errors.As(err, &ce) {
			t.Errorf("err %v, want a config error", err)
		}
	})

	_, end0 := lastMessage(t, ctx, brokers, topic)
	t.Run("dry run sends nothing", func(t *testing.T) {
		out, err := execute(t, ctx, "dlq", "replay", "--topic", topic, "--partition", "0", "--offset", "1", "--dry-run")
		if err != nil || !strings.Contains(out, "would re-send 1 dead letters") {
			t.Fatalf("%v:\n%s", err, out)
		}
		if _, end := lastMessage(t, ctx, brokers, topic); end != end0 {
			t.Errorf("end offset moved from %d to %d on a dry run", end0, end)
		}
	})
	t.Run("replay by offset re-sends the raw bytes once", func(t *testing.T) {
		out, err := execute(t, ctx, "dlq", "replay", "--topic", topic, "--partition", "0", "--offset", "1")
		if err != nil || !strings.Contains(out, "re-sent 1 dead letters, marked 1 replayed") {
			t.Fatalf("%v:\n%s", err, out)
		}
		m, end := lastMessage(t, ctx, brokers, topic)
		if end != end0+1 || !bytes.Equal(m.Value, badType) || string(m.Key) != "cust-1" {
			t.Errorf("end %d (want %d), last message %q key %q; want the dead letter's bytes", end, end0+1, m.Value, m.Key)
		}
		out, err = execute(t, ctx, "dlq", "replay", "--topic", topic, "--partition", "0", "--offset", "1")
		if err != nil || !strings.Contains(out, "no dead letters selected") {
			t.Errorf("a second replay: %v:\n%s", err, out)
		}
		if _, end := lastMessage(t, ctx, brokers, topic); end != end0+1 {
			t.Errorf("a second replay re-sent: end %d", end)
		}
		dls, err := s.DB.DeadLetters(ctx, store.DeadLetterFilter{Keys: []store.DeadLetterKey{{Topic: topic, Partition: 0, Offset: 1}}})
		if err != nil || len(dls) != 1 || dls[0].ReplayCount != 1 || dls[0].ReplayedAt.IsZero() {
			t.Errorf("row after replay: %+v, %v", dls, err)
		}
	})
	t.Run("replay again on purpose", func(t *testing.T) {
		out, err := execute(t, ctx, "dlq", "replay", "--topic", topic, "--partition", "0", "--offset", "1", "--again")
		if err != nil || !strings.Contains(out, "re-sent 1 dead letters") {
			t.Fatalf("%v:\n%s", err, out)
		}
		out, err = execute(t, ctx, "dlq", "list", "--topic", topic)
		if err != nil || !strings.Contains(out, "2x ") {
			t.Errorf("list does not show the replay count: %v\n%s", err, out)
		}
	})
	t.Run("replay by reason takes only the rest", func(t *testing.T) {
		out, err := execute(t, ctx, "dlq", "replay", "--reason", "invalid event", "--topic", topic)
		if err != nil || !strings.Contains(out, "re-sent 1 dead letters") {
			t.Fatalf("%v:\n%s", err, out)
		}
		m, _ := lastMessage(t, ctx, brokers, topic)
		if !bytes.Equal(m.Value, badJSON) {
			t.Errorf("last message %q, want %q", m.Value, badJSON)
		}
	})
}

func TestPreview(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		want     string
	}{
		{"short text", `{"a":1}`, 10, `{"a":1}`},
		{"cut", "abcdef", 3, "abc..."},
		{"control characters escaped", "a\tb\nc", 10, `a\tb\nc`},
		{"invalid UTF-8 escaped", "\xff\xfeok", 10, `\xff\xfeok`},
		{"multibyte kept", "£5", 10, "£5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := preview([]byte(tt.in), tt.n); got != tt.want {
				t.Errorf("preview(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
