// Package oracle checks ShopPulse's exactly-once promise from the outside.
//
// It reads every topic the hot path consumes with its own Kafka readers, from
// the first offset to the end offsets at quiescence, recomputes in memory the
// totals the pipeline claims (revenue and orders per minute, traffic and
// sessions, stock per product and warehouse, payments per minute, the facts
// stored and the dead letters), and compares them with PostgreSQL row by row.
// Every difference is named by its table and key. It shares no code with the
// hot path beyond the event types: events are decoded by the reference
// decoder (the full JSON Schema engine, not the hot path's fast path), and
// the aggregation is plain Go over the whole log, not the pipeline's
// per-batch deltas and upserts.
//
// The accounting invariant it checks per topic: messages in the log =
// events applied + repeats of an applied event + dead letters.
package oracle

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/store"
)

// Topics names the topics the oracle reads, by what they carry. An empty
// name is not checked.
type Topics struct {
	Orders, Inventory, Clickstream, Payments string
}

// Config says where the log is and how the pipeline was configured.
type Config struct {
	Brokers []string
	// TLS, when set, secures the oracle's own connections to the brokers
	// (config kafka.tls).
	TLS    *tls.Config
	Topics Topics
	// SessionGap is the pipeline's stream.session_gap (default 30m).
	SessionGap time.Duration
}

// Difference is one disagreement between the log and the database.
type Difference struct {
	Check string `json:"check"` // the table or invariant, e.g. revenue_minute
	Key   string `json:"key"`   // the row, e.g. 2026-11-26T10:04:00Z/GBP
	Want  string `json:"want"`  // what the log says
	Got   string `json:"got"`   // what the database holds
}

func (d Difference) String() string {
	return fmt.Sprintf("%s %s: want %s, got %s", d.Check, d.Key, d.Want, d.Got)
}

// TopicCount is the accounting of one topic.
type TopicCount struct {
	Topic       string `json:"topic"`
	Messages    int64  `json:"messages"`     // in the log, start to end
	Applied     int64  `json:"applied"`      // distinct valid events
	Repeats     int64  `json:"repeats"`      // repeats of an applied event id
	DeadLetters int64  `json:"dead_letters"` // invalid or on the wrong topic
}

// SeqProblem is a gap or a repeat in one key's sequence numbers.
type SeqProblem struct {
	Source string `json:"source"`
	Key    string `json:"key"`  // the Kafka message key
	Kind   string `json:"kind"` // gap or repeat
	From   int64  `json:"from"` // the missing or repeated range
	To     int64  `json:"to"`
}

// Report is what Check found.
type Report struct {
	Topics      []TopicCount `json:"topics"`
	Compared    int          `json:"rows_compared"`
	Differences []Difference `json:"differences"`
	Sequence    []SeqProblem `json:"sequence_problems"`
}

// OK reports whether the database agrees with the log in every row.
func (r Report) OK() bool { return len(r.Differences) == 0 }

// Write prints the report for people.
func (r Report) Write(w io.Writer) {
	for _, t := range r.Topics {
		fmt.Fprintf(w, "%-24s messages %d = applied %d + repeats %d + dead letters %d\n",
			t.Topic, t.Messages, t.Applied, t.Repeats, t.DeadLetters)
	}
	for _, s := range r.Sequence {
		fmt.Fprintf(w, "sequence %s %s/%s: %d..%d\n", s.Kind, s.Source, s.Key, s.From, s.To)
	}
	fmt.Fprintf(w, "%d rows compared, %d differences\n", r.Compared, len(r.Differences))
	for _, d := range r.Differences {
		fmt.Fprintln(w, "  "+d.String())
	}
}

// Check reads the topics and compares their totals with the database. The
// pipeline must be quiescent: a partition whose committed offset is behind
// the log's end is itself reported as a difference.
func Check(ctx context.Context, cfg Config, db *store.DB) (Report, error) {
	if cfg.SessionGap <= 0 {
		cfg.SessionGap = 30 * time.Minute
	}
	c := &checker{cfg: cfg, db: db, want: newTotals(), seqs: map[seqKey][]int64{}}
	kinds := []struct {
		topic string
		kind  kind
	}{
		{cfg.Topics.Orders, kindOrders},
		{cfg.Topics.Inventory, kindInventory},
		{cfg.Topics.Clickstream, kindClickstream},
		{cfg.Topics.Payments, kindPayments},
	}
	for _, k := range kinds {
		if k.topic == "" {
			continue
		}
		if err := c.readTopic(ctx, k.topic, k.kind); err != nil {
			return Report{}, err
		}
	}
	c.want.sessionize(cfg.SessionGap)
	if err := c.compareTables(ctx); err != nil {
		return Report{}, err
	}
	c.report.Sequence = sequenceProblems(c.seqs)
	sort.Slice(c.report.Differences, func(i, j int) bool {
		a, b := c.report.Differences[i], c.report.Differences[j]
		if a.Check != b.Check {
			return a.Check < b.Check
		}
		return a.Key < b.Key
	})
	return c.report, nil
}

type kind int

const (
	kindOrders kind = iota
	kindInventory
	kindClickstream
	kindPayments
)

// belongs says whether an event type is consumed from a topic of kind k.
func (k kind) belongs(typ string) bool {
	switch k {
	case kindOrders:
		return typ == events.TypeOrderPlaced || typ == events.TypeOrderCancelled
	case kindInventory:
		return typ == events.TypeInventoryAdjusted
	case kindClickstream:
		switch typ {
		case events.TypePageView, events.TypeProductView, events.TypeSearch,
			events.TypeAddToCart, events.TypeRemoveFromCart, events.TypeCheckoutStarted:
			return true
		}
	case kindPayments:
		switch typ {
		case events.TypePaymentAuthorized, events.TypePaymentFailed, events.TypeRefund, events.TypeChargeback:
			return true
		}
	}
	return false
}

type checker struct {
	cfg    Config
	db     *store.DB
	want   *totals
	seqs   map[seqKey][]int64
	report Report
}

func (c *checker) diff(check, key, want, got string) {
	c.report.Differences = append(c.report.Differences, Difference{Check: check, Key: key, Want: want, Got: got})
}

type deadLetter struct {
	receivedAt time.Time
	reason     string
}

// readTopic reads every partition of topic to its end offset, checks the
// pipeline's committed offset and dead letters against it, and adds the
// valid events to the totals.
func (c *checker) readTopic(ctx context.Context, topic string, k kind) error {
	ends, err := endOffsets(ctx, c.dialer(), c.cfg.Brokers, topic)
	if err != nil {
		return err
	}
	committed, err := c.committedOffsets(ctx, topic)
	if err != nil {
		return err
	}
	dls, err := c.deadLetters(ctx, topic)
	if err != nil {
		return err
	}
	count := TopicCount{Topic: topic}
	seen := map[string]bool{}
	for p, end := range ends {
		key := fmt.Sprintf("%s/%d", topic, p)
		if got := committed[p]; got != end.last {
			c.diff("stream_offsets", key, fmt.Sprintf("next offset %d (the log's end)", end.last), fmt.Sprintf("%d", got))
		}
		err := readPartition(ctx, c.dialer(), c.cfg.Brokers, topic, p, end, func(m kafka.Message) {
			count.Messages++
			dl, isDL := dls[position{p, m.Offset}]
			delete(dls, position{p, m.Offset})
			now := time.Now()
			if isDL {
				now = dl.receivedAt // the receiver's clock decides "too far in the future"
			}
			ev, err := events.DecodeReference(m.Value, now)
			valid := err == nil && k.belongs(ev.Head().Type)
			pos := fmt.Sprintf("%s offset %d", key, m.Offset)
			switch {
			case !valid && !isDL:
				why := "an event on the wrong topic"
				if err != nil {
					why = err.Error()
				}
				c.diff("dead_letters", pos, "a dead letter ("+clip(why)+")", "none")
			case valid && isDL:
				c.diff("dead_letters", pos, "applied (a valid "+ev.Head().Type+")", "a dead letter ("+clip(dl.reason)+")")
			}
			if !valid {
				count.DeadLetters++
				return
			}
			h := ev.Head()
			if h.Seq > 0 {
				sk := seqKey{source: h.Source, key: string(m.Key)}
				c.seqs[sk] = append(c.seqs[sk], h.Seq)
			}
			id := identity(ev)
			if seen[id] {
				count.Repeats++
				return
			}
			seen[id] = true
			count.Applied++
			c.want.add(ev)
		})
		if err != nil {
			return err
		}
	}
	for pos, dl := range dls {
		c.diff("dead_letters", fmt.Sprintf("%s/%d offset %d", topic, pos.partition, pos.offset),
			"no message there", "a dead letter ("+clip(dl.reason)+")")
	}
	c.report.Topics = append(c.report.Topics, count)
	return nil
}

// identity is how the pipeline stores an event once: by event id, and for
// the day-partitioned facts (orders, clickstream) by event id and time.
func identity(ev events.Event) string {
	h := ev.Head()
	switch ev.(type) {
	case *events.OrderPlaced, *events.PageView, *events.ProductView, *events.Search,
		*events.CartChange, *events.CheckoutStarted:
		return h.EventID + "@" + h.EventTime.UTC().Format(time.RFC3339Nano)
	}
	return h.Type + "/" + h.EventID
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

type position struct {
	partition int
	offset    int64
}

func (c *checker) committedOffsets(ctx context.Context, topic string) (map[int]int64, error) {
	rows, err := c.db.Pool.Query(ctx, `SELECT partition, next_offset FROM stream_offsets WHERE topic = $1`, topic)
	if err != nil {
		return nil, fmt.Errorf("oracle: read stream_offsets: %w", err)
	}
	defer rows.Close()
	out := map[int]int64{}
	for rows.Next() {
		var p int
		var next int64
		if err := rows.Scan(&p, &next); err != nil {
			return nil, fmt.Errorf("oracle: read stream_offsets: %w", err)
		}
		out[p] = next
	}
	return out, rows.Err()
}

func (c *checker) deadLetters(ctx context.Context, topic string) (map[position]deadLetter, error) {
	rows, err := c.db.Pool.Query(ctx, `SELECT partition, kafka_offset, received_at, reason FROM dead_letters WHERE topic = $1`, topic)
	if err != nil {
		return nil, fmt.Errorf("oracle: read dead_letters: %w", err)
	}
	defer rows.Close()
	out := map[position]deadLetter{}
	for rows.Next() {
		var pos position
		var dl deadLetter
		if err := rows.Scan(&pos.partition, &pos.offset, &dl.receivedAt, &dl.reason); err != nil {
			return nil, fmt.Errorf("oracle: read dead_letters: %w", err)
		}
		out[pos] = dl
	}
	return out, rows.Err()
}

type offsets struct{ first, last int64 } // last is the offset after the last message

// endOffsets asks each partition's leader for its first and end offsets.
func endOffsets(ctx context.Context, d *kafka.Dialer, brokers []string, topic string) (map[int]offsets, error) {
	if len(brokers) == 0 {
		return nil, errors.New("oracle: no Kafka brokers")
	}
	conn, err := d.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, fmt.Errorf("oracle: dial %s: %w", brokers[0], err)
	}
	parts, err := conn.ReadPartitions(topic)
	conn.Close()
	if err != nil {
		return nil, fmt.Errorf("oracle: partitions of %s: %w", topic, err)
	}
	out := map[int]offsets{}
	for _, p := range parts {
		if p.Topic != topic {
			continue
		}
		lc, err := d.DialLeader(ctx, "tcp", brokers[0], topic, p.ID)
		if err != nil {
			return nil, fmt.Errorf("oracle: dial the leader of %s/%d: %w", topic, p.ID, err)
		}
		first, last, err := lc.ReadOffsets()
		lc.Close()
		if err != nil {
			return nil, fmt.Errorf("oracle: offsets of %s/%d: %w", topic, p.ID, err)
		}
		out[p.ID] = offsets{first, last}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("oracle: topic %s has no partitions", topic)
	}
	return out, nil
}

// readPartition calls f for every message of one partition, first to end.
func readPartition(ctx context.Context, d *kafka.Dialer, brokers []string, topic string, partition int, o offsets, f func(kafka.Message)) error {
	if o.last <= o.first {
		return nil
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, Dialer: d, Topic: topic, Partition: partition,
		MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 250 * time.Millisecond,
	})
	defer r.Close()
	if err := r.SetOffset(o.first); err != nil {
		return fmt.Errorf("oracle: seek %s/%d: %w", topic, partition, err)
	}
	for {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			return fmt.Errorf("oracle: read %s/%d: %w", topic, partition, err)
		}
		f(m)
		if m.Offset+1 >= o.last {
			return nil
		}
	}
}

type seqKey struct{ source, key string }

// sequenceProblems names the gaps and repeats in each (source, key)'s
// sequence numbers, which producers number from 1. A repeat is what an
// at-least-once producer's retry leaves, and is applied once; a gap is an
// event the producer numbered that never reached the log. Both are named,
// not counted as differences: the database is checked against the log.
func sequenceProblems(seqs map[seqKey][]int64) []SeqProblem {
	var out []SeqProblem
	keys := make([]seqKey, 0, len(seqs))
	for k := range seqs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].source != keys[j].source {
			return keys[i].source < keys[j].source
		}
		return keys[i].key < keys[j].key
	})
	for _, k := range keys {
		s := append([]int64(nil), seqs[k]...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		next := int64(1)
		for i, n := range s {
			switch {
			case i > 0 && n == s[i-1]:
				if len(out) > 0 && out[len(out)-1].Kind == "repeat" && out[len(out)-1].To == n && out[len(out)-1].Key == k.key {
					continue
				}
				out = append(out, SeqProblem{Source: k.source, Key: k.key, Kind: "repeat", From: n, To: n})
			case n > next:
				out = append(out, SeqProblem{Source: k.source, Key: k.key, Kind: "gap", From: next, To: n - 1})
			}
			if n >= next {
				next = n + 1
			}
		}
	}
	return out
}

func fmtKey(parts ...string) string { return strings.Join(parts, "/") }

// dialer connects the oracle's own readers to the brokers, over TLS when
// configured.
func (c *checker) dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: c.cfg.TLS}
}
