// Package faults injects failures into a running ShopPulse (the real binary,
// broker, database and Temporal server) while simulated traffic flows, lets
// it quiesce, and asks the oracle whether anything was lost or counted
// twice. `make test` runs a short version of every scenario; `make faults`
// (build tag faults) runs them longer and harder and writes the results to
// bench/results/.
package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/devstack"
	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/oracle"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
	"github.com/shoppulse/shoppulse/workflows"
	"go.temporal.io/sdk/client"
)

const partitions = 4

// Result is what one scenario reports.
type Result struct {
	Scenario     string  `json:"scenario"`
	Faults       int     `json:"faults"` // how many times the fault was injected
	Produced     int64   `json:"events_produced"`
	Applied      int64   `json:"events_applied"`
	Repeats      int64   `json:"repeats"`
	DeadLettered int64   `json:"events_dead_lettered"`
	Differences  int     `json:"differences"`
	RecoveryS    float64 `json:"recovery_s"`      // worst time from a fault's end to caught up
	WorstLatency float64 `json:"worst_latency_s"` // produced to committed, events produced during faults
	Seconds      float64 `json:"seconds"`
}

// rig is one isolated ShopPulse: its own schema, topics and task queue, on
// the shared services or on a private stack it may crash.
type rig struct {
	t        *testing.T
	ctx      context.Context
	bin      string
	env      []string
	db       *store.DB
	brokers  []string
	topics   oracle.Topics
	private  *devstack.Options // nil on the shared services
	temporal string            // the Temporal frontend's address
	workers  []*exec.Cmd
	traffic  *traffic
	faultWin []window // when faults were in force
}

type window struct{ from, to time.Time }

var buildOnce sync.Once
var builtBin string
var buildErr error

func binary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shoppulse-faults-")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "shoppulse")
		cmd := exec.Command("go", "build", "-o", builtBin, "../cmd/shoppulse")
		cmd.Stderr = os.Stderr
		buildErr = cmd.Run()
	})
	if buildErr != nil {
		t.Fatalf("build shoppulse: %v", buildErr)
	}
	return builtBin
}

// newRig sets up a ShopPulse on the shared services, or with private on a
// stack of its own (so Postgres, Kafka and Temporal can be crashed without
// touching other tests).
func newRig(t *testing.T, ctx context.Context, private bool) *rig {
	r := &rig{t: t, ctx: ctx, bin: binary(t)}
	var dbURL, temporal string
	if private {
		r.private = privateStack(t, ctx)
		ep, _, err := devstack.Up(ctx, *r.private, devstack.AllServices()...)
		if err != nil {
			t.Fatalf("private stack: %v", err)
		}
		t.Cleanup(func() { _ = devstack.Down(*r.private) })
		dbURL, temporal, r.brokers = ep.DatabaseURL, ep.TemporalAddress, ep.KafkaBrokers
		db, err := store.Open(ctx, store.Config{URL: dbURL, MaxConns: 10})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(db.Close)
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		r.db = db
	} else {
		s := testenv.DB(t)
		dbURL, r.db = s.URL, s.DB
		r.brokers, temporal = testenv.Brokers(t), testenv.TemporalAddress(t)
	}
	r.topics = oracle.Topics{
		Orders:      testenv.Name("faults.orders"),
		Inventory:   testenv.Name("faults.inventory"),
		Clickstream: testenv.Name("faults.clickstream"),
		Payments:    testenv.Name("faults.payments"),
	}
	// The market and customers topics get names of their own too, though
	// the oracle does not check them: left at their defaults the workers
	// would consume the demo's shop.market.v1 into the test's schema, under
	// the demo supervisors' workflow ids.
	dlq, market, customers := testenv.Name("faults.dlq"), testenv.Name("faults.market"), testenv.Name("faults.customers")
	all := []string{r.topics.Orders, r.topics.Inventory, r.topics.Clickstream, r.topics.Payments, market, customers}
	specs := []streaming.TopicSpec{{Name: dlq, Partitions: 1, ReplicationFactor: 1}}
	for _, n := range all {
		specs = append(specs, streaming.TopicSpec{Name: n, Partitions: partitions, ReplicationFactor: 1})
	}
	if _, err := streaming.EnsureTopics(ctx, r.brokers, specs...); err != nil {
		t.Fatal(err)
	}
	testenv.DropTopicsAtEnd(t, r.brokers, append(all, dlq)...)
	if !private {
		// The supervisors outlive the killed workers; end them so the shared
		// Temporal server does not keep retrying their activities.
		t.Cleanup(func() {
			tc, err := client.Dial(client.Options{HostPort: temporal})
			if err != nil {
				t.Logf("terminate supervisors: %v", err)
				return
			}
			defer tc.Close()
			for _, topic := range all {
				_ = tc.TerminateWorkflow(context.Background(), workflows.SupervisorWorkflowID(topic), "", "test over")
			}
		})
	}
	r.temporal = temporal
	queue := testenv.Name("faults")
	r.env = append(os.Environ(),
		"SHOPPULSE_DATABASE_URL="+dbURL,
		"SHOPPULSE_DATABASE_MAX_CONNS=6",
		"SHOPPULSE_KAFKA_BROKERS="+strings.Join(r.brokers, ","),
		"SHOPPULSE_KAFKA_ORDERS_TOPIC="+r.topics.Orders,
		"SHOPPULSE_KAFKA_INVENTORY_TOPIC="+r.topics.Inventory,
		"SHOPPULSE_KAFKA_CLICKSTREAM_TOPIC="+r.topics.Clickstream,
		"SHOPPULSE_KAFKA_PAYMENTS_TOPIC="+r.topics.Payments,
		"SHOPPULSE_KAFKA_MARKET_TOPIC="+market,
		"SHOPPULSE_KAFKA_CUSTOMERS_TOPIC="+customers,
		"SHOPPULSE_KAFKA_DLQ_TOPIC="+dlq,
		fmt.Sprintf("SHOPPULSE_KAFKA_PARTITIONS=%d", partitions),
		"SHOPPULSE_TEMPORAL_ADDRESS="+temporal,
		"SHOPPULSE_TEMPORAL_TASK_QUEUE="+queue,
		"SHOPPULSE_STREAM_CONSUMERS=2",
		"SHOPPULSE_STREAM_BATCH_SIZE=200",
		"SHOPPULSE_STREAM_BATCH_WAIT=50ms",
		"SHOPPULSE_STREAM_HEARTBEAT_TIMEOUT=10s",
		"SHOPPULSE_METRICS_ADDR=127.0.0.1:0",
		"SHOPPULSE_LOG_LEVEL=warn",
	)
	t.Cleanup(func() {
		for _, w := range r.workers {
			if w.ProcessState == nil {
				_ = w.Process.Signal(syscall.SIGCONT)
				_ = w.Process.Kill()
				_ = w.Wait()
			}
		}
	})
	return r
}

func privateStack(t *testing.T, ctx context.Context) *devstack.Options {
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	o := &devstack.Options{
		DataDir:             t.TempDir(),
		CacheDir:            filepath.Join(cache, "shoppulse"),
		PostgresPort:        freePort(t),
		KafkaPort:           freePort(t),
		KafkaControllerPort: freePort(t),
		TemporalPort:        freePort(t),
		TemporalUIPort:      freePort(t),
	}
	if testing.Verbose() {
		o.Progress = os.Stderr
	}
	return o
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startWorker starts `shoppulse worker` as a child process.
func (r *rig) startWorker(extraEnv ...string) *exec.Cmd {
	cmd := exec.Command(r.bin, "worker")
	cmd.Env = append(append([]string(nil), r.env...), extraEnv...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start worker: %v", err)
	}
	r.workers = append(r.workers, cmd)
	return cmd
}

// consumers returns how many consumer activities the topic's supervisor
// has running or scheduled.
func (r *rig) consumers(topic string) (int, error) {
	tc, err := client.Dial(client.Options{HostPort: r.temporal})
	if err != nil {
		return 0, err
	}
	defer tc.Close()
	d, err := tc.DescribeWorkflowExecution(r.ctx, workflows.SupervisorWorkflowID(topic), "")
	if err != nil {
		return 0, err
	}
	return len(d.GetPendingActivities()), nil
}

// kill SIGKILLs a worker and reaps it.
func (r *rig) kill(w *exec.Cmd) {
	_ = w.Process.Signal(syscall.SIGKILL)
	_ = w.Wait()
}

// applied is the sum of the committed offsets of every topic.
func (r *rig) applied() int64 {
	var n int64
	for _, topic := range r.topicNames() {
		states, err := r.db.Offsets(r.ctx, topic)
		if err != nil {
			continue // Postgres may be down: the caller polls again
		}
		for _, s := range states {
			n += s.NextOffset
		}
	}
	return n
}

func (r *rig) topicNames() []string {
	return []string{r.topics.Orders, r.topics.Inventory, r.topics.Clickstream, r.topics.Payments}
}

// waitApplied waits until the committed offsets have grown by at least n.
func (r *rig) waitApplied(from, n int64, within time.Duration) {
	deadline := time.Now().Add(within)
	for r.applied() < from+n {
		if time.Now().After(deadline) || r.ctx.Err() != nil {
			r.t.Fatalf("the pipeline applied %d of %d more messages in %s", r.applied()-from, n, within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// caughtUp waits until every committed offset has reached the end offsets
// the log has now, and returns how long that took.
func (r *rig) caughtUp(within time.Duration) time.Duration {
	start := time.Now()
	deadline := start.Add(within)
	ends := map[string]map[int]int64{}
	for {
		if time.Now().After(deadline) || r.ctx.Err() != nil {
			r.t.Fatalf("the pipeline did not catch up within %s", within)
		}
		done := true
		for _, topic := range r.topicNames() {
			if ends[topic] == nil {
				e, err := streaming.EndOffsets(r.ctx, r.brokers, topic, partitions)
				if err != nil {
					done = false
					continue
				}
				ends[topic] = e
			}
			states, err := r.db.Offsets(r.ctx, topic)
			if err != nil {
				done = false
				continue
			}
			have := map[int]int64{}
			for _, s := range states {
				have[s.Partition] = s.NextOffset
			}
			for p, end := range ends[topic] {
				if have[p] < end {
					done = false
				}
			}
		}
		if done {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fault records that a fault was in force from..to.
func (r *rig) fault(from, to time.Time) { r.faultWin = append(r.faultWin, window{from, to}) }

// finish stops the traffic, waits for quiescence, runs the oracle and
// returns the scenario's result; a difference fails the test.
func (r *rig) finish(name string, faults int, recovery time.Duration, began time.Time) Result {
	r.traffic.stop()
	r.caughtUp(3 * time.Minute)
	rep, err := oracle.Check(r.ctx, oracle.Config{Brokers: r.brokers, Topics: r.topics}, r.db)
	if err != nil {
		r.t.Fatalf("oracle: %v", err)
	}
	var sb strings.Builder
	rep.Write(&sb)
	if !rep.OK() {
		r.t.Errorf("%s: the oracle found differences:\n%s", name, sb.String())
	}
	res := Result{Scenario: name, Faults: faults, Produced: r.traffic.produced(), Differences: len(rep.Differences),
		RecoveryS: recovery.Seconds(), WorstLatency: r.worstLatency().Seconds(), Seconds: time.Since(began).Seconds()}
	for _, tc := range rep.Topics {
		res.Applied += tc.Applied
		res.Repeats += tc.Repeats
		res.DeadLettered += tc.DeadLetters
	}
	if res.Applied+res.Repeats+res.DeadLettered < res.Produced {
		r.t.Errorf("%s: %d events produced but the log holds %d", name, res.Produced, res.Applied+res.Repeats+res.DeadLettered)
	}
	b, _ := json.Marshal(res)
	r.t.Logf("%s\n%s", b, sb.String())
	record(r.t, res)
	return res
}

// worstLatency is the longest time from produced to committed of the events
// produced while a fault was in force (orders and clickstream facts carry
// their commit time).
func (r *rig) worstLatency() time.Duration {
	produced := r.traffic.producedAt()
	var worst time.Duration
	for _, q := range []string{`SELECT event_id, ingested_at FROM orders`, `SELECT event_id, ingested_at FROM clickstream_events`} {
		rows, err := r.db.Pool.Query(r.ctx, q)
		if err != nil {
			r.t.Fatal(err)
		}
		for rows.Next() {
			var id string
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				r.t.Fatal(err)
			}
			p, ok := produced[id]
			if !ok || !r.inFault(p) {
				continue
			}
			if d := at.Sub(p); d > worst {
				worst = d
			}
		}
		rows.Close()
	}
	return worst
}

func (r *rig) inFault(at time.Time) bool {
	for _, w := range r.faultWin {
		if !at.Before(w.from) && !at.After(w.to) {
			return true
		}
	}
	return false
}

// record appends the result to $SHOPPULSE_FAULTS_RESULTS (a JSON lines
// file) when set: `make faults` collects them under bench/results/.
func record(t *testing.T, res Result) {
	path := os.Getenv("SHOPPULSE_FAULTS_RESULTS")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("record result: %v", err)
		return
	}
	defer f.Close()
	b, _ := json.Marshal(res)
	_, _ = f.Write(append(b, '\n'))
}

// traffic produces the simulated shop's events of the four hot-path topics at
// a fixed rate until stopped, retrying a failed publish (the broker may be
// down) so nothing is lost, and remembers when each event was produced.
type traffic struct {
	mu      sync.Mutex
	n       int64
	at      map[string]time.Time
	poison  bool
	cancel  context.CancelFunc
	done    chan struct{}
	failure error
}

func (r *rig) startTraffic(rate int, seed uint64, span time.Duration) {
	ctx, cancel := context.WithCancel(r.ctx)
	tr := &traffic{at: map[string]time.Time{}, cancel: cancel, done: make(chan struct{})}
	r.traffic = tr
	prod := ingest.NewProducer(ingest.ProducerConfig{Brokers: r.brokers, MaxAttempts: 3, TopicMap: map[string]string{
		events.TopicOrders: r.topics.Orders, events.TopicInventory: r.topics.Inventory,
		events.TopicClickstream: r.topics.Clickstream, events.TopicPayments: r.topics.Payments,
	}})
	// Simulated time runs ten times faster than real time, so sessions
	// reach their orders and payments within seconds, and starts far enough
	// back that it stays in the past for a run of up to span (far-future
	// times are the poison scenario's business).
	const speedup = 10
	shop := ingest.NewShop(ingest.ShopConfig{Seed: int64(seed), Start: time.Now().Add(-speedup*span - 10*time.Minute),
		EventsPerSecond: max(float64(rate)/speedup, 1)})
	rng := rand.New(rand.NewPCG(seed, 1))
	go func() {
		defer close(tr.done)
		defer prod.Close()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		per := max(rate/10, 1)
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var batch []events.Event
			for len(batch) < per {
				ev, ok := shop.Next()
				if !ok {
					return
				}
				switch ev.Topic() {
				case events.TopicOrders, events.TopicInventory, events.TopicClickstream, events.TopicPayments:
					batch = append(batch, ev)
				}
			}
			now := time.Now()
			for {
				err := prod.Publish(ctx, batch...)
				if err == nil {
					break
				}
				if ctx.Err() != nil {
					return
				}
				time.Sleep(500 * time.Millisecond) // broker down: try the same events again
			}
			var raw []ingest.RawMessage
			tr.mu.Lock()
			poison := tr.poison
			tr.mu.Unlock()
			if poison {
				raw = poisonBurst(r.topics, rng, now)
				for prod.PublishRaw(ctx, raw...) != nil {
					if ctx.Err() != nil {
						return
					}
					time.Sleep(500 * time.Millisecond)
				}
			}
			tr.mu.Lock()
			tr.n += int64(len(batch) + len(raw))
			for _, ev := range batch {
				tr.at[ev.Head().EventID] = now
			}
			tr.mu.Unlock()
		}
	}()
}

func (tr *traffic) setPoison(on bool) {
	tr.mu.Lock()
	tr.poison = on
	tr.mu.Unlock()
}

func (tr *traffic) stop() {
	tr.cancel()
	<-tr.done
}

func (tr *traffic) produced() int64 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.n
}

func (tr *traffic) producedAt() map[string]time.Time {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := make(map[string]time.Time, len(tr.at))
	for k, v := range tr.at {
		out[k] = v
	}
	return out
}

// poisonBurst is one of each kind of bad message, spread over the topics:
// malformed JSON, wrong types, invalid UTF-8, oversized, unknown types, and
// event times far in the future and the past (the past is valid: a late
// event is applied to its own window, never dropped).
func poisonBurst(t oracle.Topics, rng *rand.Rand, now time.Time) []ingest.RawMessage {
	topics := []string{t.Orders, t.Inventory, t.Clickstream, t.Payments}
	pick := func() string { return topics[rng.IntN(len(topics))] }
	id := fmt.Sprintf("poison-%d", rng.Uint64())
	future := now.Add(48 * time.Hour).UTC().Format(time.RFC3339)
	return []ingest.RawMessage{
		{Topic: pick(), Value: []byte(`{"type":"order_placed","data":{`)},
		{Topic: t.Orders, Value: []byte(`{"id":"` + id + `-t","type":"order_placed","source":"x","time":"2026-11-26T10:00:00Z","schema_version":1,"data":{"order_id":42}}`)},
		{Topic: pick(), Value: []byte("\xff\xfe\xfd")},
		{Topic: pick(), Value: []byte(`{"pad":"` + strings.Repeat("x", events.MaxEventBytes) + `"}`)},
		{Topic: pick(), Value: []byte(`{"id":"` + id + `-u","type":"teleport","source":"x","time":"2026-11-26T10:00:00Z","schema_version":1,"data":{}}`)},
		{Topic: t.Clickstream, Value: []byte(`{"id":"` + id + `-f","type":"page_view","source":"x","time":"` + future + `","schema_version":1,"data":{"session_id":"s","page":"/"}}`)},
	}
}
