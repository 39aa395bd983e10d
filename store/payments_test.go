package store_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

var payBase = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func payment(id string, sec int, typ string, amount int64, code string) events.Payment {
	return events.Payment{
		Header:    events.Header{EventID: "pay-" + id, Type: typ, SchemaVersion: 1, EventTime: payBase.Add(time.Duration(sec) * time.Second)},
		PaymentID: "p-" + id, OrderID: "o-" + id, CustomerID: "c-1", AmountMinor: amount, Currency: "GBP",
		Method: "card", CardFingerprint: "fp-1", FailureCode: code,
	}
}

// paymentBatch is a deterministic payments batch: in minute 0 two
// authorizations (one sent twice) and a failure; in minute 1 a refund, a
// chargeback and a failure.
func paymentBatch(owner string) store.PaymentBatch {
	auth := payment("1", 5, events.TypePaymentAuthorized, 1000, "")
	return store.PaymentBatch{
		BatchMeta: store.BatchMeta{Topic: "payments", Partition: 0, Start: 0, End: 8, Owner: owner},
		Payments: []store.PositionedPayment{
			{Payment: auth, Offset: 0},
			{Payment: auth, Offset: 1}, // a producer retry
			{Payment: payment("2", 10, events.TypePaymentAuthorized, 250, ""), Offset: 2},
			{Payment: payment("3", 20, events.TypePaymentFailed, 700, "card_declined"), Offset: 3},
			{Payment: payment("4", 70, events.TypePaymentFailed, 300, "insufficient_funds"), Offset: 4},
		},
		Refunds: []store.PositionedRefund{{Refund: events.Refund{
			Header:   events.Header{EventID: "rf-1", Type: events.TypeRefund, SchemaVersion: 1, EventTime: payBase.Add(65 * time.Second)},
			RefundID: "r-1", OrderID: "o-1", CustomerID: "c-1", AmountMinor: 400, Currency: "GBP", Reason: "returned",
		}, Offset: 5}},
		Chargebacks: []store.PositionedChargeback{{Chargeback: events.Chargeback{
			Header:       events.Header{EventID: "cb-1", Type: events.TypeChargeback, SchemaVersion: 1, EventTime: payBase.Add(80 * time.Second)},
			ChargebackID: "chb-1", OrderID: "o-2", PaymentID: "p-2", CustomerID: "c-1", AmountMinor: 250, Currency: "GBP", Reason: "fraud",
		}, Offset: 6}},
	}
}

func paymentFigures(t *testing.T, db *store.DB) string {
	t.Helper()
	ctx := testenv.Context(t, time.Minute)
	var out string
	rows, err := db.Pool.Query(ctx, `
		SELECT minute, currency, authorized, failed, authorized_minor, refunds, refunded_minor, chargebacks, chargeback_minor, late_events
		  FROM payments_minute ORDER BY minute, currency`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m time.Time
		var cur string
		var v [8]int64
		if err := rows.Scan(&m, &cur, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]); err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("%s %s %v\n", m.UTC().Format("15:04"), cur, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows, err = db.Pool.Query(ctx, `
		SELECT 'payment', event_id, status, coalesce(failure_code, ''), amount_minor FROM payments
		UNION ALL SELECT 'refund', event_id, order_id, reason, amount_minor FROM refunds
		UNION ALL SELECT 'chargeback', event_id, coalesce(payment_id, ''), reason, amount_minor FROM chargebacks
		ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var kind, id, a, b string
		var amount int64
		if err := rows.Scan(&kind, &id, &a, &b, &amount); err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("%s %s %s %s %d\n", kind, id, a, b, amount)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantPaymentFigures is what paymentBatch stores, by hand: minute 12:00 has
// authorizations 1000 and 250 (the retry counted once) and one failure;
// minute 12:01 one failure, the refund of 400 and the chargeback of 250.
const wantPaymentFigures = `12:00 GBP [2 1 1250 0 0 0 0 0]
12:01 GBP [0 1 0 1 400 1 250 0]
chargeback cb-1 p-2 fraud 250
payment pay-1 authorized  1000
payment pay-2 authorized  250
payment pay-3 failed card_declined 700
payment pay-4 failed insufficient_funds 300
refund rf-1 o-1 returned 400
`

func TestCommitPaymentBatch_FactsAndMinutesExactWithARetryAndFailures(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	if err := s.DB.InitOffsets(ctx, "payments", 1); err != nil {
		t.Fatal(err)
	}
	res, err := s.DB.CommitPaymentBatch(ctx, paymentBatch("owner"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 6 || res.Duplicates != 1 || !res.Watermark.Equal(payBase.Add(80*time.Second)) {
		t.Fatalf("want 6 applied, 1 duplicate, watermark 12:01:20; got %+v", res)
	}
	if got := paymentFigures(t, s.DB); got != wantPaymentFigures {
		t.Fatalf("payments:\nwant\n%s\ngot\n%s", wantPaymentFigures, got)
	}

	// The same events again at later offsets (a producer resending) change
	// nothing; a late failure in minute 12:00 is applied there and counted.
	b := paymentBatch("owner")
	b.Start, b.End = 8, 10
	b.Refunds, b.Chargebacks = nil, nil
	b.Payments = append(b.Payments[:1], store.PositionedPayment{Payment: payment("5", 30, events.TypePaymentFailed, 100, "expired_card"), Offset: 9})
	res, err = s.DB.CommitPaymentBatch(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applied != 1 || res.Duplicates != 1 || res.Late != 1 {
		t.Fatalf("second batch: want 1 applied (late), 1 duplicate; got %+v", res)
	}
	var failed, late int64
	if err := s.DB.Pool.QueryRow(ctx, `SELECT failed, late_events FROM payments_minute WHERE minute = $1`, payBase).Scan(&failed, &late); err != nil {
		t.Fatal(err)
	}
	if failed != 2 || late != 1 {
		t.Fatalf("minute 12:00 after the late failure: want failed 2, late 1; got %d, %d", failed, late)
	}
}

func TestCommitPaymentBatch_StaleOwnerIsFencedAndChangesNothing(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	if err := s.DB.InitOffsets(ctx, "payments", 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB.CommitPaymentBatch(ctx, paymentBatch("new-owner")); err != nil {
		t.Fatalf("first owner: %v", err)
	}
	before := paymentFigures(t, s.DB)
	_, err := s.DB.CommitPaymentBatch(ctx, paymentBatch("zombie"))
	if !errors.Is(err, store.ErrFenced) {
		t.Fatalf("stale owner's commit: want ErrFenced, got %v", err)
	}
	if after := paymentFigures(t, s.DB); after != before || after != wantPaymentFigures {
		t.Fatalf("fenced commit changed payments: before\n%s\nafter\n%s", before, after)
	}
	states, err := s.DB.Offsets(ctx, "payments")
	if err != nil {
		t.Fatal(err)
	}
	if states[0].NextOffset != 8 {
		t.Fatalf("next offset: want 8, got %d", states[0].NextOffset)
	}
}
