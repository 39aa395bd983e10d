package streaming_test

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

// fraudOrder is a version 2 order with the fields the fraud features read.
type fraudOrder struct {
	id, customer, card, ip, device, billing, shipping string
	at                                                time.Time
	total                                             int64
}

func (f fraudOrder) event() *events.OrderPlaced {
	return &events.OrderPlaced{
		Header:  events.Header{EventID: "ev-" + f.id, Type: events.TypeOrderPlaced, SchemaVersion: 2, EventTime: f.at},
		OrderID: "o-" + f.id, CustomerID: f.customer, Country: "GB", Currency: "GBP", Channel: "web",
		Lines:      []events.OrderLine{{ProductID: "p-1", Quantity: 1, UnitPriceMinor: f.total}},
		TotalMinor: f.total, PaymentMethod: "card", CardFingerprint: f.card, IP: f.ip, DeviceID: f.device,
		BillingCountry: f.billing, ShippingCountry: f.shipping,
	}
}

// commitScored commits the orders through sink as one batch at offset *next
// of partition 0, moving *next on.
func commitScored(t *testing.T, ctx context.Context, sink streaming.OrderSink, topic string, next *int64, evs ...*events.OrderPlaced) store.BatchResult {
	t.Helper()
	b := sink.NewBatch(len(evs))
	for i, ev := range evs {
		if !b.Add(ev, *next+int64(i)) {
			t.Fatalf("order %s refused", ev.EventID)
		}
	}
	res, err := b.Commit(ctx, store.BatchMeta{Topic: topic, Partition: 0, Start: *next, End: *next + int64(len(evs)), Owner: "test"})
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	*next += int64(len(evs))
	return res
}

func scoresByOrder(t *testing.T, ctx context.Context, db *store.DB, from time.Time) map[string]store.FraudScore {
	t.Helper()
	scores, err := db.FraudScores(ctx, from, from.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.FraudScore{}
	for _, s := range scores {
		out[s.OrderID] = s
	}
	return out
}

func TestFraudScoring_CardTestingTakeoverAndANormalCustomer(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	const topic = "orders"
	if err := s.DB.InitOffsets(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	sink := streaming.NewOrderSink(s.DB, 0.8, logger)
	var next int64
	base := time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

	// A week of history: two customers, each with their own card, IP and
	// device, ordering about 50.00 a day from GB to GB.
	var history []*events.OrderPlaced
	for d := range 6 {
		at := base.Add(time.Duration(d) * 24 * time.Hour)
		history = append(history,
			fraudOrder{id: fmt.Sprintf("n%d", d), customer: "c-normal", card: "card-n", ip: "10.0.0.1", device: "dev-n",
				billing: "GB", shipping: "GB", at: at, total: 5000 + int64(d)*100}.event(),
			fraudOrder{id: fmt.Sprintf("v%d", d), customer: "c-victim", card: "card-v", ip: "10.0.0.2", device: "dev-v",
				billing: "GB", shipping: "GB", at: at.Add(time.Hour), total: 4000 + int64(d)*50}.event())
	}
	res := commitScored(t, ctx, sink, topic, &next, history...)
	if res.FraudScored != len(history) || res.FraudAlerts != 0 {
		t.Fatalf("history: want %d scored and no alert, got %+v", len(history), res)
	}

	day7 := base.Add(7 * 24 * time.Hour)
	// The normal customer orders again as usual.
	normal := fraudOrder{id: "n-today", customer: "c-normal", card: "card-n", ip: "10.0.0.1", device: "dev-n",
		billing: "GB", shipping: "GB", at: day7, total: 5200}.event()
	// The victim's account is taken over: a new device and IP, four times
	// the usual spend, shipped abroad, paid with the saved card.
	takeover := fraudOrder{id: "v-ato", customer: "c-victim", card: "card-v", ip: "203.0.113.9", device: "dev-x",
		billing: "GB", shipping: "NG", at: day7.Add(time.Minute), total: 17000}.event()
	// A bot tests 12 stolen cards from one IP and device, 10 s apart, on a
	// throwaway account; the burst is split over three batches. The last
	// test, at +110 s, sees the 11 before it within the hour and the 6 at
	// +50 s to +100 s within its minute [+50 s, +110 s).
	var burst []*events.OrderPlaced
	for i := range 12 {
		burst = append(burst, fraudOrder{id: fmt.Sprintf("bot%02d", i), customer: "c-bot", card: fmt.Sprintf("stolen-%02d", i),
			ip: "198.51.100.7", device: "dev-bot", billing: "US", shipping: "US",
			at: day7.Add(2*time.Minute + time.Duration(i)*10*time.Second), total: 199}.event())
	}
	commitScored(t, ctx, sink, topic, &next, normal, takeover, burst[0])
	commitScored(t, ctx, sink, topic, &next, burst[1:5]...)
	res = commitScored(t, ctx, sink, topic, &next, burst[5:]...)
	if res.FraudAlerts == 0 {
		t.Fatalf("card testing burst raised no alert: %+v", res)
	}

	scores := scoresByOrder(t, ctx, s.DB, base)
	n := scores["o-n-today"]
	if n.Score > 0.2 || n.ModelVersion != "rules-v1" {
		t.Errorf("normal customer: want a low rules-v1 score, got %v %s (%+v)", n.Score, n.ModelVersion, n.Features)
	}
	if f := n.Features; f.CustomerPriorOrders != 6 || f.NewDevice != 0 || f.CountryMismatch != 0 || f.AccountAgeHours != 7*24 {
		t.Errorf("normal customer features: %+v", f)
	}
	a := scores["o-v-ato"]
	if f := a.Features; f.NewDevice != 1 || f.CountryMismatch != 1 || f.AmountRatio < 4 || f.AmountZ < 3 || f.CustomerPriorOrders != 6 {
		t.Errorf("takeover features: want new device, mismatch, ratio >= 4 and z >= 3, got %+v", f)
	}
	if a.Score < 0.8 {
		t.Errorf("takeover: want a score of at least 0.8, got %v", a.Score)
	}
	last := scores["o-bot11"]
	if f := last.Features; f.IPOrders1m != 6 || f.IPOrders1h != 11 || f.IPCards1h != 11 || f.DeviceOrders1h != 11 ||
		f.CustomerOrders1h != 11 || f.CardOrders24h != 0 || math.Abs(f.AccountAgeHours-110.0/3600) > 1e-12 {
		t.Errorf("last card test: features %+v", f)
	}
	if last.Score < 0.8 {
		t.Errorf("last card test: want a score of at least 0.8, got %v", last.Score)
	}
	if first := scores["o-bot00"]; first.Score >= 0.8 || first.Features.CustomerPriorOrders != 0 {
		t.Errorf("first card test: want a low score with no history, got %v %+v", first.Score, first.Features)
	}

	alerts, err := s.DB.Alerts(ctx, store.AlertFilter{Type: store.AlertFraud})
	if err != nil {
		t.Fatal(err)
	}
	alerted := map[string]bool{}
	for _, al := range alerts {
		if alerted[al.Entity] {
			t.Errorf("two alerts for %s", al.Entity)
		}
		alerted[al.Entity] = true
	}
	if !alerted["order o-v-ato"] || !alerted["order o-bot11"] || alerted["order o-n-today"] || alerted["order o-bot00"] {
		t.Errorf("alerts: %v", alerted)
	}

	// The whole burst again (a producer retry) at new offsets: nothing is
	// rescored and no alert is raised again.
	before := len(scores)
	res = commitScored(t, ctx, sink, topic, &next, burst...)
	if res.Duplicates != len(burst) || res.FraudScored != 0 || res.FraudAlerts != 0 {
		t.Fatalf("replayed burst: want all duplicates, nothing scored, got %+v", res)
	}
	again := scoresByOrder(t, ctx, s.DB, base)
	if len(again) != before || again["o-bot11"].Features != last.Features {
		t.Fatalf("replay changed the scores")
	}
}

func TestFraudScoring_ActiveModelIsPickedUpAfterReload(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	const topic = "orders"
	if err := s.DB.InitOffsets(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	scorer := &streaming.FraudScorer{DB: s.DB, AlertThreshold: 0.8, Reload: 30 * time.Second, Now: func() time.Time { return clock }}
	sink := streaming.OrderSink{DB: s.DB, Fraud: scorer}
	var next int64
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ord := func(id string) *events.OrderPlaced {
		at = at.Add(time.Minute)
		return fraudOrder{id: id, customer: "c-1", card: "k", ip: "10.0.0.1", device: "d", billing: "GB", shipping: "FR", at: at, total: 1000}.event()
	}
	commitScored(t, ctx, sink, topic, &next, ord("1"))

	// A trained model is promoted. Within the reload period the old model
	// stays; after it, the next batch uses the new one.
	if err := s.DB.RegisterFraudModel(ctx, store.FraudModelRow{Version: "lr-2026-11-26", Kind: "logistic", Active: true,
		Params: []byte(`{"bias": 1, "weights": {"country_mismatch": 2}}`)}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(10 * time.Second)
	commitScored(t, ctx, sink, topic, &next, ord("2"))
	clock = clock.Add(30 * time.Second)
	res := commitScored(t, ctx, sink, topic, &next, ord("3"))
	if res.FraudAlerts != 1 {
		t.Errorf("the model's 0.95 score should raise an alert, got %+v", res)
	}
	// Promoting another version retires the first: one active model.
	if err := s.DB.RegisterFraudModel(ctx, store.FraudModelRow{Version: "lr-2", Kind: "logistic", Active: true,
		Params: []byte(`{"bias": -5, "weights": {}}`)}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Minute)
	commitScored(t, ctx, sink, topic, &next, ord("4"))
	// A broken registration (a kind the hot path does not know) does not
	// stop the stream: the model in use stays.
	if err := s.DB.RegisterFraudModel(ctx, store.FraudModelRow{Version: "gbm-1", Kind: "gbm", Active: true, Params: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(time.Minute)
	commitScored(t, ctx, sink, topic, &next, ord("5"))

	scores := scoresByOrder(t, ctx, s.DB, at.Add(-time.Hour))
	want := map[string]string{"o-1": "rules-v1", "o-2": "rules-v1", "o-3": "lr-2026-11-26", "o-4": "lr-2", "o-5": "lr-2"}
	for o, v := range want {
		if got := scores[o].ModelVersion; got != v {
			t.Errorf("%s: want model %s, got %s (score %v)", o, v, got, scores[o].Score)
		}
	}
	if got := scores["o-3"].Score; got < 0.95 || got > 0.953 {
		t.Errorf("o-3: want sigmoid(3) = 0.9526, got %v", got)
	}
	var active int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM fraud_models WHERE active`).Scan(&active); err != nil || active != 1 {
		t.Fatalf("active models: %d %v", active, err)
	}
}

func TestOrderConsumer_ScoresEveryOrderFromKafkaOnceAndAlertsOnCardTesting(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	topic := testenv.Topic(t, brokers, 1)
	dlq := testenv.Topic(t, brokers, 1)
	if err := s.DB.InitOffsets(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()
	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	var evs []events.Event
	for i := range 10 {
		evs = append(evs, fraudOrder{id: fmt.Sprintf("k%d", i), customer: "c-bot", card: fmt.Sprintf("stolen-%d", i),
			ip: "198.51.100.7", device: "dev-bot", billing: "US", shipping: "US",
			at: base.Add(time.Duration(i) * 5 * time.Second), total: 199}.event())
	}
	evs = append(evs, evs[3]) // a producer retry: stored and scored once
	produceEvents(t, ctx, p, evs...)
	cfg := streaming.Config{
		Brokers: brokers, Topic: topic, DLQTopic: dlq, Partitions: []int{0},
		BatchSize: 4, BatchWait: 50 * time.Millisecond, IdleCheck: 50 * time.Millisecond, Owner: "test",
	}
	c, err := streaming.NewConsumer(cfg, s.DB, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	testenv.WaitCaughtUp(t, ctx, s.DB, cfg.Brokers, cfg.Topic, 1)
	stop()
	if err := <-done; err != nil {
		t.Fatalf("consumer: %v", err)
	}
	scores := scoresByOrder(t, ctx, s.DB, base.Add(-time.Hour))
	if len(scores) != 10 {
		t.Fatalf("want 10 scores, got %d", len(scores))
	}
	if f := scores["o-k9"].Features; f.IPCards1h != 9 || f.IPOrders1m != 9 || scores["o-k9"].Score < 0.8 {
		t.Fatalf("last card test: score %v features %+v", scores["o-k9"].Score, f)
	}
	alerts, err := s.DB.Alerts(ctx, store.AlertFilter{Type: store.AlertFraud})
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) == 0 {
		t.Fatal("no fraud alert")
	}
}
