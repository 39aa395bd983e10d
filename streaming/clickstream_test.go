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

// clicks builds a deterministic clickstream: times are offsets from base.
type clicks struct{ base time.Time }

func (c clicks) at(min, sec int) time.Time {
	return c.base.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
}

func (c clicks) head(id, typ string, min, sec int) events.Header {
	return events.Header{EventID: id, Type: typ, SchemaVersion: 1, EventTime: c.at(min, sec), Source: "test"}
}

func click(session, customer, device, page, referrer string) events.Clickstream {
	return events.Clickstream{SessionID: session, CustomerID: customer, Client: events.Client{Device: device}, Page: page, Referrer: referrer}
}

func (c clicks) pageView(id string, min, sec int, cl events.Clickstream) *events.PageView {
	return &events.PageView{Header: c.head(id, events.TypePageView, min, sec), Clickstream: cl}
}

func (c clicks) productView(id string, min, sec int, cl events.Clickstream, product string) *events.ProductView {
	return &events.ProductView{Header: c.head(id, events.TypeProductView, min, sec), Clickstream: cl,
		ProductID: product, PriceMinor: 1234, Currency: "GBP"}
}

func (c clicks) cart(id, typ string, min, sec int, cl events.Clickstream, product string) *events.CartChange {
	return &events.CartChange{Header: c.head(id, typ, min, sec), Clickstream: cl, ProductID: product, Quantity: 1,
		PriceMinor: 1234, Currency: "GBP"}
}

func (c clicks) order(id string, min int, customer, session string, total int64) events.OrderPlaced {
	h := c.head(id, events.TypeOrderPlaced, min, 0)
	h.SchemaVersion = 2
	return events.OrderPlaced{Header: h, OrderID: "ord-" + id, CustomerID: customer, Country: "GB", Currency: "GBP",
		Channel: "web", Lines: []events.OrderLine{{ProductID: "P1", Quantity: 1, UnitPriceMinor: total}}, TotalMinor: total,
		SessionID: session}
}

// The hand-computed scenario (gap 30 minutes; mm:ss after base):
//
//	session sA (customer C1, mobile): 00:30 page, 00:50 product P1 (sent
//	twice, then again after the restart), 01:10 add, 01:20 remove, 01:40
//	checkout; order at 02:00 -> one session spanning minutes 0 and 1,
//	purchased.
//	session sB (anonymous, desktop): 00:10 page, 05:00 search | 75:00 page,
//	76:30 product P2, 76:00 product P2 (sent out of order) -> split by the
//	gap into two sessions; the order at 77:00 belongs to the second. After
//	the restart a late page at 40:00, more than 30 minutes from both,
//	opens a third session of its own.
//	session sC (tablet): 10:00 page, 12:00 product P3 (customer C1 logs
//	in); after the restart a late page at 09:00 moves its start (and
//	its sessions_started) from minute 10 to minute 9 and its entry page.
func (c clicks) scenario() (first, second []events.Event, orders []events.OrderPlaced) {
	a := click("sA", "C1", "mobile", "/", "https://google.com")
	aP := a
	aP.Page = "/p/P1"
	aC := a
	aC.Page = "/checkout"
	b := click("sB", "", "desktop", "/", "")
	bS := b
	bS.Page = "/search"
	cl := click("sC", "", "tablet", "/", "https://news.example")
	cIn := cl
	cIn.CustomerID, cIn.Page = "C1", "/p/P3"
	cSale := cl
	cSale.Page = "/sale"

	a2 := c.productView("a2", 0, 50, aP, "P1")
	wrongTopic := c.order("o-wrong", 3, "C9", "", 100)
	first = []events.Event{
		c.pageView("b1", 0, 10, b),
		c.pageView("a1", 0, 30, a),
		a2,
		c.cart("a3", events.TypeAddToCart, 1, 10, aP, "P1"),
		c.cart("a3r", events.TypeRemoveFromCart, 1, 20, aP, "P1"),
		a2, // a producer retry: counted once
		&events.CheckoutStarted{Header: c.head("a4", events.TypeCheckoutStarted, 1, 40), Clickstream: aC, CartMinor: 1234, Currency: "GBP", Items: 1},
		&events.Search{Header: c.head("b2", events.TypeSearch, 5, 0), Clickstream: bS, Query: "mug", Results: 3},
		c.pageView("c1", 10, 0, cl),
		c.productView("c2", 12, 0, cIn, "P3"),
		c.pageView("b3", 75, 0, b),
		c.productView("b5", 76, 30, b, "P2"),
		c.productView("b4", 76, 0, b, "P2"), // out of order
		&wrongTopic,                         // an order on the clickstream topic: a dead letter
	}
	second = []events.Event{
		c.pageView("c0", 9, 0, cSale), // late: extends sC backwards
		c.pageView("d1", 40, 0, b),    // late: a session of its own
		a2,                            // a retry after the restart
	}
	orders = []events.OrderPlaced{
		c.order("oA", 2, "C1", "sA", 1234),
		c.order("oB", 77, "C7", "sB", 500),
		c.order("oX", 20, "C1", "", 999),   // no session
		c.order("oZ", 3, "C3", "sZ", 4321), // a session with no clicks
	}
	return first, second, orders
}

// commitOrders stores orders as the orders consumer would, in two batches
// (the second repeats the first order).
func commitOrders(t *testing.T, ctx context.Context, db *store.DB, orders []events.OrderPlaced) {
	t.Helper()
	topic := testenv.Name("orders")
	if err := db.InitOffsets(ctx, topic, 1); err != nil {
		t.Fatal(err)
	}
	b := store.OrderBatch{Topic: topic, Start: 0, End: int64(len(orders)), Owner: "orders"}
	for i, o := range orders {
		b.Orders = append(b.Orders, store.PositionedOrder{Order: o, Offset: int64(i)})
	}
	if _, err := db.CommitOrderBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	dup := store.OrderBatch{Topic: topic, Start: b.End, End: b.End + 1, Owner: "orders",
		Orders: []store.PositionedOrder{{Order: orders[0], Offset: b.End}}}
	if res, err := db.CommitOrderBatch(ctx, dup); err != nil || res.Duplicates != 1 {
		t.Fatalf("repeated order: %+v, %v", res, err)
	}
}

func consumeClickstream(t *testing.T, ctx context.Context, db *store.DB, cfg streaming.Config) {
	t.Helper()
	consumeWith(t, ctx, db, cfg, streaming.ClickstreamSink{DB: db, SessionGap: 30 * time.Minute})
}

type trafficRow struct {
	minute                                               int
	pageViews, productViews, searches, cartAdds, removes int64
	checkouts, started, late                             int64
}

func trafficRows(t *testing.T, ctx context.Context, db *store.DB, base time.Time) []trafficRow {
	t.Helper()
	rows, err := db.Pool.Query(ctx, `SELECT minute, page_views, product_views, searches, cart_adds, cart_removes,
		checkouts, sessions_started, late_events FROM traffic_minute ORDER BY minute`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []trafficRow
	for rows.Next() {
		var m time.Time
		var r trafficRow
		if err := rows.Scan(&m, &r.pageViews, &r.productViews, &r.searches, &r.cartAdds, &r.removes, &r.checkouts, &r.started, &r.late); err != nil {
			t.Fatal(err)
		}
		r.minute = int(m.Sub(base) / time.Minute)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

type funnelRow struct {
	bucket                                                   int
	sessions, product, cart, checkout, purchase, orders, rev int64
}

func funnelRows(t *testing.T, ctx context.Context, db *store.DB, view, col string, base time.Time, unit time.Duration) []funnelRow {
	t.Helper()
	rows, err := db.Pool.Query(ctx, `SELECT `+col+`, sessions, product_view, add_to_cart, checkout, purchase, orders, revenue_minor
		FROM `+view+` ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []funnelRow
	for rows.Next() {
		var at time.Time
		var r funnelRow
		if err := rows.Scan(&at, &r.sessions, &r.product, &r.cart, &r.checkout, &r.purchase, &r.orders, &r.rev); err != nil {
			t.Fatal(err)
		}
		r.bucket = int(at.Sub(base) / unit)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// funnelFromSessions counts the funnel from the session rows themselves.
func funnelFromSessions(ss []store.Session, base time.Time, unit time.Duration) []funnelRow {
	var out []funnelRow
	for _, s := range ss {
		b := int(s.StartedAt.Truncate(unit).Sub(base) / unit)
		if len(out) == 0 || out[len(out)-1].bucket != b {
			out = append(out, funnelRow{bucket: b})
		}
		r := &out[len(out)-1]
		r.sessions++
		one := func(ok bool) int64 {
			if ok {
				return 1
			}
			return 0
		}
		r.product += one(s.ProductViews > 0)
		r.cart += one(s.CartAdds > 0)
		r.checkout += one(s.Checkout)
		r.purchase += one(s.Purchase)
		r.orders += s.Orders
		r.rev += s.RevenueMinor
	}
	return out
}

func sessionsUTC(t *testing.T, ctx context.Context, db *store.DB) []store.Session {
	t.Helper()
	ss, err := db.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ss {
		ss[i].StartedAt, ss[i].EndedAt = ss[i].StartedAt.UTC(), ss[i].EndedAt.UTC()
	}
	return ss
}

func TestClickstreamConsumer_HandComputedSessionsTrafficAndFunnel(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, 2*time.Minute)
	topic := testenv.Topic(t, brokers, 1)
	dlq := testenv.Topic(t, brokers, 1)
	c := clicks{base: time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Hour)}
	first, second, orders := c.scenario()

	// The orders topic first: purchases wait for their sessions.
	commitOrders(t, ctx, s.DB, orders)
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic})
	defer p.Close()
	produceEvents(t, ctx, p, first...)
	cfg := streaming.Config{
		Brokers: brokers, Topic: topic, DLQTopic: dlq, Partitions: []int{0},
		BatchSize: 3, BatchWait: 50 * time.Millisecond, IdleCheck: 50 * time.Millisecond, Owner: "first",
	}
	consumeClickstream(t, ctx, s.DB, cfg)
	for _, r := range trafficRows(t, ctx, s.DB, c.base) {
		if r.minute == 10 && r.started != 1 {
			t.Fatalf("before the late event, session sC should start in minute 10: %+v", r)
		}
	}

	// A new owner starts from what Postgres holds.
	produceEvents(t, ctx, p, second...)
	cfg.Owner, cfg.BatchSize = "second", 2
	consumeClickstream(t, ctx, s.DB, cfg)

	key := func(id string, min, sec int) string {
		return id + "@" + c.at(min, sec).Format("2006-01-02T15:04:05.000000Z")
	}
	want := []store.Session{
		{SessionKey: key("sB", 0, 10), SessionID: "sB", StartedAt: c.at(0, 10), EndedAt: c.at(5, 0),
			Events: 2, Pages: 1, PageViews: 1, Searches: 1, Device: "desktop", EntryPage: "/"},
		{SessionKey: key("sA", 0, 30), SessionID: "sA", CustomerID: "C1", StartedAt: c.at(0, 30), EndedAt: c.at(1, 40),
			Events: 5, Pages: 2, PageViews: 1, ProductViews: 1, ProductsViewed: 1, CartAdds: 1, CartRemoves: 1,
			Checkout: true, Purchase: true, Orders: 1, RevenueMinor: 1234, Currency: "GBP",
			Device: "mobile", EntryPage: "/", Referrer: "https://google.com"},
		{SessionKey: key("sC", 9, 0), SessionID: "sC", CustomerID: "C1", StartedAt: c.at(9, 0), EndedAt: c.at(12, 0),
			Events: 3, Pages: 3, PageViews: 2, ProductViews: 1, ProductsViewed: 1,
			Device: "tablet", EntryPage: "/sale", Referrer: "https://news.example"},
		{SessionKey: key("sB", 40, 0), SessionID: "sB", StartedAt: c.at(40, 0), EndedAt: c.at(40, 0),
			Events: 1, Pages: 1, PageViews: 1, Device: "desktop", EntryPage: "/"},
		{SessionKey: key("sB", 75, 0), SessionID: "sB", StartedAt: c.at(75, 0), EndedAt: c.at(76, 30),
			Events: 3, Pages: 3, PageViews: 1, ProductViews: 2, ProductsViewed: 1,
			Purchase: true, Orders: 1, RevenueMinor: 500, Currency: "GBP", Device: "desktop", EntryPage: "/"},
	}
	got := sessionsUTC(t, ctx, s.DB)
	if len(got) != len(want) {
		t.Fatalf("want %d sessions, got %d: %+v", len(want), len(got), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("session %d:\nwant %+v\n got %+v", i+1, want[i], got[i])
		}
	}

	wantTraffic := []trafficRow{
		{minute: 0, pageViews: 2, productViews: 1, started: 2},
		{minute: 1, cartAdds: 1, removes: 1, checkouts: 1},
		{minute: 5, searches: 1},
		{minute: 9, pageViews: 1, started: 1, late: 1},
		{minute: 10, pageViews: 1},
		{minute: 12, productViews: 1},
		{minute: 40, pageViews: 1, started: 1, late: 1},
		{minute: 75, pageViews: 1, started: 1},
		{minute: 76, productViews: 2},
	}
	if gotT := trafficRows(t, ctx, s.DB, c.base); fmt.Sprint(gotT) != fmt.Sprint(wantTraffic) {
		t.Errorf("traffic per minute:\nwant %+v\n got %+v", wantTraffic, gotT)
	}

	wantMinute := []funnelRow{
		{0, 2, 1, 1, 1, 1, 1, 1234},
		{9, 1, 1, 0, 0, 0, 0, 0},
		{40, 1, 0, 0, 0, 0, 0, 0},
		{75, 1, 1, 0, 0, 1, 1, 500},
	}
	wantHour := []funnelRow{
		{0, 4, 2, 1, 1, 1, 1, 1234},
		{1, 1, 1, 0, 0, 1, 1, 500},
	}
	for _, f := range []struct {
		view, col string
		unit      time.Duration
		want      []funnelRow
	}{
		{"funnel_minute", "minute", time.Minute, wantMinute},
		{"funnel_hour", "hour", time.Hour, wantHour},
	} {
		gotF := funnelRows(t, ctx, s.DB, f.view, f.col, c.base, f.unit)
		if fmt.Sprint(gotF) != fmt.Sprint(f.want) {
			t.Errorf("%s:\nwant %+v\n got %+v", f.view, f.want, gotF)
		}
		if fromSessions := funnelFromSessions(got, c.base, f.unit); fmt.Sprint(gotF) != fmt.Sprint(fromSessions) {
			t.Errorf("%s disagrees with the sessions table:\nview     %+v\nsessions %+v", f.view, gotF, fromSessions)
		}
	}
	// sessions_started per minute is the count of sessions starting in it.
	var mismatched int
	if err := s.DB.Pool.QueryRow(ctx, `
		SELECT count(*) FROM traffic_minute t FULL JOIN funnel_minute f ON f.minute = t.minute
		 WHERE coalesce(t.sessions_started, 0) <> coalesce(f.sessions, 0)`).Scan(&mismatched); err != nil || mismatched != 0 {
		t.Errorf("traffic_minute.sessions_started disagrees with the sessions in %d minutes (%v)", mismatched, err)
	}

	var facts, dead, purchases int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM clickstream_events), (SELECT count(*) FROM dead_letters),
		(SELECT count(*) FROM session_purchases)`).Scan(&facts, &dead, &purchases); err != nil {
		t.Fatal(err)
	}
	if facts != 14 || dead != 1 || purchases != 3 {
		t.Errorf("want 14 clickstream events, 1 dead letter, 3 session purchases; got %d, %d, %d", facts, dead, purchases)
	}

	journey, err := s.DB.CustomerJourney(ctx, "C1")
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, st := range journey {
		name := st.OrderID
		if st.Kind == "session" {
			name = st.Session.SessionKey
		}
		steps = append(steps, fmt.Sprintf("%d:%s:%s", int(st.At.Sub(c.base)/time.Second), st.Kind, name))
	}
	wantSteps := fmt.Sprint([]string{"30:session:" + key("sA", 0, 30), "120:order:ord-oA", "540:session:" + key("sC", 9, 0), "1200:order:ord-oX"})
	if fmt.Sprint(steps) != wantSteps {
		t.Errorf("journey of C1:\nwant %s\n got %s", wantSteps, fmt.Sprint(steps))
	}

	// The same log consumed by one owner in one go gives the same rows (but
	// for late counts, which depend on the watermark between batches).
	t.Run("one uninterrupted owner gives the same rows", func(t *testing.T) {
		s2 := testenv.DB(t)
		topic2 := testenv.Topic(t, brokers, 1)
		p2 := ingest.NewProducer(ingest.ProducerConfig{Brokers: brokers, Topic: topic2})
		defer p2.Close()
		produceEvents(t, ctx, p2, append(append([]events.Event{}, first...), second...)...)
		consumeClickstream(t, ctx, s2.DB, streaming.Config{
			Brokers: brokers, Topic: topic2, DLQTopic: dlq, Partitions: []int{0},
			BatchSize: 1000, BatchWait: 200 * time.Millisecond, IdleCheck: 50 * time.Millisecond, Owner: "one",
		})
		commitOrders(t, ctx, s2.DB, orders) // orders after the clicks this time
		if got2 := sessionsUTC(t, ctx, s2.DB); fmt.Sprint(got2) != fmt.Sprint(got) {
			t.Errorf("sessions differ:\nrestarted %+v\none owner %+v", got, got2)
		}
		noLate := func(rs []trafficRow) []trafficRow {
			for i := range rs {
				rs[i].late = 0
			}
			return rs
		}
		if a, b := noLate(trafficRows(t, ctx, s.DB, c.base)), noLate(trafficRows(t, ctx, s2.DB, c.base)); fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("traffic differs:\nrestarted %+v\none owner %+v", a, b)
		}
	})
}

func TestClickstreamConsumer_StopsWhenAnotherOwnerMovesItsPartition(t *testing.T) {
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	cs := clicks{base: time.Now().UTC().Add(-time.Hour)}
	cl := click("sF", "", "mobile", "/", "")
	runStaleOwner(t, ctx, s.DB, brokers, streaming.ClickstreamSink{DB: s.DB}, cs.pageView("f1", 0, 0, cl), cs.pageView("f2", 1, 0, cl))
	var facts, sessions, traffic int
	if err := s.DB.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM clickstream_events), (SELECT count(*) FROM click_sessions),
		(SELECT count(*) FROM traffic_minute)`).Scan(&facts, &sessions, &traffic); err != nil {
		t.Fatal(err)
	}
	if facts+sessions+traffic != 0 {
		t.Fatalf("the stale owner stored %d events, %d sessions, %d traffic minutes", facts, sessions, traffic)
	}
}
