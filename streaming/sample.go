package streaming

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/segmentio/kafka-go"
)

// SampleMessages reads up to max messages of a topic whose Kafka timestamp is
// in [from, to), spread over the partitions (max/partitions each, from the
// first offset at or after from). It reads what the brokers still retain,
// without a consumer group and without moving any stored offset, and returns
// the values in partition and offset order. A partition with nothing in the
// range contributes nothing.
func SampleMessages(ctx context.Context, brokers []string, topic string, from, to time.Time, max int) ([][]byte, error) {
	return Kafka{Brokers: brokers}.SampleMessages(ctx, topic, from, to, max)
}

// SampleMessages is SampleMessages on k's brokers, over k's TLS.
func (k Kafka) SampleMessages(ctx context.Context, topic string, from, to time.Time, max int) ([][]byte, error) {
	cl := k.Client(30 * time.Second)
	defer closeIdle(cl)
	meta, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	if len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		if len(meta.Topics) == 1 {
			return nil, fmt.Errorf("metadata of %s: %w", topic, meta.Topics[0].Error)
		}
		return nil, fmt.Errorf("metadata of %s: topic not found", topic)
	}
	var parts []int
	for _, p := range meta.Topics[0].Partitions {
		parts = append(parts, p.ID)
	}
	sort.Ints(parts)
	if len(parts) == 0 || max <= 0 {
		return nil, nil
	}
	// Kafka answers one offset per partition and request: ask for the
	// ends, then for the first offsets at or after from.
	end, err := listOffsets(ctx, cl, topic, parts, func(p int) kafka.OffsetRequest { return kafka.LastOffsetOf(p) })
	if err != nil {
		return nil, err
	}
	start, err := listOffsets(ctx, cl, topic, parts, func(p int) kafka.OffsetRequest { return kafka.TimeOffsetOf(p, from) })
	if err != nil {
		return nil, err
	}
	per := max / len(parts)
	if per == 0 {
		per = 1
	}
	var out [][]byte
	for _, p := range parts {
		if start[p] < 0 || start[p] >= end[p] {
			continue
		}
		msgs, err := k.readRange(ctx, topic, p, start[p], end[p], to, per)
		if err != nil {
			return out, err
		}
		out = append(out, msgs...)
		if len(out) >= max {
			break
		}
	}
	return out, nil
}

func (k Kafka) readRange(ctx context.Context, topic string, partition int, start, end int64, to time.Time, n int) ([][]byte, error) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: k.Brokers, Dialer: k.Dialer(), Topic: topic, Partition: partition, MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 500 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(start); err != nil {
		return nil, fmt.Errorf("seek %s/%d: %w", topic, partition, err)
	}
	var out [][]byte
	// Every offset in [start, end) exists (or was compacted away): read
	// until end, n messages or one past the range, and fail rather than
	// return a short sample when the broker stops answering.
	for next := start; next < end && len(out) < n; {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		m, err := r.ReadMessage(rctx)
		cancel()
		if err != nil {
			return out, fmt.Errorf("read %s/%d at offset %d (end %d): %w", topic, partition, next, end, err)
		}
		if !m.Time.Before(to) {
			break
		}
		out = append(out, m.Value)
		next = m.Offset + 1
	}
	return out, nil
}

// listOffsets returns one offset per partition: the partition's LastOffset
// for a LastOffsetOf request, else the smallest offset answered (-1: none).
func listOffsets(ctx context.Context, cl *kafka.Client, topic string, parts []int, req func(int) kafka.OffsetRequest) (map[int]int64, error) {
	r := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, p := range parts {
		r.Topics[topic] = append(r.Topics[topic], req(p))
	}
	resp, err := cl.ListOffsets(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("list offsets of %s: %w", topic, err)
	}
	out := map[int]int64{}
	for _, po := range resp.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		out[po.Partition] = po.LastOffset
		if len(po.Offsets) > 0 {
			out[po.Partition] = -1
			for off := range po.Offsets {
				if off >= 0 && (out[po.Partition] < 0 || off < out[po.Partition]) {
					out[po.Partition] = off
				}
			}
		}
	}
	return out, nil
}
