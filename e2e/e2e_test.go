// Package e2e runs the real shoppulse binary against the real services that
// `make test` starts: Kafka, PostgreSQL and the Temporal dev server. It checks
// the promise of DESIGN.md invariant 1 from the outside: exact totals per
// minute, to the cent, after the worker is killed mid-stream.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
	"github.com/shoppulse/shoppulse/workflows"
)

const partitions = 4

type totals struct{ orders, units, revenue int64 }

// harness is one isolated ShopPulse: its own schema, topics and task queue on
// the shared services.
type harness struct {
	t        *testing.T
	bin      string
	env      []string
	schema   testenv.Schema
	brokers  []string
	topic    string
	temporal client.Client
	queue    string
	invTopic string // the worker's kafka.inventory_topic
	clkTopic string // the worker's kafka.clickstream_topic
	payTopic string // the worker's kafka.payments_topic
	mktTopic string // the worker's kafka.market_topic
	cusTopic string // the worker's kafka.customers_topic
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, partitions) }

// newHarnessWith makes a harness whose orders topic has ordersPartitions
// partitions (the other topics have partitions).
func newHarnessWith(t *testing.T, ordersPartitions int) *harness {
	brokers := testenv.Brokers(t)
	addr := testenv.TemporalAddress(t)
	s := testenv.DB(t)
	topic := testenv.Name("e2e.orders")
	dlq := testenv.Name("e2e.dlq")
	inventory := testenv.Name("e2e.inventory")
	clickstream := testenv.Name("e2e.clickstream")
	payments := testenv.Name("e2e.payments")
	market := testenv.Name("e2e.market")
	customers := testenv.Name("e2e.customers")
	queue := testenv.Name("e2e")

	bin := filepath.Join(t.TempDir(), "shoppulse")
	build := exec.Command("go", "build", "-o", bin, "../cmd/shoppulse")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build shoppulse: %v", err)
	}
	tc, err := client.Dial(client.Options{HostPort: addr})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	h := &harness{
		t: t, bin: bin, schema: s, brokers: brokers, topic: topic, invTopic: inventory, clkTopic: clickstream, payTopic: payments, mktTopic: market, cusTopic: customers, temporal: tc, queue: queue,
		env: append(os.Environ(),
			"SHOPPULSE_DATABASE_URL="+s.URL,
			"SHOPPULSE_KAFKA_BROKERS="+strings.Join(brokers, ","),
			"SHOPPULSE_KAFKA_ORDERS_TOPIC="+topic,
			"SHOPPULSE_KAFKA_DLQ_TOPIC="+dlq,
			"SHOPPULSE_KAFKA_INVENTORY_TOPIC="+inventory,
			"SHOPPULSE_KAFKA_CLICKSTREAM_TOPIC="+clickstream,
			"SHOPPULSE_KAFKA_PAYMENTS_TOPIC="+payments,
			"SHOPPULSE_KAFKA_MARKET_TOPIC="+market,
			"SHOPPULSE_KAFKA_CUSTOMERS_TOPIC="+customers,
			fmt.Sprintf("SHOPPULSE_KAFKA_PARTITIONS=%d", partitions),
			"SHOPPULSE_TEMPORAL_ADDRESS="+addr,
			"SHOPPULSE_TEMPORAL_TASK_QUEUE="+queue,
			"SHOPPULSE_STREAM_CONSUMERS=2",
			"SHOPPULSE_STREAM_BATCH_SIZE=40",
			"SHOPPULSE_STREAM_BATCH_WAIT=20ms",
			"SHOPPULSE_STREAM_HEARTBEAT_TIMEOUT=4s",
			"SHOPPULSE_METRICS_ADDR=127.0.0.1:0",
			"SHOPPULSE_LOG_LEVEL=warn",
		),
	}
	t.Cleanup(func() {
		_ = tc.TerminateWorkflow(context.Background(), workflows.SupervisorWorkflowID(topic), "", "test over")
		_ = tc.TerminateWorkflow(context.Background(), workflows.SupervisorWorkflowID(inventory), "", "test over")
		_ = tc.TerminateWorkflow(context.Background(), workflows.SupervisorWorkflowID(clickstream), "", "test over")
		_ = tc.TerminateWorkflow(context.Background(), workflows.SupervisorWorkflowID(payments), "", "test over")
		_ = tc.TerminateWorkflow(context.Background(), workflows.SupervisorWorkflowID(market), "", "test over")
		_ = tc.TerminateWorkflow(context.Background(), workflows.SupervisorWorkflowID(customers), "", "test over")
		tc.Close()
	})
	if _, err := streaming.EnsureTopics(testenv.Context(t, time.Minute), brokers,
		streaming.TopicSpec{Name: topic, Partitions: ordersPartitions, ReplicationFactor: 1},
		streaming.TopicSpec{Name: dlq, Partitions: 1, ReplicationFactor: 1},
		streaming.TopicSpec{Name: inventory, Partitions: partitions, ReplicationFactor: 1},
		streaming.TopicSpec{Name: clickstream, Partitions: partitions, ReplicationFactor: 1},
		streaming.TopicSpec{Name: payments, Partitions: partitions, ReplicationFactor: 1},
		streaming.TopicSpec{Name: market, Partitions: partitions, ReplicationFactor: 1},
		streaming.TopicSpec{Name: customers, Partitions: partitions, ReplicationFactor: 1}); err != nil {
		t.Fatal(err)
	}
	return h
}

// startWorker starts `shoppulse worker` as a child process.
func (h *harness) startWorker() *exec.Cmd {
	cmd := exec.Command(h.bin, "worker")
	cmd.Env = h.env
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatalf("start worker: %v", err)
	}
	h.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	})
	return cmd
}

// killAfter SIGKILLs the worker w once applied() reaches n, reaps it and
// returns applied() after the kill.
func (h *harness) killAfter(ctx context.Context, w *exec.Cmd, n int64, applied func() int64) int64 {
	h.t.Helper()
	for applied() < n {
		if ctx.Err() != nil {
			h.t.Fatal("the worker never started consuming")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := w.Process.Signal(syscall.SIGKILL); err != nil {
		h.t.Fatal(err)
	}
	_ = w.Wait()
	return applied()
}

func (h *harness) produce(ctx context.Context, orders []events.OrderPlaced) {
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: h.brokers, Topic: h.topic})
	defer p.Close()
	if err := p.Produce(ctx, orders...); err != nil {
		h.t.Fatalf("produce: %v", err)
	}
}

// applied returns how many messages the stored offsets cover.
func (h *harness) applied(ctx context.Context) int64 {
	states, err := h.schema.DB.Offsets(ctx, h.topic)
	if err != nil {
		h.t.Fatal(err)
	}
	var n int64
	for _, s := range states {
		n += s.NextOffset
	}
	return n
}

// waitForEnd waits until every stored offset equals the topic's end offset.
func (h *harness) waitForEnd(ctx context.Context) {
	h.t.Helper()
	testenv.WaitCaughtUp(h.t, ctx, h.schema.DB, h.brokers, h.topic, partitions)
}

func (h *harness) checkTotals(ctx context.Context, orders []events.OrderPlaced) {
	want := map[time.Time]totals{}
	for _, o := range orders {
		m := o.EventTime.UTC().Truncate(time.Minute)
		w := want[m]
		w.orders++
		w.units += o.Units()
		w.revenue += o.TotalMinor
		want[m] = w
	}
	rows, err := h.schema.DB.Pool.Query(ctx, `SELECT minute, orders, units, revenue_minor FROM revenue_minute`)
	if err != nil {
		h.t.Fatal(err)
	}
	got := map[time.Time]totals{}
	for rows.Next() {
		var m time.Time
		var g totals
		if err := rows.Scan(&m, &g.orders, &g.units, &g.revenue); err != nil {
			h.t.Fatal(err)
		}
		got[m.UTC()] = g
	}
	rows.Close()
	if len(got) != len(want) {
		h.t.Errorf("minutes: want %d, got %d", len(want), len(got))
	}
	for m, w := range want {
		if got[m] != w {
			h.t.Errorf("minute %s: want %+v, got %+v", m.Format(time.RFC3339), w, got[m])
		}
	}
	var stored int
	if err := h.schema.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM orders`).Scan(&stored); err != nil {
		h.t.Fatal(err)
	}
	if stored != len(orders) {
		h.t.Errorf("orders stored: want %d, got %d", len(orders), stored)
	}
}

func simulate(seed int64, n int, from time.Time) []events.OrderPlaced {
	sim := ingest.NewSimulator(ingest.SimConfig{Seed: seed, Customers: 300, Products: 80})
	out := make([]events.OrderPlaced, n)
	for i := range out {
		out[i] = sim.Next(from.Add(time.Duration(i) * 150 * time.Millisecond))
	}
	return out
}

// TestEndToEnd_ExactTotalsThenRollup produces a known set of orders, lets
// the worker consume them under the supervisor workflow, checks every
// minute's totals to the cent and the offsets against the topic's end, then
// runs the hourly rollup workflow by hand.
func TestEndToEnd_ExactTotalsThenRollup(t *testing.T) {
	h := newHarness(t)
	ctx := testenv.Context(t, 4*time.Minute)
	from := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)
	orders := simulate(7, 1500, from)
	h.produce(ctx, orders)
	h.startWorker()
	h.waitForEnd(ctx)
	h.checkTotals(ctx, orders)

	run, err := h.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: h.queue},
		workflows.NameRevenueRollupHourly, workflows.RollupInput{Hour: from, Topic: h.topic, WatermarkWait: workflows.Duration(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	var res workflows.RollupResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatalf("rollup workflow: %v", err)
	}
	var want totals
	for _, o := range orders {
		if o.EventTime.Before(from.Add(time.Hour)) {
			want.orders++
			want.revenue += o.TotalMinor
		}
	}
	if !res.Complete || res.Orders != want.orders || res.RevenueMinor != want.revenue {
		t.Fatalf("rollup of %s: want complete, %d orders, %d minor; got %+v", from, want.orders, want.revenue, res)
	}
}

// TestEndToEnd_WorkerKilledMidStream SIGKILLs the worker while it consumes,
// starts another, and requires the same exact totals: nothing lost, nothing
// counted twice.
func TestEndToEnd_WorkerKilledMidStream(t *testing.T) {
	h := newHarness(t)
	ctx := testenv.Context(t, 5*time.Minute)
	from := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
	orders := simulate(11, 6000, from)
	h.produce(ctx, orders[:4000])

	killedAt := h.killAfter(ctx, h.startWorker(), 300, func() int64 { return h.applied(ctx) })
	if killedAt >= 4000 {
		t.Fatalf("the worker had consumed everything (%d) before the kill; the test proves nothing", killedAt)
	}
	t.Logf("killed the worker after %d of 4000 events", killedAt)

	h.produce(ctx, orders[4000:])
	h.startWorker()
	h.waitForEnd(ctx)
	h.checkTotals(ctx, orders)

	var zombies int
	if err := h.schema.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM orders GROUP BY event_id HAVING count(*) > 1`).Scan(&zombies); err != nil && !strings.Contains(err.Error(), "no rows") {
		t.Fatal(err)
	}
	_ = store.ErrFenced
}
