package e2e

import (
	"bytes"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
)

// TestEndToEnd_SessionsFunnelAndJourneyFromTheSimulator runs the worker on
// the shop simulator's clickstream and orders: the sessions equal those
// computed here from the produced events by the 30-minute rule, every order
// the simulator placed in a session is its purchase, traffic and the funnel
// agree with them, and `shoppulse journey` prints a buyer's order.
func TestEndToEnd_SessionsFunnelAndJourneyFromTheSimulator(t *testing.T) {
	h := newHarness(t)
	ctx := testenv.Context(t, 4*time.Minute)
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Minute)
	shop := ingest.NewShop(ingest.ShopConfig{Seed: 11, Start: start, EventsPerSecond: 2, Customers: 300, Products: 50})

	var clickEvs, orderEvs []events.Event
	times := map[string][]time.Time{} // session id -> event times
	known := map[string]string{}      // session id -> customer id seen in its clicks
	pageViews := 0
	var buyer, buyerOrder string
	sessionOrders := 0
	for {
		ev, ok := shop.Next()
		if !ok || shop.Now().After(start.Add(40*time.Minute)) {
			break
		}
		switch e := ev.(type) {
		case *events.OrderPlaced:
			orderEvs = append(orderEvs, e)
			if e.SessionID != "" {
				sessionOrders++
				if buyer == "" && known[e.SessionID] == e.CustomerID {
					buyer, buyerOrder = e.CustomerID, e.OrderID
				}
			}
		default:
			if ev.Topic() != events.TopicClickstream {
				continue
			}
			clickEvs = append(clickEvs, ev)
			var c events.Clickstream
			switch e := ev.(type) {
			case *events.PageView:
				c = e.Clickstream
				pageViews++
			case *events.ProductView:
				c = e.Clickstream
			case *events.Search:
				c = e.Clickstream
			case *events.CartChange:
				c = e.Clickstream
			case *events.CheckoutStarted:
				c = e.Clickstream
			}
			times[c.SessionID] = append(times[c.SessionID], ev.Head().EventTime)
			if c.CustomerID != "" {
				known[c.SessionID] = c.CustomerID
			}
		}
	}
	if buyer == "" || len(times) < 20 {
		t.Fatalf("the simulator made %d sessions and %d session orders: too few for the test", len(times), sessionOrders)
	}
	wantSessions := 0
	for _, ts := range times {
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		wantSessions++
		for i := 1; i < len(ts); i++ {
			if ts[i].Sub(ts[i-1]) > 30*time.Minute {
				wantSessions++
			}
		}
	}
	t.Logf("%d clickstream events in %d sessions, %d orders (%d placed in a session)", len(clickEvs), wantSessions, len(orderEvs), sessionOrders)
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: h.brokers,
		TopicMap: map[string]string{events.TopicClickstream: h.clkTopic, events.TopicOrders: h.topic}})
	defer p.Close()
	if err := p.Publish(ctx, append(clickEvs, orderEvs...)...); err != nil {
		t.Fatal(err)
	}
	h.startWorker()
	h.waitForTopicEnd(ctx, h.clkTopic)
	h.waitForTopicEnd(ctx, h.topic)

	var sessions, started, funnelSessions, purchased, funnelPurchased, linked, stored, views int64
	if err := h.schema.DB.Pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM sessions),
		(SELECT coalesce(sum(sessions_started), 0) FROM traffic_minute),
		(SELECT coalesce(sum(sessions), 0) FROM funnel_hour),
		(SELECT count(*) FROM sessions WHERE purchase),
		(SELECT coalesce(sum(purchase), 0) FROM funnel_minute),
		(SELECT coalesce(sum(orders), 0) FROM sessions),
		(SELECT count(*) FROM session_purchases),
		(SELECT coalesce(sum(page_views), 0) FROM traffic_minute)`).Scan(
		&sessions, &started, &funnelSessions, &purchased, &funnelPurchased, &linked, &stored, &views); err != nil {
		t.Fatal(err)
	}
	if sessions != int64(wantSessions) || started != sessions || funnelSessions != sessions {
		t.Errorf("sessions: want %d, got %d in sessions, %d started in traffic_minute, %d in funnel_hour",
			wantSessions, sessions, started, funnelSessions)
	}
	if stored != int64(sessionOrders) || linked != stored || funnelPurchased != purchased || purchased == 0 {
		t.Errorf("purchases: %d session orders produced, %d stored, %d linked to a session; %d purchased sessions, %d in funnel_minute",
			sessionOrders, stored, linked, purchased, funnelPurchased)
	}
	if views != int64(pageViews) {
		t.Errorf("page views: want %d, got %d", pageViews, views)
	}

	cmd := exec.CommandContext(ctx, h.bin, "journey", buyer)
	cmd.Env = h.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("journey: %v: %s", err, errOut.String())
	}
	if !strings.Contains(out.String(), buyerOrder) || !strings.Contains(out.String(), "session") {
		t.Errorf("journey of %s does not show its session and order %s:\n%s", buyer, buyerOrder, out.String())
	}
}
