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
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
	Brokers []string
	// KafkaTLS, when set, secures every connection to the brokers (config
	// kafka.tls).
	KafkaTLS    *tls.Config
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
	// Mix is the traffic: MixShop (default) or MixOrders.
	Mix string
	// Keep leaves the topic and schema in place for a look.
	Keep bool
	// SQLProfile prints the time spent in each SQL statement.
	SQLProfile bool
}

// Result is what a run measured. JSON names are the bench's public format.
type Result struct {
	Mode       string  `json:"mode"`
	Mix        string  `json:"mix"`
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

// Traffic mixes of a run.
const (
	// MixShop is the shop simulator's traffic on every topic of the
	// catalogue (clickstream, orders, payments, inventory, market,
	// customers), each consumed by its own sink, all analytics on.
	MixShop = "shop"
	// MixOrders is simulated orders alone, on the orders topic.
	MixOrders = "orders"
)

// shopEventsPerSecond paces the simulated shop's own clock: low enough that
// a run's events span hours of simulated time, so sessions complete and
// orders, payments and refunds follow their sessions as in a real day.
const shopEventsPerSecond = 50

// kind is one topic of the run and the sink that consumes it.
type kind struct {
	catalogue string
	sink      func(db *store.DB) streaming.Sink
}

func kinds(mix string) []kind {
	orders := kind{events.TopicOrders, func(db *store.DB) streaming.Sink { return streaming.NewOrderSink(db, 0, nil) }}
	if mix == MixOrders {
		return []kind{orders}
	}
	return []kind{
		{events.TopicClickstream, func(db *store.DB) streaming.Sink { return streaming.ClickstreamSink{DB: db} }},
		orders,
		{events.TopicPayments, func(db *store.DB) streaming.Sink { return streaming.PaymentsSink{DB: db} }},
		{events.TopicInventory, func(db *store.DB) streaming.Sink {
			return streaming.InventorySink{DB: db, DefaultReorderPoint: 10}
		}},
		{events.TopicMarket, func(db *store.DB) streaming.Sink { return streaming.MarketSink{DB: db} }},
		{events.TopicCustomers, func(db *store.DB) streaming.Sink { return streaming.CustomersSink{DB: db} }},
	}
}

// Run runs one bench. Progress lines go to out.
func Run(ctx context.Context, cfg Config, out io.Writer) (Result, error) {
	if cfg.Events < 1 || cfg.Partitions < 1 || cfg.Consumers < 1 || cfg.BatchSize < 1 || cfg.BatchWait <= 0 {
		return Result{}, fmt.Errorf("bench: events, partitions, consumers, batch size and wait must be positive: %+v", cfg)
	}
	if cfg.Mix == "" {
		cfg.Mix = MixShop
	}
	if cfg.Mix != MixShop && cfg.Mix != MixOrders {
		return Result{}, fmt.Errorf("bench: mix %q: want %s or %s", cfg.Mix, MixShop, MixOrders)
	}
	suffix := randomSuffix()
	ks := kinds(cfg.Mix)
	dlq, schema := "bench.dlq."+suffix, "bench_"+suffix
	topics := map[string]string{} // catalogue topic -> bench topic
	specs := []streaming.TopicSpec{{Name: dlq, Partitions: 1, ReplicationFactor: 1}}
	var names []string
	for _, k := range ks {
		t := "bench." + strings.TrimPrefix(strings.TrimSuffix(k.catalogue, ".v1"), "shop.") + "." + suffix
		topics[k.catalogue] = t
		names = append(names, t)
		specs = append(specs, streaming.TopicSpec{Name: t, Partitions: cfg.Partitions, ReplicationFactor: 1})
	}
	if _, err := cfg.kafka().EnsureTopics(ctx, specs...); err != nil {
		return Result{}, err
	}
	var trace *sqlTrace
	scfg := store.Config{URL: cfg.DatabaseURL, MaxConns: int32(len(ks)*cfg.Partitions + 4), Schema: schema}
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
		defer deleteTopics(cfg.kafka(), append(names, dlq)...)
	}
	if _, err := db.Migrate(ctx); err != nil {
		return Result{}, err
	}
	for _, t := range names {
		if err := db.InitOffsets(ctx, t, cfg.Partitions); err != nil {
			return Result{}, err
		}
	}

	res := Result{Mode: "max", Mix: cfg.Mix, Events: cfg.Events, Partitions: cfg.Partitions, BatchSize: cfg.BatchSize}
	if cfg.Rate > 0 {
		res.Mode, res.TargetRate = "rate", cfg.Rate
	}
	fmt.Fprintf(out, "bench: %s, %s traffic on %d topics, %d events, %d partitions each, %d consumers per topic, batch %d/%s\n",
		res.Mode, cfg.Mix, len(ks), cfg.Events, cfg.Partitions, cfg.Consumers, cfg.BatchSize, cfg.BatchWait)

	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, cfg.Events)
		next      = map[string]int64{} // "topic/partition" -> committed next offset
		committed int64
		lastAt    time.Time
	)
	done := make(chan struct{})
	onCommit := func(topic string) func(streaming.Commit) {
		return func(c streaming.Commit) {
			mu.Lock()
			defer mu.Unlock()
			c.Events.EventTimes(func(at time.Time) { latencies = append(latencies, c.At.Sub(at)) })
			key := topic + "/" + strconv.Itoa(c.Progress.Partition)
			committed += c.Progress.NextOffset - next[key]
			next[key] = c.Progress.NextOffset
			lastAt = c.At
			if committed >= int64(cfg.Events) {
				select {
				case <-done:
				default:
					close(done)
				}
			}
		}
	}

	cpu0, start := cpuSeconds(), time.Now()
	runCtx, stopConsumers := context.WithCancel(ctx)
	defer stopConsumers()
	g, gctx := errgroup.WithContext(runCtx)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, k := range ks {
		topic := topics[k.catalogue]
		sink := k.sink(db)
		for _, set := range split(cfg.Partitions, cfg.Consumers) {
			c, err := streaming.NewSinkConsumer(streaming.Config{
				Brokers: cfg.Brokers, TLS: cfg.KafkaTLS, Topic: topic, DLQTopic: dlq, Partitions: set,
				BatchSize: cfg.BatchSize, BatchWait: cfg.BatchWait, Owner: "bench",
			}, db, sink, nil, log)
			if err != nil {
				return Result{}, err
			}
			c.OnCommit(onCommit(topic))
			g.Go(func() error { return c.Run(gctx) })
		}
	}

	var want totals
	g.Go(func() error {
		var err error
		want, err = produce(gctx, cfg, topics, out)
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
	got, err := committedTotals(ctx, db, want)
	if err != nil {
		return res, err
	}
	res.Exact = maps.Equal(got, want)
	fmt.Fprintf(out, "bench: produced %s\n", want)
	if !res.Exact {
		fmt.Fprintf(out, "bench: NOT EXACT: committed %s\n", got)
	}

	fmt.Fprintf(out, "bench: floor: reading the same topics with kafka-go, discarding\n")
	floor, err := readFloor(ctx, cfg.kafka(), names, cfg.Partitions)
	if err != nil {
		return res, err
	}
	res.FloorEventsPerS = floor
	if floor > 0 {
		res.RatioToFloor = res.EventsPerS / floor
	}
	return res, nil
}

// totals counts what a run produced, and what it committed, by the table
// each event type is stored in; "revenue_minor" is the orders' revenue and
// "orders" their count, both from revenue_minute.
type totals map[string]int64

func (t totals) String() string {
	keys := slices.Sorted(maps.Keys(t))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.FormatInt(t[k], 10)
	}
	return strings.Join(parts, " ")
}

// tableOf is the table each event type is stored in, once per event id.
var tableOf = map[string]string{
	events.TypePageView: "clickstream_events", events.TypeProductView: "clickstream_events",
	events.TypeSearch: "clickstream_events", events.TypeAddToCart: "clickstream_events",
	events.TypeRemoveFromCart: "clickstream_events", events.TypeCheckoutStarted: "clickstream_events",
	events.TypeOrderPlaced: "orders", events.TypeOrderCancelled: "order_cancellations",
	events.TypePaymentAuthorized: "payments", events.TypePaymentFailed: "payments",
	events.TypeRefund: "refunds", events.TypeChargeback: "chargebacks",
	events.TypeInventoryAdjusted: "inventory_movements",
	events.TypePriceChanged:      "price_changes", events.TypeCompetitorPrice: "competitor_prices",
	events.TypeCustomerRegistered: "customer_events", events.TypeCustomerUpdated: "customer_events",
	events.TypeErasureRequested: "customer_events",
}

// restamp sets an event's time: the bench stamps each event with its
// production time, so latency is production to commit and no simulated
// time is ever in the future.
func restamp(ev events.Event, at time.Time) {
	reflect.ValueOf(ev).Elem().FieldByName("Header").FieldByName("EventTime").Set(reflect.ValueOf(at))
}

// produce sends cfg.Events events of the mix, each stamped with its
// production time, open loop at cfg.Rate (or as fast as possible), and
// returns their totals.
func produce(ctx context.Context, cfg Config, topics map[string]string, out io.Writer) (totals, error) {
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: cfg.Brokers, TLS: cfg.KafkaTLS, TopicMap: topics, BatchSize: 2000, BatchTimeout: 5 * time.Millisecond})
	defer p.Close()
	var next func(now time.Time) events.Event
	if cfg.Mix == MixOrders {
		sim := ingest.NewSimulator(ingest.SimConfig{Seed: cfg.Seed, Customers: 5000, Products: 500})
		next = func(now time.Time) events.Event { o := sim.Next(now); return &o }
	} else {
		shop := ingest.NewShop(ingest.ShopConfig{Seed: cfg.Seed, EventsPerSecond: shopEventsPerSecond, Customers: 5000, Products: 500})
		next = func(now time.Time) events.Event {
			ev, ok := shop.Next()
			if !ok {
				panic("bench: the endless shop ended")
			}
			restamp(ev, now)
			return ev
		}
	}
	var lim *rate.Limiter
	if cfg.Rate > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.Rate), max(1, int(cfg.Rate/100)))
	}
	const chunk = 500
	want := totals{"orders": 0, "revenue_minor": 0, "dead_letters": 0}
	// Produce from a few goroutines so the writer's batches fill; each
	// Publish call blocks until its events are acknowledged.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for sent := 0; sent < cfg.Events; {
		n := min(chunk, cfg.Events-sent)
		if lim != nil {
			n = min(n, max(1, int(cfg.Rate/200)))
			if err := lim.WaitN(gctx, n); err != nil {
				break
			}
		}
		batch := make([]events.Event, n)
		now := time.Now()
		for i := range batch {
			ev := next(now)
			batch[i] = ev
			h := ev.Head()
			if o, ok := ev.(*events.OrderPlaced); ok {
				want["revenue_minor"] += o.TotalMinor
			}
			want[tableOf[h.Type]]++
		}
		sent += n
		g.Go(func() error { return p.Publish(gctx, batch...) })
	}
	if err := g.Wait(); err != nil {
		return want, fmt.Errorf("bench produce: %w", err)
	}
	fmt.Fprintf(out, "bench: produced %d events\n", cfg.Events)
	return want, nil
}

// committedTotals reads the committed counterpart of every key of want.
func committedTotals(ctx context.Context, db *store.DB, want totals) (totals, error) {
	got := totals{}
	for k := range want {
		q := "SELECT count(*) FROM " + pgx.Identifier{k}.Sanitize()
		switch k {
		case "orders":
			q = "SELECT coalesce(sum(orders), 0) FROM revenue_minute"
		case "revenue_minor":
			q = "SELECT coalesce(sum(revenue_minor), 0) FROM revenue_minute"
		}
		var n int64
		if err := db.Pool.QueryRow(ctx, q).Scan(&n); err != nil {
			return nil, fmt.Errorf("read committed %s: %w", k, err)
		}
		got[k] = n
	}
	return got, nil
}

// readFloor reads every partition of the topics from the start with one
// kafka-go reader each, discarding the messages, and returns messages per
// second.
func readFloor(ctx context.Context, k streaming.Kafka, topics []string, partitions int) (float64, error) {
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	var read atomic.Int64
	for _, topic := range topics {
		end, err := k.EndOffsets(ctx, topic, partitions)
		if err != nil {
			return 0, err
		}
		for p := 0; p < partitions; p++ {
			if end[p] == 0 {
				continue
			}
			g.Go(func() error {
				r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers, Dialer: k.Dialer(), Topic: topic, Partition: p, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
				defer r.Close()
				for {
					m, err := r.FetchMessage(gctx)
					if err != nil {
						return fmt.Errorf("floor read %s/%d: %w", topic, p, err)
					}
					read.Add(1)
					if m.Offset+1 >= end[p] {
						return nil
					}
				}
			})
		}
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	return float64(read.Load()) / time.Since(start).Seconds(), nil
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

func deleteTopics(k streaming.Kafka, topics ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := k.Client(30 * time.Second)
	_, _ = cl.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: topics})
}

// kafka is how the bench reaches the brokers.
func (c Config) kafka() streaming.Kafka { return streaming.Kafka{Brokers: c.Brokers, TLS: c.KafkaTLS} }
