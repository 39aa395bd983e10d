package streaming_test

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/config"
	"github.com/shoppulse/shoppulse/devstack"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testcerts"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/streaming"
)

// TestKafkaOverMutualTLS starts a private Apache Kafka broker (devstack,
// the same jars as the shared one) whose only client listener is SSL with
// ssl.client.auth=required, and drives our own clients through it with the
// TLS config that kafka.tls builds: topic creation (admin client), the
// ingest producer, the hot-path consumer (reader, and the DLQ writer for a
// poison message) committing to Postgres, and end offsets. Clients without
// the CA, without a client certificate, or in plaintext are refused.
func TestKafkaOverMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a private Kafka broker")
	}
	db := testenv.DB(t).DB // also fails or skips, as every service test, without the services
	pki := testcerts.New(t)
	good, err := config.TLS{Enabled: true, CAFile: pki.CA, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}.ClientConfig("kafka.tls")
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	o := devstack.Options{
		DataDir: t.TempDir(), CacheDir: filepath.Join(cache, "shoppulse"),
		PostgresPort: freePort(t), KafkaPort: freePort(t), KafkaControllerPort: freePort(t), TemporalPort: freePort(t), TemporalUIPort: freePort(t),
		KafkaTLS: &devstack.KafkaTLS{CertFile: pki.ServerCert, KeyFile: pki.ServerKey, CAFile: pki.CA, RequireClientCert: true, Client: good},
	}
	if testing.Verbose() {
		o.Progress = os.Stderr
	}
	ctx := testenv.Context(t, 5*time.Minute)
	ep, closer, err := devstack.Up(ctx, o, devstack.Kafka)
	t.Cleanup(func() {
		_ = closer()
		if err := devstack.Down(o); err != nil {
			t.Logf("stop the private kafka: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("private kafka with TLS: %v", err)
	}
	k := streaming.Kafka{Brokers: ep.KafkaBrokers, TLS: good}
	topic, dlq := testenv.Name("tls.orders"), testenv.Name("tls.dlq")
	if _, err := k.EnsureTopics(ctx, streaming.TopicSpec{Name: topic, Partitions: 1, ReplicationFactor: 1},
		streaming.TopicSpec{Name: dlq, Partitions: 1, ReplicationFactor: 1}); err != nil {
		t.Fatalf("create topics over TLS: %v", err)
	}

	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: k.Brokers, TLS: good, Topic: topic})
	defer p.Close()
	sim := ingest.NewSimulator(ingest.SimConfig{Seed: 7, Customers: 5, Products: 5})
	for i := 0; i < 5; i++ {
		if err := p.Produce(ctx, sim.Next(time.Now().Add(-time.Minute))); err != nil {
			t.Fatalf("produce over TLS: %v", err)
		}
	}
	if err := p.ProduceRaw(ctx, []byte("c-1"), []byte(`{"type":"order_placed"`)); err != nil {
		t.Fatal(err)
	}

	c, err := streaming.NewConsumer(streaming.Config{Brokers: k.Brokers, TLS: good, Topic: topic, DLQTopic: dlq, Partitions: []int{0},
		BatchSize: 100, BatchWait: 20 * time.Millisecond}, db, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	for {
		next, err := db.LoadOffset(ctx, topic, 0)
		if err != nil {
			t.Fatal(err)
		}
		if next == 6 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("consumer over TLS stopped at offset %d: %v", next, err)
		case <-ctx.Done():
			t.Fatalf("consumer over TLS stuck at offset %d", next)
		case <-time.After(100 * time.Millisecond):
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if end, err := k.EndOffsets(ctx, dlq, 1); err != nil || end[0] != 1 {
		t.Errorf("dead letter over TLS: end %v, %v", end, err)
	}

	// The refusals. Each names its cause.
	refused := func(name string, k streaming.Kafka, check func(error) bool) {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		_, err := k.EndOffsets(rctx, topic, 1)
		if err == nil || !check(err) {
			t.Errorf("%s: %v", name, err)
		} else {
			t.Logf("%s: refused: %v", name, err)
		}
	}
	noCA, err := config.TLS{Enabled: true, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}.ClientConfig("kafka.tls")
	if err != nil {
		t.Fatal(err)
	}
	refused("a client without the CA", streaming.Kafka{Brokers: k.Brokers, TLS: noCA}, func(err error) bool {
		var ua x509.UnknownAuthorityError
		return errors.As(err, &ua) || strings.Contains(err.Error(), "certificate signed by unknown authority")
	})
	noCert, err := config.TLS{Enabled: true, CAFile: pki.CA}.ClientConfig("kafka.tls")
	if err != nil {
		t.Fatal(err)
	}
	refused("a client without a certificate", streaming.Kafka{Brokers: k.Brokers, TLS: noCert}, func(err error) bool {
		// The broker's alert (bad certificate), or, when the client
		// writes before reading it, the connection it closed.
		return strings.Contains(err.Error(), "tls: ") || strings.Contains(err.Error(), "broken pipe") ||
			strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "EOF")
	})
	refused("a plaintext client", streaming.Kafka{Brokers: k.Brokers}, func(err error) bool {
		return strings.Contains(err.Error(), "EOF") // the broker drops a connection that does not start a handshake
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
