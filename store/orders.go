package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/events"
)

// ErrFenced means the partition's stored offset is no longer where the batch
// started: another owner has moved on. The batch was rolled back; the caller
// must stop consuming that partition.
var ErrFenced = errors.New("offset fence: another owner moved this partition on")

// PositionedOrder is a valid order with its place in the log.
type PositionedOrder struct {
	Order  events.OrderPlaced
	Offset int64
}

// PositionedCancellation is a valid order cancellation with its place in the log.
type PositionedCancellation struct {
	Cancellation events.OrderCancelled
	Offset       int64
}

// DeadLetter is an event that failed validation, with its place and reason.
type DeadLetter struct {
	Offset  int64
	Reason  string
	Key     []byte
	Payload []byte
}

// OrderBatch is one micro-batch of one partition: the messages at offsets
// [Start, End), each an order, a cancellation or a dead letter.
type OrderBatch struct {
	Topic         string
	Partition     int
	Start, End    int64
	Orders        []PositionedOrder
	Cancellations []PositionedCancellation
	DeadLetters   []DeadLetter
	Owner         string
	// CaughtUp says the batch reached the partition's end offset.
	CaughtUp bool
	// Fraud scores every order the batch stores, before it commits; nil
	// scores none.
	Fraud *FraudScoring
}

// BatchResult is what a committed batch changed.
type BatchResult struct {
	// Applied counts orders and cancellations stored; Duplicates counts
	// events whose id was already stored (a producer retry), which change no
	// figure.
	Applied, Duplicates, DeadLetters int
	// Late counts applied orders whose minute was already behind the
	// partition's watermark when they arrived.
	Late      int
	Watermark time.Time
	// FraudScored counts the orders scored for fraud; FraudAlerts the fraud
	// alerts raised.
	FraudScored, FraudAlerts int
}

type minuteKey struct {
	minute   time.Time
	currency string
}

type minuteDelta struct {
	orders, units, revenue, late, cancellations, cancelled int64
}

// delta returns the delta of the minute of t in currency, creating it.
func delta(deltas map[minuteKey]*minuteDelta, t time.Time, currency string) *minuteDelta {
	k := minuteKey{t.UTC().Truncate(time.Minute), currency}
	d := deltas[k]
	if d == nil {
		d = &minuteDelta{}
		deltas[k] = d
	}
	return d
}

// InitOffsets makes sure the topic's partitions have a stored offset row,
// starting at offset 0 for partitions never seen.
func (db *DB) InitOffsets(ctx context.Context, topic string, partitions int) error {
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO stream_offsets (topic, partition, next_offset)
		SELECT $1, p, 0 FROM generate_series(0, $2 - 1) AS p
		ON CONFLICT DO NOTHING`, topic, partitions)
	if err != nil {
		return fmt.Errorf("init offsets of %s: %w", topic, err)
	}
	return nil
}

// PartitionState is a partition's stored position.
type PartitionState struct {
	Topic      string
	Partition  int
	NextOffset int64
	Watermark  time.Time
	CaughtUpAt time.Time
}

// LoadOffset returns the stored next offset of one partition, creating the row
// at 0 when the partition is new.
func (db *DB) LoadOffset(ctx context.Context, topic string, partition int) (int64, error) {
	var next int64
	err := db.Pool.QueryRow(ctx, `
		INSERT INTO stream_offsets (topic, partition, next_offset) VALUES ($1, $2, 0)
		ON CONFLICT (topic, partition) DO UPDATE SET topic = excluded.topic
		RETURNING next_offset`, topic, partition).Scan(&next)
	if err != nil {
		return 0, fmt.Errorf("load offset %s/%d: %w", topic, partition, err)
	}
	return next, nil
}

// Offsets returns the stored state of every partition of a topic, by partition.
func (db *DB) Offsets(ctx context.Context, topic string) ([]PartitionState, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT topic, partition, next_offset,
		       coalesce(watermark, 'epoch'), coalesce(caught_up_at, 'epoch')
		  FROM stream_offsets WHERE topic = $1 ORDER BY partition`, topic)
	if err != nil {
		return nil, fmt.Errorf("read offsets of %s: %w", topic, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PartitionState, error) {
		var s PartitionState
		err := r.Scan(&s.Topic, &s.Partition, &s.NextOffset, &s.Watermark, &s.CaughtUpAt)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read offsets of %s: %w", topic, err)
	}
	return out, nil
}

// CommitOrderBatch stores a batch's orders, lines, per-minute revenue deltas
// and dead letters, and moves the partition's offset from Start to End, all in
// one transaction. If the stored offset is not Start it changes nothing and
// returns ErrFenced.
func (db *DB) CommitOrderBatch(ctx context.Context, b OrderBatch) (BatchResult, error) {
	if b.End < b.Start {
		return BatchResult{}, fmt.Errorf("commit batch %s/%d: end %d before start %d", b.Topic, b.Partition, b.End, b.Start)
	}
	days := map[string]bool{}
	for _, o := range b.Orders {
		days[o.Order.EventTime.UTC().Format(time.DateOnly)] = true
	}
	if err := db.ensureDays(ctx, days); err != nil {
		return BatchResult{}, err
	}
	meta := BatchMeta{Topic: b.Topic, Partition: b.Partition, Start: b.Start, End: b.End,
		Owner: b.Owner, CaughtUp: b.CaughtUp, DeadLetters: b.DeadLetters}
	return db.CommitBatch(ctx, meta, func(ctx context.Context, tx pgx.Tx, prev time.Time) (BatchResult, error) {
		return applyOrders(ctx, tx, b, prev)
	})
}

// applyOrders stores a batch's orders and cancellations, each event id once,
// and adds their per-minute deltas, counting those late against prev, the
// partition's watermark before the batch.
func applyOrders(ctx context.Context, tx pgx.Tx, b OrderBatch, prev time.Time) (BatchResult, error) {
	var res BatchResult
	advance := func(t time.Time) {
		if t.After(res.Watermark) {
			res.Watermark = t.UTC()
		}
	}
	inserted, err := insertOrders(ctx, tx, b)
	if err != nil {
		return res, err
	}
	if err := insertSessionPurchases(ctx, tx, b, inserted); err != nil {
		return res, err
	}
	// Scored before the loop below consumes inserted.
	if res.FraudScored, res.FraudAlerts, err = scoreOrders(ctx, tx, b, inserted); err != nil {
		return res, err
	}
	deltas := map[minuteKey]*minuteDelta{}
	dims := map[dimKey]*dimDelta{}
	for _, po := range b.Orders {
		o := po.Order
		if !inserted[o.EventID] {
			res.Duplicates++
			continue
		}
		delete(inserted, o.EventID) // a repeat inside the batch counts once
		res.Applied++
		d := delta(deltas, o.EventTime, o.Currency)
		d.orders++
		d.units += o.Units()
		d.revenue += o.TotalMinor
		addDims(dims, &o)
		if isLateMinute(prev, o.EventTime) {
			d.late++
			res.Late++
		}
		advance(o.EventTime)
	}
	cancelled, err := insertCancellations(ctx, tx, b)
	if err != nil {
		return res, err
	}
	for _, pc := range b.Cancellations {
		c := pc.Cancellation
		if !cancelled[c.EventID] {
			res.Duplicates++
			continue
		}
		delete(cancelled, c.EventID)
		res.Applied++
		d := delta(deltas, c.EventTime, c.Currency)
		d.cancellations++
		d.cancelled += c.AmountMinor
		if isLateMinute(prev, c.EventTime) {
			d.late++
			res.Late++
		}
		advance(c.EventTime)
	}
	if err := upsertMinutes(ctx, tx, deltas); err != nil {
		return res, err
	}
	return res, upsertDimMinutes(ctx, tx, dims)
}

// MarkCaughtUp records that the owner found the partition fully consumed at
// its stored offset, under the same fence as a batch.
func (db *DB) MarkCaughtUp(ctx context.Context, topic string, partition int, at int64, owner string) error {
	tag, err := db.Pool.Exec(ctx, `
		UPDATE stream_offsets SET caught_up_at = now(), owner = $4
		 WHERE topic = $1 AND partition = $2 AND next_offset = $3`, topic, partition, at, owner)
	if err != nil {
		return fmt.Errorf("mark %s/%d caught up: %w", topic, partition, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("mark %s/%d caught up at %d: %w", topic, partition, at, ErrFenced)
	}
	return nil
}

// insertOrders stores the batch's orders and their lines, skipping event ids
// already stored, and returns the set of event ids it inserted.
func insertOrders(ctx context.Context, tx pgx.Tx, b OrderBatch) (map[string]bool, error) {
	inserted := make(map[string]bool, len(b.Orders))
	if len(b.Orders) == 0 {
		return inserted, nil
	}
	n := len(b.Orders)
	var (
		ids, orderIDs, customers, countries, currencies, channels = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		times                                                     = make([]time.Time, n)
		totals, units, offsets                                    = make([]int64, n), make([]int64, n), make([]int64, n)
		lineCounts                                                = make([]int32, n)
		methods, cards, ips, devices, billing, shipping           = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	)
	for i, po := range b.Orders {
		o := po.Order
		ids[i], orderIDs[i], customers[i] = o.EventID, o.OrderID, o.CustomerID
		countries[i], currencies[i], channels[i] = o.Country, o.Currency, o.Channel
		times[i] = o.EventTime.UTC()
		totals[i], units[i], offsets[i] = o.TotalMinor, o.Units(), po.Offset
		lineCounts[i] = int32(len(o.Lines))
		methods[i], cards[i], ips[i] = o.PaymentMethod, o.CardFingerprint, o.IP
		devices[i], billing[i], shipping[i] = o.DeviceID, o.BillingCountry, o.ShippingCountry
	}
	// The version 2 fields are NULL when absent, so an unknown card, IP or
	// device never matches another unknown one in the fraud features.
	rows, err := tx.Query(ctx, `
		INSERT INTO orders (event_id, event_time, order_id, customer_id, country, currency, channel,
		                    total_minor, units, line_count, kafka_offset, topic, partition,
		                    payment_method, card_fingerprint, ip, device_id, billing_country, shipping_country)
		SELECT u.event_id, u.event_time, u.order_id, u.customer_id, u.country, u.currency, u.channel,
		       u.total_minor, u.units, u.line_count, u.kafka_offset, $12, $13,
		       nullif(u.method, ''), nullif(u.card, ''), nullif(u.ip, ''), nullif(u.device, ''),
		       nullif(u.billing, ''), nullif(u.shipping, '')
		  FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
		              $7::text[], $8::bigint[], $9::bigint[], $10::int[], $11::bigint[],
		              $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[])
		       AS u(event_id, event_time, order_id, customer_id, country, currency, channel,
		            total_minor, units, line_count, kafka_offset, method, card, ip, device, billing, shipping)
		ON CONFLICT (event_id, event_time) DO NOTHING
		RETURNING event_id`,
		ids, times, orderIDs, customers, countries, currencies, channels, totals, units, lineCounts, offsets,
		b.Topic, b.Partition, methods, cards, ips, devices, billing, shipping)
	if err != nil {
		return nil, fmt.Errorf("insert orders: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("insert orders: %w", err)
		}
		inserted[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert orders: %w", err)
	}

	// Lines are copied, not inserted: they belong to orders this
	// transaction has just inserted, so none can exist already, and COPY is
	// several times cheaper per row than INSERT for the hot path's largest
	// table.
	var lines [][]any
	copied := make(map[string]bool, len(inserted))
	for _, po := range b.Orders {
		o := po.Order
		if !inserted[o.EventID] || copied[o.EventID] {
			continue // a duplicate, or a repeat inside the batch
		}
		copied[o.EventID] = true
		at := o.EventTime.UTC()
		for j, l := range o.Lines {
			lines = append(lines, []any{o.EventID, at, int32(j + 1), o.OrderID, l.ProductID, l.Category, l.Quantity, l.UnitPriceMinor})
		}
	}
	if len(lines) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"order_lines"},
			[]string{"event_id", "event_time", "line_no", "order_id", "product_id", "category", "quantity", "unit_price_minor"},
			pgx.CopyFromRows(lines)); err != nil {
			return nil, fmt.Errorf("copy order lines: %w", err)
		}
	}
	return inserted, nil
}

// sortedMinuteKeys returns the keys by minute, then currency: the order in
// which upserts lock their rows, the same in every transaction.
func sortedMinuteKeys[V any](deltas map[minuteKey]V) []minuteKey {
	keys := make([]minuteKey, 0, len(deltas))
	for k := range deltas {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].minute.Equal(keys[j].minute) {
			return keys[i].minute.Before(keys[j].minute)
		}
		return keys[i].currency < keys[j].currency
	})
	return keys
}

// upsertMinutes adds the deltas to revenue_minute. Keys are sorted so two
// transactions touching the same minutes lock them in the same order.
func upsertMinutes(ctx context.Context, tx pgx.Tx, deltas map[minuteKey]*minuteDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	keys := sortedMinuteKeys(deltas)
	var (
		minutes                       = make([]time.Time, len(keys))
		currencies                    = make([]string, len(keys))
		n                             = len(keys)
		orders, units, revenue, lates = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		cancels, cancelled            = make([]int64, n), make([]int64, n)
	)
	for i, k := range keys {
		d := deltas[k]
		minutes[i], currencies[i] = k.minute, k.currency
		orders[i], units[i], revenue[i], lates[i] = d.orders, d.units, d.revenue, d.late
		cancels[i], cancelled[i] = d.cancellations, d.cancelled
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO revenue_minute AS t (minute, currency, orders, units, revenue_minor, late_events, cancellations, cancelled_minor)
		SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])
		ON CONFLICT (minute, currency) DO UPDATE SET
			orders = t.orders + excluded.orders,
			units = t.units + excluded.units,
			revenue_minor = t.revenue_minor + excluded.revenue_minor,
			late_events = t.late_events + excluded.late_events,
			cancellations = t.cancellations + excluded.cancellations,
			cancelled_minor = t.cancelled_minor + excluded.cancelled_minor,
			updated_at = now()`,
		minutes, currencies, orders, units, revenue, lates, cancels, cancelled)
	if err != nil {
		return fmt.Errorf("upsert revenue per minute: %w", err)
	}
	return nil
}

// insertCancellations stores the batch's cancellations, skipping event ids
// already stored, and returns the set of event ids it inserted.
func insertCancellations(ctx context.Context, tx pgx.Tx, b OrderBatch) (map[string]bool, error) {
	inserted := make(map[string]bool, len(b.Cancellations))
	if len(b.Cancellations) == 0 {
		return inserted, nil
	}
	n := len(b.Cancellations)
	ids, orderIDs, customers, currencies, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	amounts, offsets := make([]int64, n), make([]int64, n)
	for i, pc := range b.Cancellations {
		c := pc.Cancellation
		ids[i], orderIDs[i], customers[i], currencies[i], reasons[i] = c.EventID, c.OrderID, c.CustomerID, c.Currency, c.Reason
		times[i], amounts[i], offsets[i] = c.EventTime.UTC(), c.AmountMinor, pc.Offset
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO order_cancellations (event_id, event_time, order_id, customer_id, currency, reason, amount_minor, kafka_offset, topic, partition)
		SELECT u.*, $9, $10
		  FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[]) AS u
		ON CONFLICT (event_id) DO NOTHING
		RETURNING event_id`,
		ids, times, orderIDs, customers, currencies, reasons, amounts, offsets, b.Topic, b.Partition)
	if err != nil {
		return nil, fmt.Errorf("insert cancellations: %w", err)
	}
	ids2, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("insert cancellations: %w", err)
	}
	for _, id := range ids2 {
		inserted[id] = true
	}
	return inserted, nil
}

// OldestOrder returns the event time of the earliest stored order, and
// false when there is none.
func (db *DB) OldestOrder(ctx context.Context) (time.Time, bool, error) {
	var oldest *time.Time
	if err := db.Pool.QueryRow(ctx, `SELECT min(event_time) FROM orders`).Scan(&oldest); err != nil {
		return time.Time{}, false, fmt.Errorf("oldest order: %w", err)
	}
	if oldest == nil {
		return time.Time{}, false, nil
	}
	return *oldest, true, nil
}
