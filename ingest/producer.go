package ingest

import (
	"context"
	"errors"
	"fmt"
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
	// Topic receives every message. It must exist: the producer does not
	// create topics.
	Topic string
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
	if c.Topic == "" {
		errs = append(errs, errors.New("producer config: topic: required"))
	}
	if c.BatchSize < 0 || c.BatchTimeout < 0 || c.WriteTimeout < 0 || c.MaxAttempts < 0 {
		errs = append(errs, errors.New("producer config: batch size, timeouts and attempts must not be negative"))
	}
	return errors.Join(errs...)
}

// Producer writes events to one Kafka topic. It is safe for concurrent use;
// concurrent Produce calls share batches, which is the cheapest way to go
// faster.
type Producer struct {
	w     *kafka.Writer
	topic string
	err   error // from Validate: every call returns it
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
		topic: cfg.Topic,
		w: &kafka.Writer{
			Addr:         kafka.TCP(cfg.Brokers...),
			Topic:        cfg.Topic,
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

// Produce encodes orders as JSON and writes them keyed by customer id. It
// blocks until every message is acknowledged by all in-sync replicas or the
// writer gives up; the error then wraps kafka.WriteErrors (per message) or
// the cause. Orders are not validated here: the consumer validates and
// dead-letters, and tests rely on sending bad events.
func (p *Producer) Produce(ctx context.Context, orders ...events.OrderPlaced) error {
	if p.err != nil {
		return fmt.Errorf("produce: %w", p.err)
	}
	if len(orders) == 0 {
		return nil
	}
	msgs := make([]kafka.Message, len(orders))
	for i, o := range orders {
		b, err := o.Encode()
		if err != nil {
			return fmt.Errorf("produce: encode order %q: %w", o.OrderID, err)
		}
		msgs[i] = kafka.Message{Key: o.Key(), Value: b}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("produce %d orders to %s: %w", len(orders), p.topic, err)
	}
	return nil
}

// ProduceRaw writes one message as given: any bytes, any key (nil spreads
// keyless messages at random). Tests use it to inject poison messages.
func (p *Producer) ProduceRaw(ctx context.Context, key, value []byte) error {
	if p.err != nil {
		return fmt.Errorf("produce raw: %w", p.err)
	}
	if err := p.w.WriteMessages(ctx, kafka.Message{Key: key, Value: value}); err != nil {
		return fmt.Errorf("produce raw to %s: %w", p.topic, err)
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
