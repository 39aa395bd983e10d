package streaming

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoppulse/shoppulse/events"
)

// TopicSpec is a topic ShopPulse creates.
type TopicSpec struct {
	Name              string
	Partitions        int
	ReplicationFactor int
}

// EnsureTopics creates the topics that do not exist yet and returns the
// partition count of each (which may differ from the spec for a topic that
// already existed). It uses the protocol-negotiating kafka.Client, as Kafka 4
// no longer answers the old CreateTopics versions.
func EnsureTopics(ctx context.Context, brokers []string, specs ...TopicSpec) (map[string]int, error) {
	return Kafka{Brokers: brokers}.EnsureTopics(ctx, specs...)
}

// EnsureTopics is EnsureTopics on k's brokers, over k's TLS.
func (k Kafka) EnsureTopics(ctx context.Context, specs ...TopicSpec) (map[string]int, error) {
	if len(k.Brokers) == 0 {
		return nil, errors.New("ensure topics: no brokers")
	}
	cl := k.Client(30 * time.Second)
	defer closeIdle(cl)
	req := &kafka.CreateTopicsRequest{}
	for _, s := range specs {
		req.Topics = append(req.Topics, kafka.TopicConfig{
			Topic:             s.Name,
			NumPartitions:     s.Partitions,
			ReplicationFactor: s.ReplicationFactor,
		})
	}
	resp, err := cl.CreateTopics(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("create topics: %w", err)
	}
	for name, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kafka.TopicAlreadyExists) {
			return nil, fmt.Errorf("create topic %s: %w", name, terr)
		}
	}
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.Name
	}
	// Metadata and leadership may lag the creation for a moment.
	out := map[string]int{}
	deadline := time.Now().Add(time.Minute) // a loaded broker elects leaders slowly
	for attempt := 0; ; attempt++ {
		meta, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
		if err == nil {
			for _, t := range meta.Topics {
				if t.Error == nil && len(t.Partitions) > 0 && allLed(t.Partitions) {
					out[t.Name] = len(t.Partitions)
				}
			}
			if len(out) == len(names) {
				return out, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("topics %v not visible after creation: %v", names, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// allLed reports whether every partition has a leader: until then produce
// and list-offsets requests fail with "not leader".
func allLed(ps []kafka.Partition) bool {
	for _, p := range ps {
		if p.Leader.Host == "" || p.Error != nil {
			return false
		}
	}
	return true
}

// EndOffsets returns the end (high watermark) offset of each partition of a
// topic, by partition. Right after a topic is created its partitions may
// still be moving to their leader; EndOffsets waits that out.
func EndOffsets(ctx context.Context, brokers []string, topic string, partitions int) (map[int]int64, error) {
	return Kafka{Brokers: brokers}.EndOffsets(ctx, topic, partitions)
}

// EndOffsets is EndOffsets on k's brokers, over k's TLS.
func (k Kafka) EndOffsets(ctx context.Context, topic string, partitions int) (map[int]int64, error) {
	for attempt := 0; ; attempt++ {
		out, err := k.endOffsets(ctx, topic, partitions)
		transient := errors.Is(err, kafka.NotLeaderForPartition) || errors.Is(err, kafka.LeaderNotAvailable) ||
			errors.Is(err, kafka.UnknownTopicOrPartition)
		if err == nil || !transient || attempt == 50 {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (k Kafka) endOffsets(ctx context.Context, topic string, partitions int) (map[int]int64, error) {
	cl := k.Client(30 * time.Second)
	defer closeIdle(cl)
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for p := 0; p < partitions; p++ {
		req.Topics[topic] = append(req.Topics[topic], kafka.LastOffsetOf(p))
	}
	resp, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
	}
	return out, nil
}

// Reachable reports whether a broker accepts TCP connections.
func Reachable(ctx context.Context, broker string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", broker)
	if err != nil {
		return fmt.Errorf("kafka broker %s: %w", broker, err)
	}
	return conn.Close()
}

// CatalogueTopics lists every topic of the event catalogue, each with the
// given partitions and replication factor, for EnsureTopics.
func CatalogueTopics(partitions, replicationFactor int) []TopicSpec {
	names := []string{
		events.TopicClickstream, events.TopicOrders, events.TopicPayments, events.TopicInventory,
		events.TopicMarket, events.TopicCustomers, events.TopicDLQ,
	}
	specs := make([]TopicSpec, len(names))
	for i, n := range names {
		specs[i] = TopicSpec{Name: n, Partitions: partitions, ReplicationFactor: replicationFactor}
	}
	return specs
}
