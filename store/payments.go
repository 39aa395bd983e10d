package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/events"
)

// PositionedPayment is a valid payment_authorized or payment_failed with its
// place in the log.
type PositionedPayment struct {
	Payment events.Payment
	Offset  int64
}

// PositionedRefund is a valid refund with its place in the log.
type PositionedRefund struct {
	Refund events.Refund
	Offset int64
}

// PositionedChargeback is a valid chargeback with its place in the log.
type PositionedChargeback struct {
	Chargeback events.Chargeback
	Offset     int64
}

// PaymentBatch is one micro-batch of one partition of the payments topic.
type PaymentBatch struct {
	BatchMeta
	Payments    []PositionedPayment
	Refunds     []PositionedRefund
	Chargebacks []PositionedChargeback
}

type paymentDelta struct {
	authorized, failed, authorizedMinor int64
	refunds, refundedMinor              int64
	chargebacks, chargebackMinor        int64
	late                                int64
}

// CommitPaymentBatch stores a batch's payments, refunds and chargebacks as
// facts (once per event id) and adds their per-minute deltas to
// payments_minute, under the offset fence of CommitBatch.
func (db *DB) CommitPaymentBatch(ctx context.Context, b PaymentBatch) (BatchResult, error) {
	return db.CommitBatch(ctx, b.BatchMeta, func(ctx context.Context, tx pgx.Tx, wm time.Time) (BatchResult, error) {
		var res BatchResult
		deltas := map[minuteKey]*paymentDelta{}
		// count applies an event once, returning its minute's delta, or nil
		// for a duplicate.
		count := func(inserted map[string]bool, id string, at time.Time, currency string) *paymentDelta {
			if !inserted[id] {
				res.Duplicates++
				return nil
			}
			delete(inserted, id) // a repeat inside the batch counts once
			res.Applied++
			k := minuteKey{at.UTC().Truncate(time.Minute), currency}
			d := deltas[k]
			if d == nil {
				d = &paymentDelta{}
				deltas[k] = d
			}
			if isLateMinute(wm, at) {
				d.late++
				res.Late++
			}
			if at.After(res.Watermark) {
				res.Watermark = at.UTC()
			}
			return d
		}

		inserted, err := insertPayments(ctx, tx, b)
		if err != nil {
			return res, err
		}
		for _, pp := range b.Payments {
			p := pp.Payment
			if d := count(inserted, p.EventID, p.EventTime, p.Currency); d != nil {
				if p.Type == events.TypePaymentFailed {
					d.failed++
				} else {
					d.authorized++
					d.authorizedMinor += p.AmountMinor
				}
			}
		}
		if inserted, err = insertRefunds(ctx, tx, b); err != nil {
			return res, err
		}
		for _, pr := range b.Refunds {
			r := pr.Refund
			if d := count(inserted, r.EventID, r.EventTime, r.Currency); d != nil {
				d.refunds++
				d.refundedMinor += r.AmountMinor
			}
		}
		if inserted, err = insertChargebacks(ctx, tx, b); err != nil {
			return res, err
		}
		for _, pc := range b.Chargebacks {
			c := pc.Chargeback
			if d := count(inserted, c.EventID, c.EventTime, c.Currency); d != nil {
				d.chargebacks++
				d.chargebackMinor += c.AmountMinor
			}
		}
		return res, upsertPaymentMinutes(ctx, tx, deltas)
	})
}

// collectIDs reads the event ids an INSERT ... RETURNING event_id returned.
func collectIDs(rows pgx.Rows, what string) (map[string]bool, error) {
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("insert %s: %w", what, err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

func insertPayments(ctx context.Context, tx pgx.Tx, b PaymentBatch) (map[string]bool, error) {
	if len(b.Payments) == 0 {
		return map[string]bool{}, nil
	}
	n := len(b.Payments)
	ids, paymentIDs, orderIDs, customers, statuses := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	codes, methods, currencies, cards := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	amounts, offsets := make([]int64, n), make([]int64, n)
	for i, pp := range b.Payments {
		p := pp.Payment
		status := "authorized"
		if p.Type == events.TypePaymentFailed {
			status = "failed"
		}
		ids[i], paymentIDs[i], orderIDs[i], customers[i], statuses[i] = p.EventID, p.PaymentID, p.OrderID, p.CustomerID, status
		codes[i], methods[i], currencies[i], cards[i] = p.FailureCode, p.Method, p.Currency, p.CardFingerprint
		times[i], amounts[i], offsets[i] = p.EventTime.UTC(), p.AmountMinor, pp.Offset
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO payments (event_id, event_time, payment_id, order_id, customer_id, status, failure_code,
		                      method, amount_minor, currency, card_fingerprint, kafka_offset, topic, partition)
		SELECT u.event_id, u.event_time, u.payment_id, u.order_id, u.customer_id, u.status, nullif(u.code, ''),
		       u.method, u.amount_minor, u.currency, nullif(u.card, ''), u.kafka_offset, $12, $13
		  FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		              $8::text[], $9::bigint[], $10::text[], $11::text[], $14::bigint[])
		       AS u(event_id, event_time, payment_id, order_id, customer_id, status, code,
		            method, amount_minor, currency, card, kafka_offset)
		ON CONFLICT (event_id) DO NOTHING
		RETURNING event_id`,
		ids, times, paymentIDs, orderIDs, customers, statuses, codes, methods, amounts, currencies, cards,
		b.Topic, b.Partition, offsets)
	if err != nil {
		return nil, fmt.Errorf("insert payments: %w", err)
	}
	return collectIDs(rows, "payments")
}

func insertRefunds(ctx context.Context, tx pgx.Tx, b PaymentBatch) (map[string]bool, error) {
	if len(b.Refunds) == 0 {
		return map[string]bool{}, nil
	}
	n := len(b.Refunds)
	ids, refundIDs, orderIDs, customers, currencies, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	amounts, offsets := make([]int64, n), make([]int64, n)
	for i, pr := range b.Refunds {
		r := pr.Refund
		ids[i], refundIDs[i], orderIDs[i], customers[i], currencies[i], reasons[i] = r.EventID, r.RefundID, r.OrderID, r.CustomerID, r.Currency, r.Reason
		times[i], amounts[i], offsets[i] = r.EventTime.UTC(), r.AmountMinor, pr.Offset
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO refunds (event_id, event_time, refund_id, order_id, customer_id, amount_minor, currency, reason, kafka_offset, topic, partition)
		SELECT u.*, $9, $10
		  FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $11::bigint[]) AS u
		ON CONFLICT (event_id) DO NOTHING
		RETURNING event_id`,
		ids, times, refundIDs, orderIDs, customers, amounts, currencies, reasons, b.Topic, b.Partition, offsets)
	if err != nil {
		return nil, fmt.Errorf("insert refunds: %w", err)
	}
	return collectIDs(rows, "refunds")
}

func insertChargebacks(ctx context.Context, tx pgx.Tx, b PaymentBatch) (map[string]bool, error) {
	if len(b.Chargebacks) == 0 {
		return map[string]bool{}, nil
	}
	n := len(b.Chargebacks)
	ids, cbIDs, orderIDs, paymentIDs, customers, currencies, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	amounts, offsets := make([]int64, n), make([]int64, n)
	for i, pc := range b.Chargebacks {
		c := pc.Chargeback
		ids[i], cbIDs[i], orderIDs[i], paymentIDs[i] = c.EventID, c.ChargebackID, c.OrderID, c.PaymentID
		customers[i], currencies[i], reasons[i] = c.CustomerID, c.Currency, c.Reason
		times[i], amounts[i], offsets[i] = c.EventTime.UTC(), c.AmountMinor, pc.Offset
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO chargebacks (event_id, event_time, chargeback_id, order_id, payment_id, customer_id, amount_minor, currency, reason, kafka_offset, topic, partition)
		SELECT u.event_id, u.event_time, u.chargeback_id, u.order_id, nullif(u.payment_id, ''), u.customer_id,
		       u.amount_minor, u.currency, u.reason, u.kafka_offset, $10, $11
		  FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[], $12::bigint[])
		       AS u(event_id, event_time, chargeback_id, order_id, payment_id, customer_id, amount_minor, currency, reason, kafka_offset)
		ON CONFLICT (event_id) DO NOTHING
		RETURNING event_id`,
		ids, times, cbIDs, orderIDs, paymentIDs, customers, amounts, currencies, reasons, b.Topic, b.Partition, offsets)
	if err != nil {
		return nil, fmt.Errorf("insert chargebacks: %w", err)
	}
	return collectIDs(rows, "chargebacks")
}

// upsertPaymentMinutes adds the deltas to payments_minute, keys sorted for
// lock order.
func upsertPaymentMinutes(ctx context.Context, tx pgx.Tx, deltas map[minuteKey]*paymentDelta) error {
	if len(deltas) == 0 {
		return nil
	}
	keys := sortedMinuteKeys(deltas)
	n := len(keys)
	minutes, currencies := make([]time.Time, n), make([]string, n)
	cols := make([][]int64, 8)
	for c := range cols {
		cols[c] = make([]int64, n)
	}
	for i, k := range keys {
		d := deltas[k]
		minutes[i], currencies[i] = k.minute, k.currency
		for c, v := range []int64{d.authorized, d.failed, d.authorizedMinor, d.refunds, d.refundedMinor, d.chargebacks, d.chargebackMinor, d.late} {
			cols[c][i] = v
		}
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO payments_minute AS t (minute, currency, authorized, failed, authorized_minor,
		                                  refunds, refunded_minor, chargebacks, chargeback_minor, late_events)
		SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
		                     $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])
		ON CONFLICT (minute, currency) DO UPDATE SET
			authorized = t.authorized + excluded.authorized,
			failed = t.failed + excluded.failed,
			authorized_minor = t.authorized_minor + excluded.authorized_minor,
			refunds = t.refunds + excluded.refunds,
			refunded_minor = t.refunded_minor + excluded.refunded_minor,
			chargebacks = t.chargebacks + excluded.chargebacks,
			chargeback_minor = t.chargeback_minor + excluded.chargeback_minor,
			late_events = t.late_events + excluded.late_events,
			updated_at = now()`,
		minutes, currencies, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7])
	if err != nil {
		return fmt.Errorf("upsert payments per minute: %w", err)
	}
	return nil
}
