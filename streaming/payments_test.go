package streaming_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

func paymentEvent(base time.Time, n int, typ string, amount int64, code string) *events.Payment {
	return &events.Payment{
		Header:    events.Header{EventID: fmt.Sprintf("pay-%d", n), Type: typ, SchemaVersion: 1, EventTime: base.Add(time.Duration(n) * 20 * time.Second)},
		PaymentID: fmt.Sprintf("p-%d", n), OrderID: fmt.Sprintf("o-%d", n), CustomerID: "c-1",
		AmountMinor: amount, Currency: "EUR", Method: "card", FailureCode: code,
	}
}

// consumePayments runs a payments consumer until it has consumed the topic.
func consumePayments(t *testing.T, ctx context.Context, db *store.DB, cfg streaming.Config) {
	t.Helper()
	consumeWith(t, ctx, db, cfg, streaming.PaymentsSink{DB: db})
}

func TestPaymentsConsumer_FactsAndMinutesExactAcrossBatchesAndARestart(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	topic := testenv.Topic(t, brokers, 1)
	dlq := testenv.Topic(t, brokers, 1)
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Minute)
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()
	sim := ingest.NewSimulator(ingest.SimConfig{Seed: 7, Customers: 5, Products: 5})
	order := sim.Next(base)

	auth := paymentEvent(base, 0, events.TypePaymentAuthorized, 1200, "")
	produceEvents(t, ctx, p,
		auth, // minute 0
		paymentEvent(base, 1, events.TypePaymentFailed, 800, "card_declined"), // minute 0
		auth, // a producer retry: counted once
		&events.Refund{ // minute 1
			Header:   events.Header{EventID: "rf-1", Type: events.TypeRefund, SchemaVersion: 1, EventTime: base.Add(70 * time.Second)},
			RefundID: "r-1", OrderID: "o-0", CustomerID: "c-1", AmountMinor: 200, Currency: "EUR",
		},
		&order, // an order on the payments topic: a dead letter
	)
	cfg := streaming.Config{
		Brokers: brokers, Topic: topic, DLQTopic: dlq, Partitions: []int{0},
		BatchSize: 2, BatchWait: 50 * time.Millisecond, IdleCheck: 50 * time.Millisecond, Owner: "first",
	}
	consumePayments(t, ctx, s.DB, cfg)

	// A new owner carries on from the stored offsets.
	produceEvents(t, ctx, p,
		paymentEvent(base, 4, events.TypePaymentAuthorized, 300, ""), // minute 1
		&events.Chargeback{ // minute 1
			Header:       events.Header{EventID: "cb-1", Type: events.TypeChargeback, SchemaVersion: 1, EventTime: base.Add(90 * time.Second)},
			ChargebackID: "chb-1", OrderID: "o-0", PaymentID: "p-0", CustomerID: "c-1", AmountMinor: 1200, Currency: "EUR", Reason: "fraud",
		},
		auth, // another retry
	)
	cfg.Owner, cfg.BatchSize = "second", 100
	consumePayments(t, ctx, s.DB, cfg)

	rows, err := s.DB.Pool.Query(ctx, `
		SELECT minute, authorized, failed, authorized_minor, refunds, refunded_minor, chargebacks, chargeback_minor
		  FROM payments_minute WHERE currency = 'EUR' ORDER BY minute`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var m time.Time
		var v [7]int64
		if err := rows.Scan(&m, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d:%v", int(m.Sub(base)/time.Minute), v))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// minute 0: 1200 authorized, one failure; minute 1: 300 authorized, the
	// refund of 200 and the chargeback of 1200.
	if want := "[0:[1 1 1200 0 0 0 0] 1:[1 0 300 1 200 1 1200]]"; fmt.Sprint(got) != want {
		t.Fatalf("payments per minute: want %s, got %v", want, got)
	}
	var payments, refunds, chargebacks, dead int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM refunds),
		(SELECT count(*) FROM chargebacks), (SELECT count(*) FROM dead_letters)`).Scan(&payments, &refunds, &chargebacks, &dead); err != nil {
		t.Fatal(err)
	}
	if payments != 3 || refunds != 1 || chargebacks != 1 || dead != 1 {
		t.Fatalf("want 3 payments, 1 refund, 1 chargeback, 1 dead letter; got %d, %d, %d, %d", payments, refunds, chargebacks, dead)
	}
}

func TestPaymentsConsumer_StopsWhenAnotherOwnerMovesItsPartition(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	base := time.Now().UTC().Add(-time.Hour)
	runStaleOwner(t, ctx, s.DB, brokers, streaming.PaymentsSink{DB: s.DB},
		paymentEvent(base, 0, events.TypePaymentAuthorized, 100, ""), paymentEvent(base, 1, events.TypePaymentFailed, 100, "expired_card"))
	var payments, minutes int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM payments), (SELECT count(*) FROM payments_minute)`).Scan(&payments, &minutes); err != nil {
		t.Fatal(err)
	}
	if payments+minutes != 0 {
		t.Fatalf("the stale owner stored %d payments and %d minutes", payments, minutes)
	}
}
