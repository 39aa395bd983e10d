package ingest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoppulse/shoppulse/events"
)

// Defaults of a ProducerConfig.
const (
	DefaultProducerBatchSize    = 1000
	DefaultProducerBatchTimeout = 10 * time.Millisecond
	DefaultProducerWriteTimeout = 10 * time.Second
	DefaultProducerMaxAttempts  = 10
)

// ProducerConfig configures a Producer. Zero values take the defaults.
type ProducerConfig struct {
	// Brokers are the bootstrap addresses, host:port.
	Brokers []string
	// TLS, when set, secures the connections to the brokers (config
	// kafka.tls).
	TLS *tls.Config
	// Topic, when set, receives every message whatever its event's own
	// topic (tests use it to send to a fresh topic). When empty, each event
	// goes to TopicMap[ev.Topic()] or else ev.Topic(). Topics must exist:
	// the producer does not create them.
	Topic string
	// TopicMap renames catalogue topics (events.TopicOrders -> "e2e.orders.x")
	// for Publish; topics absent from it keep their name.
	TopicMap map[string]string
	// BatchSize is the most messages per partition in one produce request.
	BatchSize int
	// BatchTimeout is how long a partial batch waits for more messages. A
	// synchronous Produce of fewer messages than BatchSize per partition
	// waits this long, so keep it small.
	BatchTimeout time.Duration
	// WriteTimeout bounds one produce request to a broker.
	WriteTimeout time.Duration
	// MaxAttempts is how many times a batch is tried before Produce fails.
	MaxAttempts int
}

func (c ProducerConfig) withDefaults() ProducerConfig {
	if c.BatchSize == 0 {
		c.BatchSize = DefaultProducerBatchSize
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultProducerBatchTimeout
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultProducerWriteTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultProducerMaxAttempts
	}
	return c
}

// Validate reports a config the Producer would refuse to use.
func (c ProducerConfig) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("producer config: brokers: at least one host:port required"))
	}
	for i, b := range c.Brokers {
		if b == "" {
			errs = append(errs, fmt.Errorf("producer config: brokers[%d]: empty", i))
		}
	}
	for from, to := range c.TopicMap {
		if from == "" || to == "" {
			errs = append(errs, fmt.Errorf("producer config: topic map: empty name in %q -> %q", from, to))
		}
	}
	if c.BatchSize < 0 || c.BatchTimeout < 0 || c.WriteTimeout < 0 || c.MaxAttempts < 0 {
		errs = append(errs, errors.New("producer config: batch size, timeouts and attempts must not be negative"))
	}
	return errors.Join(errs...)
}

// Producer writes events to their Kafka topics. It is safe for concurrent
// use; concurrent calls share batches, which is the cheapest way to go
// faster.
type Producer struct {
	w        *kafka.Writer
	topic    string            // override of every event's topic, or ""
	topicMap map[string]string // renames of catalogue topics
	err      error             // from Validate: every call returns it
}

// NewProducer returns a Producer for cfg. It does not connect: the first
// Produce does. If cfg is invalid every call returns the validation error, so
// validate configs where they are loaded.
func NewProducer(cfg ProducerConfig) *Producer {
	if err := cfg.Validate(); err != nil {
		return &Producer{topic: cfg.Topic, err: err}
	}
	cfg = cfg.withDefaults()
	return &Producer{
		topic:    cfg.Topic,
		topicMap: maps.Clone(cfg.TopicMap),
		w: &kafka.Writer{
			Addr:      kafka.TCP(cfg.Brokers...),
			Transport: transportOf(cfg.TLS),
			// No Topic on the writer: each message names its own, so one
			// writer serves every topic of the catalogue.
			Balancer:     kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll,
			BatchSize:    cfg.BatchSize,
			BatchTimeout: cfg.BatchTimeout,
			WriteTimeout: cfg.WriteTimeout,
			MaxAttempts:  cfg.MaxAttempts,
			// Topics are created by whoever owns their partition count.
			AllowAutoTopicCreation: false,
		},
	}
}

// TopicOf is the topic Publish sends ev to: the config's Topic, else the
// TopicMap rename of ev.Topic(), else ev.Topic().
func (p *Producer) TopicOf(ev events.Event) string {
	if p.topic != "" {
		return p.topic
	}
	if t, ok := p.topicMap[ev.Topic()]; ok {
		return t
	}
	return ev.Topic()
}

// Publish encodes each event with events.Encode and writes it to its topic
// (see TopicOf) keyed by ev.Key(). It blocks until every message is
// acknowledged by all in-sync replicas or the writer gives up; the error then
// wraps kafka.WriteErrors (per message) or the cause. Events are not
// validated here: the consumer validates and dead-letters, and tests rely on
// sending bad events.
func (p *Producer) Publish(ctx context.Context, evs ...events.Event) error {
	if p.err != nil {
		return fmt.Errorf("publish: %w", p.err)
	}
	if len(evs) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(evs))
	for i, ev := range evs {
		b, err := events.Encode(ev)
		if err != nil {
			return fmt.Errorf("publish: encode event %q: %w", ev.Head().EventID, err)
		}
		msgs[i] = kafka.Message{Topic: p.TopicOf(ev), Key: ev.Key(), Value: b}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publish %d events: %w", len(evs), err)
	}
	return nil
}

// Produce publishes orders; see Publish.
func (p *Producer) Produce(ctx context.Context, orders ...events.OrderPlaced) error {
	evs := make([]events.Event, len(orders))
	for i, o := range orders {
		evs[i] = o
	}
	if err := p.Publish(ctx, evs...); err != nil {
		return fmt.Errorf("produce %d orders: %w", len(orders), err)
	}
	return nil
}

// RawMessage is one message written as given by PublishRaw.
type RawMessage struct {
	Topic string
	Key   []byte // nil spreads keyless messages at random
	Value []byte
}

// PublishRaw writes messages as given, to their own topics (ProducerConfig
// Topic and TopicMap do not apply). dlq replay uses it to re-send dead
// letters to the topic they came from.
func (p *Producer) PublishRaw(ctx context.Context, msgs ...RawMessage) error {
	if p.err != nil {
		return fmt.Errorf("publish raw: %w", p.err)
	}
	if len(msgs) == 0 {
		return nil
	}
	km := make([]kafka.Message, len(msgs))
	for i, m := range msgs {
		if m.Topic == "" {
			return fmt.Errorf("publish raw: message %d: no topic", i)
		}
		km[i] = kafka.Message{Topic: m.Topic, Key: m.Key, Value: m.Value}
	}
	if err := p.w.WriteMessages(ctx, km...); err != nil {
		return fmt.Errorf("publish raw %d messages: %w", len(msgs), err)
	}
	return nil
}

// ProduceRaw writes one message as given, any bytes, any key (nil spreads
// keyless messages at random), to the config's Topic, which must be set.
// Tests use it to inject poison messages.
func (p *Producer) ProduceRaw(ctx context.Context, key, value []byte) error {
	if p.err != nil {
		return fmt.Errorf("produce raw: %w", p.err)
	}
	if p.topic == "" {
		return errors.New("produce raw: producer config has no Topic")
	}
	if err := p.PublishRaw(ctx, RawMessage{Topic: p.topic, Key: key, Value: value}); err != nil {
		return fmt.Errorf("produce raw: %w", err)
	}
	return nil
}

// Close waits for in-flight writes and releases the writer. Produce after
// Close fails.
func (p *Producer) Close() error {
	if p.w == nil {
		return nil
	}
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("close producer: %w", err)
	}
	return nil
}

// transportOf is the writer's transport: kafka-go's shared default without
// TLS, else one with the TLS config.
func transportOf(c *tls.Config) kafka.RoundTripper {
	if c == nil {
		return nil
	}
	return &kafka.Transport{TLS: c}
}
