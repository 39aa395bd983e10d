// Package testenv gives integration tests the real services that `make test`
// starts: a fresh, migrated Postgres schema per test, a fresh Kafka topic per
// test, and the Temporal dev server's address. Addresses come from
// SHOPPULSE_TEST_DATABASE_URL, SHOPPULSE_TEST_KAFKA_BROKERS and
// SHOPPULSE_TEST_TEMPORAL_ADDRESS. When one is unset the test is skipped,
// unless SHOPPULSE_REQUIRE_SERVICES=1 (as `make test` and CI set), when it fails.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"

	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

// need returns the env var's value, or skips or fails the test without it.
func need(t testing.TB, env, what string) string {
	t.Helper()
	v := os.Getenv(env)
	if v != "" {
		return v
	}
	if os.Getenv("SHOPPULSE_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is required (SHOPPULSE_REQUIRE_SERVICES=1) but %s is unset: run `make test`", what, env)
	}
	t.Skipf("%s not configured: set %s or run `make test`", what, env)
	return ""
}

// DatabaseURL returns the test Postgres URL.
func DatabaseURL(t testing.TB) string {
	return need(t, "SHOPPULSE_TEST_DATABASE_URL", "PostgreSQL")
}

// Brokers returns the test Kafka brokers.
func Brokers(t testing.TB) []string {
	return strings.Split(need(t, "SHOPPULSE_TEST_KAFKA_BROKERS", "Kafka"), ",")
}

// TemporalAddress returns the Temporal dev server's host:port.
func TemporalAddress(t testing.TB) string {
	return need(t, "SHOPPULSE_TEST_TEMPORAL_ADDRESS", "Temporal")
}

// Name returns a short unique name with the prefix, for schemas, topics and ids.
func Name(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + "_" + hex.EncodeToString(b)
}

// Context returns a context cancelled when the test ends or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Schema is a fresh schema: its name and a migrated store using it.
type Schema struct {
	Name string
	URL  string
	DB   *store.DB
}

// DB creates a fresh schema, migrates it, and drops it when the test ends
// (kept when the test failed, for a look).
func DB(t testing.TB) Schema {
	t.Helper()
	url := DatabaseURL(t)
	ctx := Context(t, 2*time.Minute)
	name := Name("t")
	db, err := store.Open(ctx, store.Config{URL: url, MaxConns: 20, Schema: name})
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		t.Fatalf("migrate test schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		db.Close()
		if t.Failed() {
			t.Logf("kept schema %s of the failed test", name)
			return
		}
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE")
	})
	return Schema{Name: name, URL: WithSearchPath(url, name), DB: db}
}

// WithSearchPath returns the URL with the schema first on the search path, for
// a subprocess that should use the test's schema.
func WithSearchPath(url, schema string) string {
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

// Topic creates a fresh topic with the given partitions and returns its name.
func Topic(t testing.TB, brokers []string, partitions int) string {
	t.Helper()
	name := Name("test.orders")
	ctx := Context(t, time.Minute)
	if _, err := streaming.EnsureTopics(ctx, brokers, streaming.TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatalf("create topic %s: %v", name, err)
	}
	DropTopicsAtEnd(t, brokers, name)
	// Wait until every partition answers from its leader, so the test's
	// first produce does not meet "not leader for partition".
	if _, err := streaming.EndOffsets(ctx, brokers, name, partitions); err != nil {
		t.Fatalf("topic %s not ready: %v", name, err)
	}
	return name
}

// DropTopicsAtEnd deletes the topics when the test ends (kept when it
// failed, for a look), so the shared broker does not collect thousands of
// test topics.
func DropTopicsAtEnd(t testing.TB, brokers []string, names ...string) {
	t.Cleanup(func() {
		if t.Failed() || len(names) == 0 {
			return
		}
		cl := &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: 30 * time.Second}
		_, _ = cl.DeleteTopics(context.Background(), &kafka.DeleteTopicsRequest{Topics: names})
	})
}

// WaitFor polls cond every 200 ms until it holds, failing the test when cond
// errs or ctx ends first; what names the awaited state in the failure.
func WaitFor(ctx context.Context, t testing.TB, what string, cond func() (bool, error)) {
	t.Helper()
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// WaitCaughtUp waits until db's stored offsets of every partition of topic
// equal the topic's end offsets as they are when it is called.
func WaitCaughtUp(t testing.TB, ctx context.Context, db *store.DB, brokers []string, topic string, partitions int) {
	t.Helper()
	end, err := streaming.EndOffsets(ctx, brokers, topic, partitions)
	if err != nil {
		t.Fatal(err)
	}
	var states []store.PartitionState
	WaitFor(ctx, t, fmt.Sprintf("the stored offsets of %s to reach the end offsets %v", topic, end), func() (bool, error) {
		states, err = db.Offsets(ctx, topic)
		if err != nil {
			return false, err
		}
		done := len(states) == partitions
		for _, s := range states {
			done = done && s.NextOffset == end[s.Partition]
		}
		return done, nil
	})
}
