// Package bench measures the hot path end to end against the real broker and
// database: events produced to Kafka, consumed, validated and committed to
// PostgreSQL exactly once. Each run uses a fresh topic and a fresh schema, and
// measures in the same run a floor (the same topic read with kafka-go and
// discarded), so figures can be read as ratios on a shared, noisy machine.
//
// It owns no pipeline logic: it drives streaming.Consumer and ingest's
// producer and simulator as they are.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

// Config is one bench run.
type Config struct {
	Brokers     []string
	DatabaseURL string
	// Events to produce.
	Events int
	// Rate is the open-loop production rate in events/s; 0 produces as fast
	// as possible (maximum throughput).
	Rate       float64
	Partitions int
	// Consumers splits the partitions over this many consumers, as the
	// supervisor would over activities.
	Consumers int
	BatchSize int
	BatchWait time.Duration
	Seed      int64
	// Keep leaves the topic and schema in place for a look.
	Keep bool
	// SQLProfile prints the time spent in each SQL statement.
	SQLProfile bool
}

// Result is what a run measured. JSON names are the bench's public format.
type Result struct {
	Mode       string  `json:"mode"`
	Events     int     `json:"events"`
	Seconds    float64 `json:"seconds"`
	EventsPerS float64 `json:"events_per_s"`
	// Latency from an event's production to its batch's commit.
	P50ms  float64 `json:"p50_ms"`
	P99ms  float64 `json:"p99_ms"`
	P999ms float64 `json:"p999_ms"`
	// FloorEventsPerS is the same topic read with kafka-go and discarded.
	FloorEventsPerS float64 `json:"floor_events_per_s"`
	// RatioToFloor is EventsPerS / FloorEventsPerS.
	RatioToFloor   float64 `json:"ratio_to_floor"`
	CPUSPerMillion float64 `json:"cpu_s_per_million"`
	RSSMB          float64 `json:"rss_mb"`
	// Exact is true when the committed totals equal the produced totals.
	Exact      bool    `json:"exact"`
	Partitions int     `json:"partitions"`
	BatchSize  int     `json:"batch_size"`
	TargetRate float64 `json:"target_rate,omitempty"`
}

// Run runs one bench. Progress lines go to out.
func Run(ctx context.Context, cfg Config, out io.Writer) (Result, error) {
	if cfg.Events < 1 || cfg.Partitions < 1 || cfg.Consumers < 1 || cfg.BatchSize < 1 || cfg.BatchWait <= 0 {
		return Result{}, fmt.Errorf("bench: events, partitions, consumers, batch size and wait must be positive: %+v", cfg)
	}
	suffix := randomSuffix()
	topic, dlq, schema := "bench.orders."+suffix, "bench.dlq."+suffix, "bench_"+suffix
	if _, err := streaming.EnsureTopics(ctx, cfg.Brokers,
		streaming.TopicSpec{Name: topic, Partitions: cfg.Partitions, ReplicationFactor: 1},
		streaming.TopicSpec{Name: dlq, Partitions: 1, ReplicationFactor: 1}); err != nil {
		return Result{}, err
	}
	var trace *sqlTrace
	scfg := store.Config{URL: cfg.DatabaseURL, MaxConns: int32(cfg.Partitions + 4), Schema: schema}
	if cfg.SQLProfile {
		trace = newSQLTrace()
		scfg.Tracer = trace
	}
	db, err := store.Open(ctx, scfg)
	if err != nil {
		return Result{}, err
	}
	defer db.Close()
	if !cfg.Keep {
		defer dropSchema(cfg.DatabaseURL, schema)
		defer deleteTopics(cfg.Brokers, topic, dlq)
	}
	if _, err := db.Migrate(ctx); err != nil {
		return Result{}, err
	}
	if err := db.InitOffsets(ctx, topic, cfg.Partitions); err != nil {
		return Result{}, err
	}

	res := Result{Mode: "max", Events: cfg.Events, Partitions: cfg.Partitions, BatchSize: cfg.BatchSize}
	if cfg.Rate > 0 {
		res.Mode, res.TargetRate = "rate", cfg.Rate
	}
	fmt.Fprintf(out, "bench: %s, %d events, %d partitions, %d consumers, batch %d/%s\n",
		res.Mode, cfg.Events, cfg.Partitions, cfg.Consumers, cfg.BatchSize, cfg.BatchWait)

	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, cfg.Events)
		committed int
		lastAt    time.Time
	)
	done := make(chan struct{})
	onCommit := func(c streaming.Commit) {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range c.Batch.Orders {
			latencies = append(latencies, c.At.Sub(o.Order.EventTime))
		}
		committed += len(c.Batch.Orders) + len(c.Batch.DeadLetters)
		lastAt = c.At
		if committed >= cfg.Events {
			select {
			case <-done:
			default:
				close(done)
			}
		}
	}

	cpu0, start := cpuSeconds(), time.Now()
	runCtx, stopConsumers := context.WithCancel(ctx)
	defer stopConsumers()
	g, gctx := errgroup.WithContext(runCtx)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, set := range split(cfg.Partitions, cfg.Consumers) {
		c, err := streaming.NewConsumer(streaming.Config{
			Brokers: cfg.Brokers, Topic: topic, DLQTopic: dlq, Partitions: set,
			BatchSize: cfg.BatchSize, BatchWait: cfg.BatchWait, Owner: "bench",
		}, db, nil, log)
		if err != nil {
			return Result{}, err
		}
		c.OnCommit(onCommit)
		g.Go(func() error { return c.Run(gctx) })
	}

	var want totals
	g.Go(func() error {
		var err error
		want, err = produce(gctx, cfg, topic, out)
		return err
	})
	g.Go(func() error {
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				stopConsumers()
				return nil
			case <-gctx.Done():
				return nil
			case <-t.C:
				mu.Lock()
				n := committed
				mu.Unlock()
				fmt.Fprintf(out, "bench: %d/%d committed, %.0f/s\n", n, cfg.Events, float64(n)/time.Since(start).Seconds())
			}
		}
	})
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return Result{}, err
	}
	if ctx.Err() != nil {
		return Result{}, ctx.Err()
	}
	elapsed := lastAt.Sub(start)
	res.Seconds = elapsed.Seconds()
	res.EventsPerS = float64(cfg.Events) / elapsed.Seconds()
	res.CPUSPerMillion = (cpuSeconds() - cpu0) / float64(cfg.Events) * 1e6
	res.RSSMB = peakRSSMB()
	res.P50ms, res.P99ms, res.P999ms = quantileMS(latencies, 0.50), quantileMS(latencies, 0.99), quantileMS(latencies, 0.999)

	if trace != nil {
		trace.write(out, cfg.Events)
	}
	got, err := committedTotals(ctx, db)
	if err != nil {
		return res, err
	}
	res.Exact = got == want
	if !res.Exact {
		fmt.Fprintf(out, "bench: NOT EXACT: produced %+v, committed %+v\n", want, got)
	}

	fmt.Fprintf(out, "bench: floor: reading the same topic with kafka-go, discarding\n")
	floor, err := readFloor(ctx, cfg.Brokers, topic, cfg.Partitions, cfg.Events)
	if err != nil {
		return res, err
	}
	res.FloorEventsPerS = floor
	if floor > 0 {
		res.RatioToFloor = res.EventsPerS / floor
	}
	return res, nil
}

type totals struct {
	Orders, Revenue int64
}

// produce sends cfg.Events simulated orders stamped with their production
// time, open loop at cfg.Rate (or as fast as possible), and returns their totals.
func produce(ctx context.Context, cfg Config, topic string, out io.Writer) (totals, error) {
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: cfg.Brokers, Topic: topic, BatchSize: 2000, BatchTimeout: 5 * time.Millisecond})
	defer p.Close()
	sim := ingest.NewSimulator(ingest.SimConfig{Seed: cfg.Seed, Customers: 5000, Products: 500})
	var lim *rate.Limiter
	if cfg.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.Rate), max(1, int(cfg.Rate/100)))
	}
	const chunk = 500
	var want totals
	// Produce from a few goroutines so the writer's batches fill; each
	// Produce call blocks until its events are acknowledged.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	var mu sync.Mutex
	for sent := 0; sent < cfg.Events; {
		n := min(chunk, cfg.Events-sent)
		if lim != nil {
			n = min(n, max(1, int(cfg.Rate/200)))
			if err := lim.WaitN(gctx, n); err != nil {
				break
			}
		}
		batch := make([]events.OrderPlaced, n)
		now := time.Now()
		var bt totals
		for i := range batch {
			batch[i] = sim.Next(now)
			bt.Orders++
			bt.Revenue += batch[i].TotalMinor
		}
		mu.Lock()
		want.Orders += bt.Orders
		want.Revenue += bt.Revenue
		mu.Unlock()
		sent += n
		g.Go(func() error { return p.Produce(gctx, batch...) })
	}
	if err := g.Wait(); err != nil {
		return want, fmt.Errorf("bench produce: %w", err)
	}
	fmt.Fprintf(out, "bench: produced %d events\n", want.Orders)
	return want, nil
}

func committedTotals(ctx context.Context, db *store.DB) (totals, error) {
	var t totals
	err := db.Pool.QueryRow(ctx, `SELECT coalesce(sum(orders), 0), coalesce(sum(revenue_minor), 0) FROM revenue_minute`).Scan(&t.Orders, &t.Revenue)
	if err != nil {
		return t, fmt.Errorf("read committed totals: %w", err)
	}
	return t, nil
}

// readFloor reads every partition from the start with one kafka-go reader
// each, discarding the messages, and returns messages per second.
func readFloor(ctx context.Context, brokers []string, topic string, partitions, events int) (float64, error) {
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	var mu sync.Mutex
	read := 0
	end, err := streaming.EndOffsets(ctx, brokers, topic, partitions)
	if err != nil {
		return 0, err
	}
	for p := 0; p < partitions; p++ {
		g.Go(func() error {
			if end[p] == 0 {
				return nil
			}
			r := kafka.NewReader(kafka.ReaderConfig{Brokers: brokers, Topic: topic, Partition: p, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
			defer r.Close()
			for {
				m, err := r.FetchMessage(gctx)
				if err != nil {
					return fmt.Errorf("floor read %s/%d: %w", topic, p, err)
				}
				mu.Lock()
				read++
				mu.Unlock()
				if m.Offset+1 >= end[p] {
					return nil
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return float64(read) / time.Since(start).Seconds(), nil
}

func quantileMS(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q * float64(len(s)-1))
	return float64(s[i].Microseconds()) / 1000
}

func split(n, k int) [][]int {
	k = min(k, n)
	sets := make([][]int, k)
	for p := 0; p < n; p++ {
		sets[p%k] = append(sets[p%k], p)
	}
	return sets
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSSMB reads the process's peak resident set (VmHWM) from /proc.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func dropSchema(url, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
}

func deleteTopics(brokers []string, topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...)}
	_, _ = cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
}
