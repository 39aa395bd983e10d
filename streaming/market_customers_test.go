package streaming_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/streaming"
)

func competitorPrice(base time.Time, id string, sec int, product, competitor string, price int64, inStock bool) *events.CompetitorPrice {
	return &events.CompetitorPrice{
		Header:    events.Header{EventID: id, Type: events.TypeCompetitorPrice, SchemaVersion: 1, EventTime: base.Add(time.Duration(sec) * time.Second)},
		ProductID: product, Competitor: competitor, PriceMinor: price, Currency: "EUR", InStock: inStock,
	}
}

func TestMarketConsumer_FactsOnceAndLatestPriceByEventTimeAcrossARestart(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	topic := testenv.Topic(t, brokers, 1)
	dlq := testenv.Topic(t, brokers, 1)
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()

	a1 := competitorPrice(base, "cp-1", 10, "p-1", "acme", 1000, true)
	produceEvents(t, ctx, p,
		a1,
		competitorPrice(base, "cp-2", 30, "p-1", "acme", 950, true),
		competitorPrice(base, "cp-3", 20, "p-1", "acme", 990, false), // out of order: older than cp-2, not the latest
		a1, // a producer retry
		&events.PriceChanged{
			Header:    events.Header{EventID: "pc-1", Type: events.TypePriceChanged, SchemaVersion: 1, EventTime: base.Add(5 * time.Second)},
			ProductID: "p-1", OldPriceMinor: 1100, NewPriceMinor: 990, Currency: "EUR", Reason: "promotion",
		},
		&events.PageView{Header: events.Header{EventID: "pv-1", Type: events.TypePageView, SchemaVersion: 1, EventTime: base},
			Clickstream: events.Clickstream{SessionID: "s-1", Page: "/"}}, // not a market event: a dead letter
	)
	cfg := streaming.Config{
		Brokers: brokers, Topic: topic, DLQTopic: dlq, Partitions: []int{0},
		BatchSize: 2, BatchWait: 50 * time.Millisecond, IdleCheck: 50 * time.Millisecond, Owner: "first",
	}
	consumeWith(t, ctx, s.DB, cfg, streaming.MarketSink{DB: s.DB})

	// A new owner: an older price (ignored for latest) and a newer one of
	// another competitor.
	produceEvents(t, ctx, p,
		competitorPrice(base, "cp-4", 1, "p-1", "acme", 800, true),
		competitorPrice(base, "cp-5", 40, "p-1", "zeta", 1200, true),
		a1,
	)
	cfg.Owner, cfg.BatchSize = "second", 100
	consumeWith(t, ctx, s.DB, cfg, streaming.MarketSink{DB: s.DB})

	latest, err := s.DB.LatestCompetitorPrices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range latest {
		got = append(got, fmt.Sprintf("%s/%s %d %v @%s", l.ProductID, l.Competitor, l.PriceMinor, l.InStock, l.EventTime.Sub(base)))
	}
	if want := "[p-1/acme 950 true @30s p-1/zeta 1200 true @40s]"; fmt.Sprint(got) != want {
		t.Fatalf("latest prices: want %s, got %v", want, got)
	}
	var prices, changes, dead int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM competitor_prices), (SELECT count(*) FROM price_changes),
		(SELECT count(*) FROM dead_letters)`).Scan(&prices, &changes, &dead); err != nil {
		t.Fatal(err)
	}
	if prices != 5 || changes != 1 || dead != 1 {
		t.Fatalf("want 5 competitor prices, 1 price change, 1 dead letter; got %d, %d, %d", prices, changes, dead)
	}
}

func TestCustomersConsumer_AccountsFoldedInLogOrderOnceAcrossARestart(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	topic := testenv.Topic(t, brokers, 1)
	dlq := testenv.Topic(t, brokers, 1)
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()
	head := func(id, typ string, sec int) events.Header {
		return events.Header{EventID: id, Type: typ, SchemaVersion: 1, EventTime: base.Add(time.Duration(sec) * time.Second)}
	}
	no := false
	reg := &events.CustomerRegistered{Header: head("cr-1", events.TypeCustomerRegistered, 0), CustomerID: "c-1",
		Email: "a@example.com", Country: "DE", MarketingConsent: true}
	produceEvents(t, ctx, p,
		reg,
		&events.CustomerUpdated{Header: head("cu-1", events.TypeCustomerUpdated, 10), CustomerID: "c-1", Country: "FR"},
		reg, // a producer retry: must not undo the update
		&events.CustomerRegistered{Header: head("cr-2", events.TypeCustomerRegistered, 20), CustomerID: "c-2", Country: "GB"},
	)
	cfg := streaming.Config{
		Brokers: brokers, Topic: topic, DLQTopic: dlq, Partitions: []int{0},
		BatchSize: 2, BatchWait: 50 * time.Millisecond, IdleCheck: 50 * time.Millisecond, Owner: "first",
	}
	consumeWith(t, ctx, s.DB, cfg, streaming.CustomersSink{DB: s.DB})
	produceEvents(t, ctx, p,
		&events.CustomerUpdated{Header: head("cu-2", events.TypeCustomerUpdated, 30), CustomerID: "c-1", MarketingConsent: &no},
		&events.ErasureRequested{Header: head("er-1", events.TypeErasureRequested, 40), CustomerID: "c-2", RequestedBy: "customer"},
		&events.ErasureRequested{Header: head("er-2", events.TypeErasureRequested, 50), CustomerID: "c-2", RequestedBy: "customer"},
		reg,
	)
	cfg.Owner, cfg.BatchSize = "second", 100
	consumeWith(t, ctx, s.DB, cfg, streaming.CustomersSink{DB: s.DB})

	cs, err := s.DB.Customers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cs {
		erased := "-"
		if !c.ErasureRequestedAt.IsZero() {
			erased = c.ErasureRequestedAt.Sub(base).String()
		}
		got = append(got, fmt.Sprintf("%s %q %s consent=%v reg@%s upd@%s erase@%s", c.CustomerID, c.Email, c.Country,
			c.MarketingConsent, c.RegisteredAt.Sub(base), c.UpdatedAt.Sub(base), erased))
	}
	want := `[c-1 "a@example.com" FR consent=false reg@0s upd@30s erase@- c-2 "" GB consent=false reg@20s upd@50s erase@40s]`
	if fmt.Sprint(got) != want {
		t.Fatalf("customers:\nwant %s\ngot  %v", want, got)
	}
	var facts int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM customer_events`).Scan(&facts); err != nil {
		t.Fatal(err)
	}
	if facts != 6 {
		t.Fatalf("want 6 customer events, got %d", facts)
	}
}

func TestMarketAndCustomersConsumers_StopWhenAnotherOwnerMovesTheirPartition(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	base := time.Now().UTC().Add(-time.Hour)
	runStaleOwner(t, ctx, s.DB, brokers, streaming.MarketSink{DB: s.DB},
		competitorPrice(base, "cp-1", 0, "p-1", "acme", 100, true), competitorPrice(base, "cp-2", 1, "p-1", "acme", 90, true))
	runStaleOwner(t, ctx, s.DB, brokers, streaming.CustomersSink{DB: s.DB},
		&events.CustomerRegistered{Header: events.Header{EventID: "cr-1", Type: events.TypeCustomerRegistered, SchemaVersion: 1, EventTime: base},
			CustomerID: "c-1", Country: "DE"},
		&events.CustomerRegistered{Header: events.Header{EventID: "cr-2", Type: events.TypeCustomerRegistered, SchemaVersion: 1, EventTime: base},
			CustomerID: "c-2", Country: "DE"})
	var n int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM competitor_prices) + (SELECT count(*) FROM competitor_prices_latest)
		+ (SELECT count(*) FROM customer_events) + (SELECT count(*) FROM customers)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the stale owners stored %d rows", n)
	}
}
