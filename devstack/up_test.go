package devstack

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"
)

// These tests start real services on free ports under a temporary data dir,
// so they never touch the stack `make test` runs.

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// missing skips, or fails when the run requires every service (make test).
func missing(t *testing.T, what string) {
	t.Helper()
	if os.Getenv("SHOPPULSE_REQUIRE_SERVICES") == "1" {
		t.Fatalf("%s is missing and SHOPPULSE_REQUIRE_SERVICES=1", what)
	}
	t.Skipf("%s is missing", what)
}

func testOptions(t *testing.T) Options {
	t.Helper()
	dir := t.TempDir()
	// t.TempDir is 0700; when running as root, PostgreSQL runs as the
	// postgres user and must reach its data dir.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return Options{
		DataDir:             filepath.Join(dir, "data"),
		CacheDir:            filepath.Join(dir, "cache"),
		PostgresPort:        freePort(t),
		KafkaPort:           freePort(t),
		KafkaControllerPort: freePort(t),
		TemporalPort:        freePort(t),
		TemporalUIPort:      freePort(t),
		Progress:            testWriter{t},
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

func TestUpDownPostgresKeepsState(t *testing.T) {
	if newestDebianPostgres("/usr/lib/postgresql") == "" {
		if _, err := exec.LookPath("pg_ctl"); err != nil {
			missing(t, "PostgreSQL server binaries")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := testOptions(t)
	t.Cleanup(func() {
		if err := Down(o); err != nil {
			t.Errorf("Down: %v", err)
		}
	})

	ep, closer, err := Up(ctx, o, Postgres)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if err := closer(); err != nil {
		t.Fatalf("closer: %v", err)
	}
	if want := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/shoppulse?sslmode=disable", o.PostgresPort); ep.DatabaseURL != want {
		t.Fatalf("DatabaseURL = %q, want %q", ep.DatabaseURL, want)
	}
	if ep.KafkaBrokers != nil || ep.TemporalAddress != "" {
		t.Errorf("services not asked for got endpoints: %+v", ep)
	}
	exec1 := func(sql string) {
		t.Helper()
		conn, err := pgx.Connect(ctx, ep.DatabaseURL)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec1("CREATE TABLE kept (x int); INSERT INTO kept VALUES (1)")

	st, err := Status(o)
	if err != nil {
		t.Fatal(err)
	}
	pid := st[0].PID
	if st[0].Service != Postgres || pid == 0 || !st[0].Listening {
		t.Fatalf("status after Up = %+v", st[0])
	}

	// Up again reuses the running server.
	if _, _, err := Up(ctx, o, Postgres); err != nil {
		t.Fatalf("second Up: %v", err)
	}
	if st, _ := Status(o); st[0].PID != pid {
		t.Errorf("second Up changed the server: pid %d, was %d", st[0].PID, pid)
	}

	if err := Down(o); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if st, _ := Status(o); st[0].Listening || st[0].PID != 0 {
		t.Fatalf("status after Down = %+v", st[0])
	}

	if _, _, err := Up(ctx, o, Postgres); err != nil {
		t.Fatalf("Up after Down: %v", err)
	}
	exec1("SELECT 1/x FROM kept") // the table survived the restart
}

func TestInProcessKafkaServesKafkaClients(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := newStack(testOptions(t).withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	closer, err := s.startFakeKafka()
	if err != nil {
		t.Fatal(err)
	}
	defer closer()
	if err := waitFor(ctx, 10*time.Second, 100*time.Millisecond, s.kafkaReady(0)); err != nil {
		t.Fatal(err)
	}
	roundTrip(ctx, t, s.kafkaAddr())
}

func TestUpDownRealKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a JVM")
	}
	base, err := os.UserCacheDir()
	if err != nil {
		t.Skip(err)
	}
	o := testOptions(t)
	o.CacheDir = filepath.Join(base, "shoppulse") // reuse the jars of the machine's stack
	s, err := newStack(o.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if !s.kafkaCached() {
		t.Skipf("Kafka jars not cached in %s yet (`shoppulse stack up` fetches them)", o.CacheDir)
	}
	if _, miss := s.kafkaPrerequisites(context.Background()); miss != "" {
		missing(t, miss)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if err := Down(o); err != nil {
			t.Errorf("Down: %v", err)
		}
	})
	ep, _, err := Up(ctx, o, Kafka)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if ep.InProcessKafka {
		t.Fatal("got the in-process broker, want Apache Kafka")
	}
	roundTrip(ctx, t, ep.KafkaBrokers[0])
	pid := s.kafkaProc().alivePID()
	if pid == 0 {
		t.Fatal("no kafka pid after Up")
	}
	if err := Down(o); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if processAlive(pid) || portOpen(ep.KafkaBrokers[0]) {
		t.Fatal("kafka still running after Down")
	}
}

// roundTrip creates a topic, produces one record and reads it back.
func roundTrip(ctx context.Context, t *testing.T, broker string) {
	t.Helper()
	topic := fmt.Sprintf("devstack-%d", time.Now().UnixNano())
	client := &kafka.Client{Addr: kafka.TCP(broker)}
	res, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{
		Topics: []kafka.TopicConfig{{Topic: topic, NumPartitions: 1, ReplicationFactor: 1}},
	})
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}
	if err := res.Errors[topic]; err != nil {
		t.Fatalf("create topic: %v", err)
	}
	w := &kafka.Writer{Addr: kafka.TCP(broker), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond}
	defer w.Close()
	// Leadership of a new topic takes a moment to reach the metadata cache.
	err = waitFor(ctx, 30*time.Second, 200*time.Millisecond, func(ctx context.Context) error {
		return w.WriteMessages(ctx, kafka.Message{Key: []byte("k"), Value: []byte("v")})
	})
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{broker}, Topic: topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	m, err := r.ReadMessage(ctx)
	if err != nil {
		t.Fatalf("consume: %v", err)
	}
	if string(m.Key) != "k" || string(m.Value) != "v" {
		t.Fatalf("read %q=%q, want k=v", m.Key, m.Value)
	}
}

func TestUpDownTemporal(t *testing.T) {
	base, err := os.UserCacheDir()
	if err != nil {
		t.Skip(err)
	}
	o := testOptions(t)
	o.CacheDir = filepath.Join(base, "shoppulse") // reuse the machine's temporal CLI
	cli := TemporalCLI(o.CacheDir)
	if _, err := os.Stat(cli); err != nil {
		t.Skipf("temporal CLI not built yet (`shoppulse stack up` builds it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if err := Down(o); err != nil {
			t.Errorf("Down: %v", err)
		}
	})
	ep, _, err := Up(ctx, o, Temporal)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if ep.TemporalAddress != addr(o.TemporalPort) || ep.TemporalUI != "http://"+addr(o.TemporalUIPort) {
		t.Fatalf("endpoints = %+v", ep)
	}
	out, err := exec.CommandContext(ctx, cli, "workflow", "list", "--address", ep.TemporalAddress).CombinedOutput()
	if err != nil {
		t.Fatalf("temporal workflow list: %v: %s", err, out)
	}
	if err := Down(o); err != nil {
		t.Fatalf("Down: %v", err)
	}
	if portOpen(ep.TemporalAddress) {
		t.Fatal("temporal still listening after Down")
	}
}
