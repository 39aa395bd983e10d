package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
)

// TestEndToEnd_PaymentsTopicIsConsumed runs the worker on a payments topic:
// its supervisor consumes authorizations, failures and refunds into the facts
// tables and payments_minute, a producer retry counted once.
func TestEndToEnd_PaymentsTopicIsConsumed(t *testing.T) {
	h := newHarness(t)
	ctx := testenv.Context(t, 3*time.Minute)
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	pay := func(n int, typ, customer string, amount int64, code string) *events.Payment {
		return &events.Payment{
			Header:    events.Header{EventID: fmt.Sprintf("e2e-pay-%d", n), Type: typ, SchemaVersion: 1, EventTime: base.Add(time.Duration(n) * time.Second)},
			PaymentID: fmt.Sprintf("p-%d", n), OrderID: fmt.Sprintf("o-%d", n), CustomerID: customer,
			AmountMinor: amount, Currency: "USD", Method: "card", FailureCode: code,
		}
	}
	retried := pay(1, events.TypePaymentAuthorized, "c-1", 5000, "")
	evs := []events.Event{
		retried, retried,
		pay(2, events.TypePaymentAuthorized, "c-2", 700, ""),
		pay(3, events.TypePaymentFailed, "c-3", 900, "insufficient_funds"),
		&events.Refund{
			Header:   events.Header{EventID: "e2e-rf-1", Type: events.TypeRefund, SchemaVersion: 1, EventTime: base.Add(4 * time.Second)},
			RefundID: "r-1", OrderID: "o-1", CustomerID: "c-1", AmountMinor: 1500, Currency: "USD",
		},
	}
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: h.brokers, Topic: h.payTopic})
	defer p.Close()
	for _, ev := range evs {
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceRaw(ctx, ev.Key(), b); err != nil {
			t.Fatal(err)
		}
	}
	h.startWorker()
	h.waitForTopicEnd(ctx, h.payTopic)

	var v [6]int64
	if err := h.schema.DB.Pool.QueryRow(ctx, `
		SELECT coalesce(sum(authorized), 0), coalesce(sum(failed), 0), coalesce(sum(authorized_minor), 0),
		       coalesce(sum(refunds), 0), coalesce(sum(refunded_minor), 0), (SELECT count(*) FROM payments)
		  FROM payments_minute WHERE currency = 'USD'`).Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
		t.Fatal(err)
	}
	if want := [6]int64{2, 1, 5700, 1, 1500, 3}; v != want {
		t.Fatalf("payments (authorized, failed, authorized_minor, refunds, refunded_minor, facts): want %v, got %v", want, v)
	}
}
