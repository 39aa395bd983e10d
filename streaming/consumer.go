// Package streaming owns ShopPulse's hot path: the partition consumer loop
// that reads Kafka, validates events, dead-letters bad ones and commits each
// micro-batch's results together with its offsets in one Postgres
// transaction (DESIGN.md invariants 1 to 4).
//
// It must not import Temporal: ownership of partitions is decided outside
// (the supervisor workflow runs one Consumer per partition set), and the
// offset fence in store makes a stale owner harmless.
package streaming

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/store"
)

// Config says what one Consumer reads and how it batches.
type Config struct {
	Brokers []string
	// TLS, when set, secures every connection to the brokers (config
	// kafka.tls).
	TLS        *tls.Config
	Topic      string
	DLQTopic   string
	Partitions []int
	// BatchSize and BatchWait bound a micro-batch: it commits when it holds
	// BatchSize messages or BatchWait after its first message, whichever
	// comes first.
	BatchSize int
	BatchWait time.Duration
	// IdleCheck is how often an idle partition records that it is caught up.
	IdleCheck time.Duration
	// Owner names this consumer in stream_offsets, for operators.
	Owner string
}

// kafka is how the consumer reaches the brokers.
func (c Config) kafka() Kafka { return Kafka{Brokers: c.Brokers, TLS: c.TLS} }

// Validate checks the config.
func (c Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("streaming: no brokers"))
	}
	if c.Topic == "" || c.DLQTopic == "" {
		errs = append(errs, errors.New("streaming: topic and DLQ topic are required"))
	}
	if len(c.Partitions) == 0 {
		errs = append(errs, errors.New("streaming: no partitions to consume"))
	}
	if c.BatchSize < 1 || c.BatchWait <= 0 {
		errs = append(errs, fmt.Errorf("streaming: batch size %d and wait %s must be positive", c.BatchSize, c.BatchWait))
	}
	return errors.Join(errs...)
}

// Progress is where one partition stands after a commit.
type Progress struct {
	Partition  int       `json:"partition"`
	NextOffset int64     `json:"next_offset"`
	Lag        int64     `json:"lag"`
	Watermark  time.Time `json:"watermark"`
}

// Consumer consumes a set of partitions of one topic into Postgres.
type Consumer struct {
	cfg     Config
	db      *store.DB
	sink    Sink
	metrics *Metrics
	log     *slog.Logger
	now     func() time.Time
	dlq     *kafka.Writer

	mu       sync.Mutex
	progress map[int]Progress
	onCommit func(Commit)
}

// NewConsumer returns a consumer of an orders topic, scoring orders for
// fraud with the default alert threshold; Run starts it. metrics
// may be nil.
func NewConsumer(cfg Config, db *store.DB, metrics *Metrics, log *slog.Logger) (*Consumer, error) {
	return NewSinkConsumer(cfg, db, NewOrderSink(db, 0, log), metrics, log)
}

// NewSinkConsumer returns a consumer whose batches the sink builds and
// commits; Run starts it. db holds the stored offsets. metrics may be nil.
func NewSinkConsumer(cfg Config, db *store.DB, sink Sink, metrics *Metrics, log *slog.Logger) (*Consumer, error) {
	if sink == nil {
		return nil, errors.New("streaming: no sink")
	}
	if cfg.IdleCheck <= 0 {
		cfg.IdleCheck = time.Second
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if metrics == nil {
		metrics = NewMetrics(nil)
	}
	return &Consumer{
		cfg:      cfg,
		db:       db,
		sink:     sink,
		metrics:  metrics,
		log:      log.With("topic", cfg.Topic),
		now:      time.Now,
		progress: map[int]Progress{},
		dlq: &kafka.Writer{
			Addr:         kafka.TCP(cfg.Brokers...),
			Transport:    cfg.kafka().Transport(),
			Topic:        cfg.DLQTopic,
			Balancer:     &kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll,
			BatchTimeout: 5 * time.Millisecond,
		},
	}, nil
}

// Commit describes one committed batch, for OnCommit.
type Commit struct {
	Progress Progress
	// At is when the transaction committed.
	At time.Time
	// Batch is what was committed when the topic carries orders (nil for
	// other topic kinds); the callee must not keep or change it.
	Batch *store.OrderBatch
	// Events is the committed batch of any topic kind, for its EventTimes;
	// the callee must not keep it.
	Events Batch
	// Result is what the commit changed.
	Result store.BatchResult
}

// OnCommit sets a function called after every committed batch, from the
// partition's goroutine, so calls for different partitions may overlap. It
// must not block. Set it before Run.
func (c *Consumer) OnCommit(f func(Commit)) { c.onCommit = f }

// Progress returns the latest progress of every partition, by partition.
func (c *Consumer) Progress() []Progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Progress, 0, len(c.progress))
	for _, p := range c.cfg.Partitions {
		if pr, ok := c.progress[p]; ok {
			out = append(out, pr)
		}
	}
	return out
}

// Run consumes until ctx is cancelled (then it returns nil) or a partition
// fails. A partition whose offset another owner moved returns an error
// wrapping store.ErrFenced, and Run stops every partition: the caller's
// ownership is stale. Run closes the consumer's writer when it returns.
func (c *Consumer) Run(ctx context.Context) error {
	defer c.dlq.Close()
	g, ctx := errgroup.WithContext(ctx)
	for _, p := range c.cfg.Partitions {
		g.Go(func() error { return c.runPartition(ctx, p) })
	}
	return g.Wait()
}

func (c *Consumer) runPartition(ctx context.Context, partition int) error {
	log := c.log.With("partition", partition)
	next, err := c.db.LoadOffset(ctx, c.cfg.Topic, partition)
	if err != nil {
		return err
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:       c.cfg.Brokers,
		Dialer:        c.cfg.kafka().Dialer(),
		Topic:         c.cfg.Topic,
		Partition:     partition,
		MinBytes:      1,
		MaxBytes:      16 << 20,
		MaxWait:       c.cfg.BatchWait,
		QueueCapacity: c.cfg.BatchSize,
	})
	defer r.Close()
	if err := r.SetOffset(next); err != nil {
		return fmt.Errorf("seek %s/%d to %d: %w", c.cfg.Topic, partition, next, err)
	}
	log.Info("partition owned", "next_offset", next)

	lag := int64(-1) // unknown until the first fetch or lag read
	var lastIdleMark time.Time
	for {
		msgs, err := c.fetchBatch(ctx, r)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("fetch %s/%d: %w", c.cfg.Topic, partition, err)
		}
		if len(msgs) == 0 {
			if c.now().Sub(lastIdleMark) < c.cfg.IdleCheck {
				continue
			}
			lastIdleMark = c.now()
			if lag != 0 {
				if lag, err = r.ReadLag(ctx); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					// The lag only marks the partition caught up and feeds
					// a gauge: a broker moving leaders (not leader for
					// partition) must not stop the partition. Try again at
					// the next idle check.
					log.Warn("read lag failed; will try again", "err", err)
					lag = -1
					continue
				}
			}
			c.metrics.lag.WithLabelValues(c.cfg.Topic, strconv.Itoa(partition)).Set(float64(lag))
			if lag == 0 {
				if err := c.db.MarkCaughtUp(ctx, c.cfg.Topic, partition, next, c.cfg.Owner); err != nil {
					if ctx.Err() != nil {
						return nil
					}
					c.metrics.fenced.WithLabelValues(c.cfg.Topic).Inc()
					return err
				}
			}
			continue
		}
		if first := msgs[0].Offset; first < next {
			return fmt.Errorf("fetch %s/%d: got offset %d, expected %d or later", c.cfg.Topic, partition, first, next)
		}

		batch, meta := c.buildBatch(partition, next, msgs)
		lag = msgs[len(msgs)-1].HighWaterMark - meta.End
		meta.CaughtUp = lag == 0
		if err := c.publishDeadLetters(ctx, partition, meta.DeadLetters); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		began := time.Now()
		res, err := batch.Commit(ctx, meta)
		if err != nil {
			if errors.Is(err, store.ErrFenced) {
				c.metrics.fenced.WithLabelValues(c.cfg.Topic).Inc()
				log.Warn("fenced: another owner moved this partition on; stopping", "err", err)
				return err
			}
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		committed := time.Now()
		c.observe(partition, batch, res, lag, committed.Sub(began), committed)
		next = meta.End
		pr := Progress{Partition: partition, NextOffset: next, Lag: lag, Watermark: res.Watermark}
		c.mu.Lock()
		c.progress[partition] = pr
		c.mu.Unlock()
		if c.onCommit != nil {
			cm := Commit{Progress: pr, At: committed, Result: res, Events: batch}
			if ob, ok := batch.(*orderBatch); ok {
				cm.Batch = &ob.b
			}
			c.onCommit(cm)
		}
	}
}

// fetchBatch blocks up to IdleCheck for a first message, then collects more
// until BatchSize messages or BatchWait after the first. It returns an empty
// batch when the partition stayed idle.
func (c *Consumer) fetchBatch(ctx context.Context, r *kafka.Reader) ([]kafka.Message, error) {
	idleCtx, cancel := context.WithTimeout(ctx, c.cfg.IdleCheck)
	m, err := r.FetchMessage(idleCtx)
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, nil
		}
		return nil, err
	}
	msgs := make([]kafka.Message, 1, c.cfg.BatchSize)
	msgs[0] = m
	waitCtx, cancel := context.WithTimeout(ctx, c.cfg.BatchWait)
	defer cancel()
	for len(msgs) < c.cfg.BatchSize {
		m, err := r.FetchMessage(waitCtx)
		if err != nil {
			if waitCtx.Err() != nil && ctx.Err() == nil {
				break // the batch's time is up: commit what we have
			}
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// buildBatch decodes the messages: the sink's batch takes each valid event
// that belongs on its topic kind, and the others become dead letters.
func (c *Consumer) buildBatch(partition int, start int64, msgs []kafka.Message) (Batch, store.BatchMeta) {
	meta := store.BatchMeta{
		Topic:     c.cfg.Topic,
		Partition: partition,
		Start:     start,
		End:       msgs[len(msgs)-1].Offset + 1,
		Owner:     c.cfg.Owner,
	}
	b := c.sink.NewBatch(len(msgs))
	now := c.now()
	for _, m := range msgs {
		ev, err := events.Decode(m.Value, now)
		if err != nil {
			meta.DeadLetters = append(meta.DeadLetters, store.DeadLetter{Offset: m.Offset, Reason: err.Error(), Key: m.Key, Payload: m.Value})
			continue
		}
		if !b.Add(ev, m.Offset) {
			reason := fmt.Sprintf("event type %q does not belong on topic %s (it goes to %s)", ev.Head().Type, c.cfg.Topic, ev.Topic())
			meta.DeadLetters = append(meta.DeadLetters, store.DeadLetter{Offset: m.Offset, Reason: reason, Key: m.Key, Payload: m.Value})
		}
	}
	return b, meta
}

// publishDeadLetters copies invalid events to the DLQ topic with their origin
// and reason in headers. It runs before the batch commits, so a crash between
// the two can publish a dead letter twice (the headers identify it); the
// dead_letters table, written under the fence, holds each exactly once.
func (c *Consumer) publishDeadLetters(ctx context.Context, partition int, dls []store.DeadLetter) error {
	if len(dls) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(dls))
	for i, d := range dls {
		msgs[i] = kafka.Message{
			Key:   d.Key,
			Value: d.Payload,
			Headers: []kafka.Header{
				{Key: "source_topic", Value: []byte(c.cfg.Topic)},
				{Key: "source_partition", Value: []byte(strconv.Itoa(partition))},
				{Key: "source_offset", Value: []byte(strconv.FormatInt(d.Offset, 10))},
				{Key: "reason", Value: []byte(d.Reason)},
			},
		}
	}
	if err := c.dlq.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publish %d dead letters to %s: %w", len(dls), c.cfg.DLQTopic, err)
	}
	return nil
}

func (c *Consumer) observe(partition int, b Batch, res store.BatchResult, lag int64, took time.Duration, committed time.Time) {
	t := c.cfg.Topic
	m := c.metrics
	m.events.WithLabelValues(t, "applied").Add(float64(res.Applied))
	m.events.WithLabelValues(t, "duplicate").Add(float64(res.Duplicates))
	m.events.WithLabelValues(t, "dead_letter").Add(float64(res.DeadLetters))
	m.late.WithLabelValues(t).Add(float64(res.Late))
	m.batches.WithLabelValues(t).Inc()
	m.commitSeconds.WithLabelValues(t).Observe(took.Seconds())
	m.lag.WithLabelValues(t, strconv.Itoa(partition)).Set(float64(lag))
	e2e := m.endToEnd.WithLabelValues(t)
	b.EventTimes(func(at time.Time) { e2e.Observe(committed.Sub(at).Seconds()) })
}
