package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

var day = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

type revenueAnswer struct {
	Granularity, TZ, From, To string
	Points                    []RevenuePoint
	Filter                    *RevenueFilter
}

func revenueLines(pts []RevenuePoint) string {
	var b strings.Builder
	for _, p := range pts {
		fmt.Fprintf(&b, "%s %s orders=%d units=%d revenue=%d", p.Start, p.Currency, p.Orders, p.Units, p.RevenueMinor)
		if p.AvgOrderMinor != nil {
			fmt.Fprintf(&b, " avg=%g", *p.AvgOrderMinor)
		}
		if p.Cancellations != nil {
			fmt.Fprintf(&b, " cancellations=%d", *p.Cancellations)
		}
		if p.Refunds != nil {
			fmt.Fprintf(&b, " refunds=%d", *p.Refunds)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// seedRevenue stores four orders: three at 10:00-10:01 UTC and one at 23:30
// UTC, which is already the next day in Tokyo.
func seedRevenue(t *testing.T, sd *seeder) {
	at := day.Add(10*time.Hour + 10*time.Second)
	sd.orders(nil,
		orderEvent("1", "c-1", at, "GB", "web", 2700,
			events.OrderLine{ProductID: "p-shoe", Category: "shoes", Quantity: 2, UnitPriceMinor: 1000},
			events.OrderLine{ProductID: "p-sock", Category: "shoes", Quantity: 1, UnitPriceMinor: 100},
			events.OrderLine{ProductID: "p-hat", Category: "hats", Quantity: 1, UnitPriceMinor: 500}),
		orderEvent("2", "c-2", at.Add(5*time.Second), "FR", "app", 1000,
			events.OrderLine{ProductID: "p-shoe", Category: "shoes", Quantity: 1, UnitPriceMinor: 1000}),
		orderEvent("3", "c-1", at.Add(time.Minute), "GB", "app", 1500,
			events.OrderLine{ProductID: "p-hat", Category: "hats", Quantity: 3, UnitPriceMinor: 500}))
	sd.orders(nil, orderEvent("4", "c-3", day.Add(23*time.Hour+30*time.Minute), "DE", "web", 800,
		events.OrderLine{ProductID: "p-sock", Category: "shoes", Quantity: 8, UnitPriceMinor: 100}))
}

func TestRevenueSeries_ExactFiguresPerGranularityZoneAndFilter(t *testing.T) {
	a := newReadAPI(t, Config{})
	seedRevenue(t, newSeeder(t, a.DB))

	got := get[revenueAnswer](t, a, "/v1/revenue?granularity=minute&tz=UTC&from=2026-11-26T10:00:00Z&to=2026-11-26T10:05:00Z")
	want := "2026-11-26T10:00:00Z GBP orders=2 units=5 revenue=3700 avg=1850 cancellations=0\n" +
		"2026-11-26T10:01:00Z GBP orders=1 units=3 revenue=1500 avg=1500 cancellations=0\n"
	if s := revenueLines(got.Points); s != want || got.Filter != nil || got.TZ != "UTC" {
		t.Errorf("minutes:\n%s\nwant\n%s", s, want)
	}

	// Days in Tokyo (UTC+9): 10:00 UTC is 19:00 on the 26th, 23:30 UTC is
	// 08:30 on the 27th.
	got = get[revenueAnswer](t, a, "/v1/revenue?granularity=day&tz=Asia/Tokyo&from=2026-11-26&to=2026-11-28")
	want = "2026-11-26T00:00:00+09:00 GBP orders=3 units=8 revenue=5200 avg=1733.3333333333333 cancellations=0\n" +
		"2026-11-27T00:00:00+09:00 GBP orders=1 units=8 revenue=800 avg=800 cancellations=0\n"
	if s := revenueLines(got.Points); s != want || got.From != "2026-11-26T00:00:00+09:00" || got.To != "2026-11-28T00:00:00+09:00" {
		t.Errorf("Tokyo days (%s to %s):\n%s\nwant\n%s", got.From, got.To, s, want)
	}
	// The same orders in UTC days are all on the 26th.
	got = get[revenueAnswer](t, a, "/v1/revenue?granularity=day&tz=UTC&from=2026-11-26&to=2026-11-28")
	if s := revenueLines(got.Points); s != "2026-11-26T00:00:00Z GBP orders=4 units=16 revenue=6000 avg=1500 cancellations=0\n" {
		t.Errorf("UTC days:\n%s", s)
	}

	// One category: hats were in o-1 (1 x 500) and o-3 (3 x 500).
	got = get[revenueAnswer](t, a, "/v1/revenue?granularity=hour&tz=Europe/London&from=2026-11-26&to=2026-11-27&category=hats")
	if s := revenueLines(got.Points); s != "2026-11-26T10:00:00Z GBP orders=2 units=4 revenue=2000 avg=1000 refunds=0\n" ||
		got.Filter == nil || *got.Filter != (RevenueFilter{Dimension: "category", Value: "hats"}) {
		t.Errorf("hats: %s %+v", s, got.Filter)
	}
	got = get[revenueAnswer](t, a, "/v1/revenue?granularity=hour&tz=UTC&from=2026-11-26&to=2026-11-27&country=GB")
	if s := revenueLines(got.Points); s != "2026-11-26T10:00:00Z GBP orders=2 units=7 revenue=4200 avg=2100 refunds=0\n" {
		t.Errorf("GB: %s", s)
	}
	got = get[revenueAnswer](t, a, "/v1/revenue?granularity=hour&tz=UTC&from=2026-11-26&to=2026-11-27&product=p-sock&currency=GBP")
	if s := revenueLines(got.Points); s != "2026-11-26T10:00:00Z GBP orders=1 units=1 revenue=100 avg=100 refunds=0\n"+
		"2026-11-26T23:00:00Z GBP orders=1 units=8 revenue=800 avg=800 refunds=0\n" {
		t.Errorf("p-sock: %s", s)
	}
	got = get[revenueAnswer](t, a, "/v1/revenue?granularity=hour&tz=UTC&from=2026-11-26&to=2026-11-27&currency=EUR")
	if len(got.Points) != 0 {
		t.Errorf("EUR: %+v", got.Points)
	}
}

func TestRevenueSeries_BadParametersAreNamed(t *testing.T) {
	a := newReadAPI(t, Config{})
	rd := a.Keys[ScopeRead]
	cases := []struct {
		query  string
		fields []string
	}{
		{"granularity=hour", []string{"tz"}},
		{"granularity=week&tz=Mars/Olympus&from=yesterday", []string{"granularity", "tz", "from"}},
		{"tz=UTC&granulrity=hour", []string{"granulrity"}},
		{"tz=UTC&category=hats&country=GB", []string{"country"}},
		{"tz=UTC&country=gb&currency=pounds", []string{"currency", "country"}},
		{"tz=UTC&from=2026-11-27&to=2026-11-26", []string{"to"}},
		{"tz=UTC&granularity=minute&from=2026-01-01&to=2026-11-26", []string{"from"}},
		{"tz=UTC&tz=UTC", []string{"tz"}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			wantBadParams(t, a.do(t, http.MethodGet, "/v1/revenue?"+c.query, rd, nil), c.fields...)
		})
	}
}

func TestOrders_KeysetPagesCoverEveryOrderOnce(t *testing.T) {
	a := newReadAPI(t, Config{})
	sd := newSeeder(t, a.DB)
	seedRevenue(t, sd)
	// A fifth order at the same instant as o-4: the id breaks the tie.
	sd.orders(nil, orderEvent("5", "c-3", day.Add(23*time.Hour+30*time.Minute), "DE", "web", 100,
		events.OrderLine{ProductID: "p-sock", Category: "shoes", Quantity: 1, UnitPriceMinor: 100}))
	var ids []string
	path := "/v1/orders?limit=2"
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("too many pages")
		}
		pg := get[page[Order]](t, a, path)
		for _, o := range pg.Items {
			ids = append(ids, o.OrderID)
		}
		if pg.NextCursor == nil {
			if len(pg.Items) != 1 {
				t.Errorf("last page has %d items", len(pg.Items))
			}
			break
		}
		path = "/v1/orders?limit=2&cursor=" + url.QueryEscape(*pg.NextCursor)
	}
	if got := strings.Join(ids, ","); got != "o-5,o-4,o-3,o-2,o-1" {
		t.Errorf("orders %s", got)
	}
	pg := get[page[Order]](t, a, "/v1/orders?customer_id=c-1&tz=Europe/Paris")
	if len(pg.Items) != 2 || pg.Items[0].OrderID != "o-3" || pg.Items[0].Time != "2026-11-26T11:01:10+01:00" ||
		pg.Items[0].TotalMinor != 1500 || pg.Items[0].Units != 3 || pg.Items[0].Lines != 1 || pg.Items[0].Channel != "app" || pg.NextCursor != nil {
		t.Errorf("c-1: %+v", pg)
	}
	wantBadParams(t, a.do(t, http.MethodGet, "/v1/orders?cursor=garbage&limit=0", a.Keys[ScopeRead], nil), "limit", "cursor")
}

func TestTop_ProductsAndCategoriesRanked(t *testing.T) {
	a := newReadAPI(t, Config{})
	seedRevenue(t, newSeeder(t, a.DB))
	top := get[TopList](t, a, "/v1/top/products?from=2026-11-26&to=2026-11-27")
	var got []string
	for _, it := range top.Items {
		got = append(got, fmt.Sprintf("%d %s %d/%d/%d", it.Rank, it.Value, it.Orders, it.Units, it.RevenueMinor))
	}
	if s := strings.Join(got, "; "); s != "1 p-shoe 2/3/3000; 2 p-hat 2/4/2000; 3 p-sock 2/9/900" || top.Dimension != "product" || top.By != "revenue" {
		t.Errorf("top products by revenue: %s", s)
	}
	top = get[TopList](t, a, "/v1/top/products?from=2026-11-26&to=2026-11-27&by=units&limit=1")
	if len(top.Items) != 1 || top.Items[0].Value != "p-sock" || top.Items[0].Units != 9 {
		t.Errorf("top product by units: %+v", top.Items)
	}
	top = get[TopList](t, a, "/v1/top/categories?from=2026-11-26&to=2026-11-27")
	got = nil
	for _, it := range top.Items {
		got = append(got, fmt.Sprintf("%s %d/%d/%d", it.Value, it.Orders, it.Units, it.RevenueMinor))
	}
	if s := strings.Join(got, "; "); s != "shoes 3/12/3900; hats 2/4/2000" {
		t.Errorf("top categories: %s", s)
	}
	wantBadParams(t, a.do(t, http.MethodGet, "/v1/top/planets?by=mass", a.Keys[ScopeRead], nil), "dimension", "by")
}

func click(id, typ, session, customer string, at time.Time, product string) store.ClickEvent {
	return store.ClickEvent{EventID: id, Type: typ, EventTime: at, SessionID: session, CustomerID: customer, ProductID: product, Page: "/" + typ}
}

func TestFunnelSessionsAndJourney(t *testing.T) {
	a := newReadAPI(t, Config{})
	sd := newSeeder(t, a.DB)
	t0 := day.Add(9*time.Hour + 50*time.Minute)
	sd.clicks(
		click("k1", events.TypePageView, "s-1", "c-1", t0, ""),
		click("k2", events.TypeProductView, "s-1", "c-1", t0.Add(time.Minute), "p-1"),
		click("k3", events.TypeAddToCart, "s-1", "c-1", t0.Add(2*time.Minute), "p-1"),
		click("k4", events.TypeCheckoutStarted, "s-1", "c-1", t0.Add(3*time.Minute), ""),
		click("k5", events.TypePageView, "s-2", "", t0.Add(5*time.Minute), ""),
		click("k6", events.TypeProductView, "s-3", "c-2", t0.Add(20*time.Minute), "p-2"),
	)
	o := orderEvent("1", "c-1", t0.Add(4*time.Minute), "GB", "web", 2500,
		events.OrderLine{ProductID: "p-1", Category: "toys", Quantity: 1, UnitPriceMinor: 2500})
	o.SessionID = "s-1"
	sd.orders(nil, o)

	type funnelAnswer struct {
		Granularity, TZ, From, To string
		Points                    []FunnelPoint
	}
	f := get[funnelAnswer](t, a, "/v1/funnel?granularity=hour&tz=UTC&from=2026-11-26T09:00:00Z&to=2026-11-26T11:00:00Z")
	want := []FunnelPoint{
		{Start: "2026-11-26T09:00:00Z", Sessions: 2, ProductView: 1, AddToCart: 1, Checkout: 1, Purchase: 1, Orders: 1, RevenueMinor: 2500, Conversion: 0.5},
		{Start: "2026-11-26T10:00:00Z", Sessions: 1, ProductView: 1},
	}
	if fmt.Sprint(f.Points) != fmt.Sprint(want) {
		t.Errorf("funnel\n%+v\nwant\n%+v", f.Points, want)
	}
	// In India (UTC+5:30) the hours are cut at :30: every session started
	// between 15:00 and 16:00 local time.
	f = get[funnelAnswer](t, a, "/v1/funnel?granularity=hour&tz=Asia/Kolkata&from=2026-11-26T09:00:00Z&to=2026-11-26T11:00:00Z")
	if len(f.Points) != 1 || f.Points[0].Start != "2026-11-26T15:00:00+05:30" || f.Points[0].Sessions != 3 {
		t.Errorf("Kolkata funnel %+v", f.Points)
	}

	ss := get[page[Session]](t, a, "/v1/sessions?customer_id=c-1")
	if len(ss.Items) != 1 || ss.Items[0].SessionID != "s-1" || !ss.Items[0].Purchase || ss.Items[0].Events != 4 ||
		ss.Items[0].RevenueMinor != 2500 || ss.Items[0].StartedAt != "2026-11-26T09:50:00Z" || ss.Items[0].EndedAt != "2026-11-26T09:53:00Z" {
		t.Errorf("sessions of c-1: %+v", ss.Items)
	}
	all := get[page[Session]](t, a, "/v1/sessions?limit=2")
	if len(all.Items) != 2 || all.Items[0].SessionID != "s-3" || all.Items[1].SessionID != "s-2" || all.NextCursor == nil {
		t.Fatalf("sessions page 1: %+v", all)
	}
	rest := get[page[Session]](t, a, "/v1/sessions?limit=2&cursor="+url.QueryEscape(*all.NextCursor))
	if len(rest.Items) != 1 || rest.Items[0].SessionID != "s-1" || rest.NextCursor != nil {
		t.Errorf("sessions page 2: %+v", rest)
	}

	type journeyAnswer struct {
		CustomerID string `json:"customer_id"`
		page[JourneyStep]
	}
	j := get[journeyAnswer](t, a, "/v1/customers/c-1/journey?limit=1")
	if j.CustomerID != "c-1" || len(j.Items) != 1 || j.Items[0].Kind != "session" || j.Items[0].Session.SessionID != "s-1" || j.NextCursor == nil {
		t.Fatalf("journey page 1: %s", mustJSON(j))
	}
	j = get[journeyAnswer](t, a, "/v1/customers/c-1/journey?limit=1&cursor="+url.QueryEscape(*j.NextCursor))
	if len(j.Items) != 1 || j.Items[0].Kind != "order" || *j.Items[0].Order != (JourneyOrder{OrderID: "o-1", EventID: "ev-1", SessionID: "s-1", Currency: "GBP", TotalMinor: 2500}) ||
		j.Items[0].At != "2026-11-26T09:54:00Z" || j.NextCursor != nil {
		t.Errorf("journey page 2: %s", mustJSON(j))
	}
	j = get[journeyAnswer](t, a, "/v1/customers/nobody/journey")
	if len(j.Items) != 0 || j.NextCursor != nil {
		t.Errorf("journey of nobody: %s", mustJSON(j))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestStockAndAlerts_ListAcknowledgeResolve(t *testing.T) {
	a := newReadAPI(t, Config{})
	sd := newSeeder(t, a.DB)
	at := day.Add(8 * time.Hour)
	// p-1: 20 then 5 (low, reorder point 10 by default); p-2: 50; p-3: 3
	// (low) then 0 (out).
	sd.stock(at, [3]any{"p-1", "w-1", 20}, [3]any{"p-2", "w-1", 50}, [3]any{"p-3", "w-1", 3})
	sd.stock(at.Add(time.Minute), [3]any{"p-1", "w-1", -15}, [3]any{"p-3", "w-1", -3})
	if err := a.DB.SetReorderPoint(testenv.Context(t, time.Minute), store.StockKey{ProductID: "p-2", WarehouseID: "w-1"}, 60); err != nil {
		t.Fatal(err)
	}

	stockLine := func(items []Stock) string {
		var out []string
		for _, s := range items {
			out = append(out, fmt.Sprintf("%s/%s %d rp=%d low=%v out=%v", s.ProductID, s.WarehouseID, s.OnHand, s.ReorderPoint, s.Low, s.Out))
		}
		return strings.Join(out, "; ")
	}
	st := get[page[Stock]](t, a, "/v1/stock")
	if s := stockLine(st.Items); s != "p-1/w-1 5 rp=10 low=true out=false; p-2/w-1 50 rp=60 low=true out=false; p-3/w-1 0 rp=10 low=true out=true" {
		t.Errorf("stock: %s", s)
	}
	low := get[page[Stock]](t, a, "/v1/stock/low?limit=2")
	if s := stockLine(low.Items); s != "p-1/w-1 5 rp=10 low=true out=false; p-2/w-1 50 rp=60 low=true out=false" || low.NextCursor == nil {
		t.Errorf("low stock page 1: %s", s)
	}
	low = get[page[Stock]](t, a, "/v1/stock/low?limit=2&cursor="+url.QueryEscape(*low.NextCursor))
	if s := stockLine(low.Items); s != "p-3/w-1 0 rp=10 low=true out=true" || low.NextCursor != nil {
		t.Errorf("low stock page 2: %s", s)
	}

	alertLine := func(items []Alert) string {
		var out []string
		for _, x := range items {
			out = append(out, fmt.Sprintf("%s %s %s", x.Type, x.Entity, x.Status))
		}
		return strings.Join(out, "; ")
	}
	open := get[page[Alert]](t, a, "/v1/alerts")
	// Newest first: p-3's low stock came with the first batch.
	if s := alertLine(open.Items); s != "stockout p-3/w-1 unacknowledged; low_stock p-1/w-1 unacknowledged; low_stock p-3/w-1 unacknowledged" {
		t.Fatalf("open alerts: %s", s)
	}
	outP3, lowP1 := open.Items[0], open.Items[1]
	op := a.Keys[ScopeOperate]
	path := func(id int64, action string) string { return fmt.Sprintf("/v1/alerts/%d/%s", id, action) }

	if ans := a.do(t, http.MethodPost, path(lowP1.ID, "acknowledge"), a.Keys[ScopeRead], nil); ans.Status != http.StatusForbidden {
		t.Errorf("acknowledge with the read key: %d", ans.Status)
	}
	ans := a.do(t, http.MethodPost, path(lowP1.ID, "acknowledge"), op, nil)
	ack := decode[Alert](t, ans.Body)
	if ans.Status != 200 || ack.Status != "acknowledged" || ack.AcknowledgedBy != a.KeyIDs[ScopeOperate] || ack.AcknowledgedAt == nil || ack.ResolvedAt != nil {
		t.Fatalf("acknowledge: %d %s", ans.Status, ans.Body)
	}
	ans = a.do(t, http.MethodPost, path(outP3.ID, "resolve"), op, AlertAction{Note: "restocked by hand"})
	res := decode[Alert](t, ans.Body)
	var details struct {
		Resolution struct{ By, Note string }
	}
	_ = json.Unmarshal(res.Details, &details)
	if ans.Status != 200 || res.Status != "resolved" || res.ResolvedBy != a.KeyIDs[ScopeOperate] ||
		details.Resolution.Note != "restocked by hand" || details.Resolution.By != a.KeyIDs[ScopeOperate] {
		t.Fatalf("resolve: %d %s", ans.Status, ans.Body)
	}
	if ans := a.do(t, http.MethodPost, path(outP3.ID, "resolve"), op, nil); ans.Status != http.StatusConflict {
		t.Errorf("resolve twice: %d %s", ans.Status, ans.Body)
	}
	if ans := a.do(t, http.MethodPost, path(outP3.ID, "acknowledge"), op, nil); ans.Status != http.StatusConflict {
		t.Errorf("acknowledge a resolved alert: %d %s", ans.Status, ans.Body)
	}
	if ans := a.do(t, http.MethodPost, path(999999, "resolve"), op, nil); ans.Status != http.StatusNotFound {
		t.Errorf("resolve an unknown alert: %d %s", ans.Status, ans.Body)
	}
	wantBadParams(t, a.do(t, http.MethodPost, "/v1/alerts/x/resolve", op, nil), "id")

	for q, want := range map[string]string{
		"status=unacknowledged":                      "low_stock p-3/w-1 unacknowledged",
		"status=acknowledged":                        "low_stock p-1/w-1 acknowledged",
		"status=resolved":                            "stockout p-3/w-1 resolved",
		"status=all&type=stockout&severity=critical": "stockout p-3/w-1 resolved",
	} {
		if s := alertLine(get[page[Alert]](t, a, "/v1/alerts?"+q).Items); s != want {
			t.Errorf("%s: %s, want %s", q, s, want)
		}
	}
	one := get[Alert](t, a, fmt.Sprintf("/v1/alerts/%d", lowP1.ID))
	if one.Status != "acknowledged" || one.Severity != "warning" {
		t.Errorf("alert %d: %+v", lowP1.ID, one)
	}
	wantBadParams(t, a.do(t, http.MethodGet, "/v1/alerts?status=closed", a.Keys[ScopeRead], nil), "status")
}

func TestFraudQueue_ScoresFeaturesAndLabels(t *testing.T) {
	a := newReadAPI(t, Config{})
	sd := newSeeder(t, a.DB)
	at := day.Add(12 * time.Hour)
	// A model that scores by amount: 0.9 above 10000 minor units, else 0.1
	// plus a tenth per earlier order of the customer in the hour.
	scoring := &store.FraudScoring{Version: "test-amount-1", Score: func(f store.FraudFeatures) float64 {
		if f.AmountMinor > 10000 {
			return 0.9
		}
		return 0.1 + 0.1*float64(f.CustomerOrders1h)
	}}
	line := events.OrderLine{ProductID: "p-1", Category: "c", Quantity: 1, UnitPriceMinor: 100}
	sd.orders(scoring,
		orderEvent("big", "c-9", at, "GB", "web", 50000, line),
		orderEvent("a", "c-1", at.Add(time.Second), "GB", "web", 100, line),
		orderEvent("b", "c-1", at.Add(2*time.Second), "GB", "web", 100, line),
		orderEvent("c", "c-1", at.Add(3*time.Second), "GB", "web", 100, line),
		orderEvent("d", "c-1", at.Add(4*time.Second), "GB", "web", 100, line),
		orderEvent("e", "c-1", at.Add(5*time.Second), "GB", "web", 100, line))
	queue := func(q string) []FraudQueueItem { return get[page[FraudQueueItem]](t, a, "/v1/fraud/queue?"+q).Items }
	line2 := func(items []FraudQueueItem) string {
		var out []string
		for _, it := range items {
			l := "-"
			if it.Label != nil {
				l = it.Label.Label
			}
			out = append(out, fmt.Sprintf("%s %.1f %s", it.OrderID, it.Score, l))
		}
		return strings.Join(out, "; ")
	}
	// o-e has 4 earlier orders of c-1 in the hour: 0.5; o-d 0.4.
	if s := line2(queue("")); s != "o-big 0.9 -; o-e 0.5 -" {
		t.Fatalf("queue: %s", s)
	}
	items := queue("min_score=0.35&limit=3")
	if s := line2(items); s != "o-big 0.9 -; o-e 0.5 -; o-d 0.4 -" {
		t.Fatalf("queue from 0.35: %s", s)
	}
	big := items[0]
	if big.ModelVersion != "test-amount-1" || big.Features.AmountMinor != 50000 || big.TotalMinor != 50000 || big.Currency != "GBP" ||
		big.Country != "GB" || big.CustomerID != "c-9" || big.Time != "2026-11-26T12:00:00Z" {
		t.Errorf("o-big: %s", mustJSON(big))
	}
	if items[1].Features.CustomerOrders1h != 4 {
		t.Errorf("o-e features: %s", mustJSON(items[1].Features))
	}

	op := a.Keys[ScopeOperate]
	ans := a.do(t, http.MethodPut, "/v1/fraud/orders/o-big/label", op, LabelRequest{Label: "fraud", Note: "card reported stolen"})
	lab := decode[FraudLabel](t, ans.Body)
	if ans.Status != 200 || lab.Label != "fraud" || lab.DecidedBy != a.KeyIDs[ScopeOperate] || lab.Note != "card reported stolen" {
		t.Fatalf("label: %d %s", ans.Status, ans.Body)
	}
	// Relabelling replaces the decision.
	if ans := a.do(t, http.MethodPut, "/v1/fraud/orders/o-e/label", op, LabelRequest{Label: "fraud"}); ans.Status != 200 {
		t.Fatalf("label o-e: %d %s", ans.Status, ans.Body)
	}
	if ans := a.do(t, http.MethodPut, "/v1/fraud/orders/o-e/label", op, LabelRequest{Label: "legitimate", Note: "regular"}); ans.Status != 200 {
		t.Fatalf("relabel o-e: %d %s", ans.Status, ans.Body)
	}
	// The table the fraud model's training reads.
	rows, err := a.DB.Pool.Query(testenv.Context(t, time.Minute), `SELECT order_id, label, decided_by, note FROM fraud_labels ORDER BY order_id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var o, l, by, note string
		if err := rows.Scan(&o, &l, &by, &note); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{o, l, by, note}, "|"))
	}
	rows.Close()
	kid := a.KeyIDs[ScopeOperate]
	if s := strings.Join(got, "\n"); s != "o-big|fraud|"+kid+"|card reported stolen\no-e|legitimate|"+kid+"|regular" {
		t.Errorf("fraud_labels:\n%s", s)
	}
	if s := line2(queue("")); s != "" {
		t.Errorf("unlabelled queue after labelling: %q", s)
	}
	if s := line2(queue("status=labelled")); s != "o-big 0.9 fraud; o-e 0.5 legitimate" {
		t.Errorf("labelled queue: %s", s)
	}
	if s := line2(queue("status=all&min_score=0.25")); s != "o-big 0.9 fraud; o-e 0.5 legitimate; o-d 0.4 -; o-c 0.3 -" {
		t.Errorf("whole queue: %s", s)
	}

	bad := a.do(t, http.MethodPut, "/v1/fraud/orders/o-a/label", op, map[string]string{"label": "maybe"})
	if p := decode[Problem](t, bad.Body); bad.Status != 400 || len(p.Errors) != 1 || p.Errors[0].Path != "/label" {
		t.Errorf("bad label: %d %s", bad.Status, bad.Body)
	}
	bad = a.do(t, http.MethodPut, "/v1/fraud/orders/o-a/label", op, map[string]string{"label": "fraud", "by": "me"})
	if p := decode[Problem](t, bad.Body); bad.Status != 400 || len(p.Errors) != 1 || p.Errors[0].Path != "/by" {
		t.Errorf("unknown field: %d %s", bad.Status, bad.Body)
	}
	if ans := a.do(t, http.MethodPut, "/v1/fraud/orders/o-nope/label", op, LabelRequest{Label: "fraud"}); ans.Status != http.StatusNotFound {
		t.Errorf("unknown order: %d %s", ans.Status, ans.Body)
	}
	wantBadParams(t, a.do(t, http.MethodGet, "/v1/fraud/queue?min_score=2&status=maybe", a.Keys[ScopeRead], nil), "min_score", "status")
}

func TestPaymentsAnomaliesAndLineage(t *testing.T) {
	a := newReadAPI(t, Config{})
	sd := newSeeder(t, a.DB)
	at := day.Add(14*time.Hour + 5*time.Minute)
	pay := func(id, typ string, amount int64, sec int) events.Payment {
		p := events.Payment{Header: events.Header{EventID: "pay-" + id, Type: typ, SchemaVersion: 1, EventTime: at.Add(time.Duration(sec) * time.Second)},
			PaymentID: "p-" + id, OrderID: "o-" + id, CustomerID: "c-1", AmountMinor: amount, Currency: "GBP", Method: "card"}
		if typ == events.TypePaymentFailed {
			p.FailureCode = "insufficient_funds"
		}
		return p
	}
	sd.payments(pay("1", events.TypePaymentAuthorized, 1000, 0), pay("2", events.TypePaymentAuthorized, 500, 1),
		pay("3", events.TypePaymentFailed, 700, 2), pay("4", events.TypePaymentAuthorized, 300, 61))
	type payAnswer struct {
		Granularity, TZ, From, To string
		Points                    []PaymentPoint
	}
	p := get[payAnswer](t, a, "/v1/payments?granularity=hour&tz=UTC&from=2026-11-26T14:00:00Z&to=2026-11-26T15:00:00Z")
	if len(p.Points) != 1 || p.Points[0].Authorized != 3 || p.Points[0].Failed != 1 || p.Points[0].AuthorizedMinor != 1800 ||
		p.Points[0].FailureRate != 0.25 || p.Points[0].Start != "2026-11-26T14:00:00Z" {
		t.Errorf("payments: %+v", p.Points)
	}
	p = get[payAnswer](t, a, "/v1/payments?granularity=minute&tz=UTC&from=2026-11-26T14:00:00Z&to=2026-11-26T15:00:00Z")
	if len(p.Points) != 2 || p.Points[0].Authorized != 2 || p.Points[1].Authorized != 1 || p.Points[1].Start != "2026-11-26T14:06:00Z" {
		t.Errorf("payments per minute: %+v", p.Points)
	}

	// Anomaly scores and lineage as the anomaly workflow's activity writes
	// them, with a scorer that flags the minute of 3 orders.
	seedRevenue(t, sd)
	if err := a.DB.MarkCaughtUp(testenv.Context(t, time.Minute), events.TopicOrders, 0, sd.next[events.TopicOrders], "test"); err != nil {
		t.Fatal(err)
	}
	res, err := a.DB.ScoreAnomalies(testenv.Context(t, time.Minute), store.AnomalyRun{
		Series: store.SeriesOrders, Topic: events.TopicOrders, RunID: "run-anom-1", Workflow: "AnomalyDetection",
		Bootstrap: 10 * 365 * 24 * time.Hour, MaxMinutes: 3,
	}, func(state json.RawMessage, pts []store.AnomalyPoint) (store.AnomalyOutcome, error) {
		var out store.AnomalyOutcome
		for _, pt := range pts {
			out.Scores = append(out.Scores, store.AnomalyScore{Minute: pt.Minute, Actual: pt.Value, Scored: true, Expected: 1,
				Deviation: pt.Value - 1, Z: (pt.Value - 1) * 2, Anomalous: pt.Value >= 2})
		}
		return out, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows == 0 {
		t.Fatalf("no anomaly rows: %+v", res)
	}
	an := get[page[Anomaly]](t, a, "/v1/anomalies")
	if len(an.Items) != 1 || an.Items[0].Series != "orders" || an.Items[0].Minute != "2026-11-26T10:00:00Z" || an.Items[0].Actual != 2 ||
		*an.Items[0].Z != 2 || an.Items[0].RunID != "run-anom-1" {
		t.Errorf("anomalies: %s", mustJSON(an))
	}
	all := get[page[Anomaly]](t, a, "/v1/anomalies?anomalous=false&series=orders")
	if len(all.Items) != 3 || all.Items[0].Minute != "2026-11-26T10:02:00Z" || all.Items[0].Actual != 0 {
		t.Errorf("every scored minute: %s", mustJSON(all))
	}

	if _, err := a.DB.RollupRevenueHour(testenv.Context(t, time.Minute), store.RollupRequest{
		Hour: day.Add(10 * time.Hour), Topic: events.TopicOrders, RunID: "run-rollup-1", Workflow: "RevenueRollupHourly", Complete: true,
	}); err != nil {
		t.Fatal(err)
	}
	lin := get[page[LineageStep]](t, a, "/v1/lineage?table=revenue_hourly")
	if len(lin.Items) != 1 || lin.Items[0].RunID != "run-rollup-1" || lin.Items[0].Step != "rollup-revenue-hour" {
		t.Fatalf("lineage of revenue_hourly: %s", mustJSON(lin))
	}
	var out struct {
		Orders       int64 `json:"orders"`
		RevenueMinor int64 `json:"revenue_minor"`
	}
	if err := json.Unmarshal(lin.Items[0].Outputs, &out); err != nil || out.Orders != 3 || out.RevenueMinor != 5200 {
		t.Errorf("rollup outputs %s", lin.Items[0].Outputs)
	}
	lin = get[page[LineageStep]](t, a, "/v1/lineage?table=revenue_minute")
	if len(lin.Items) != 2 {
		t.Errorf("lineage of revenue_minute (read by the rollup and the anomaly run): %s", mustJSON(lin))
	}
	lin = get[page[LineageStep]](t, a, "/v1/lineage?run_id=run-anom-1")
	if len(lin.Items) != 1 || lin.Items[0].Workflow != "AnomalyDetection" {
		t.Errorf("lineage of run-anom-1: %s", mustJSON(lin))
	}
	wantBadParams(t, a.do(t, http.MethodGet, "/v1/lineage", a.Keys[ScopeRead], nil), "run_id")
	wantBadParams(t, a.do(t, http.MethodGet, "/v1/lineage?table="+url.QueryEscape("Robert'); DROP TABLE"), a.Keys[ScopeRead], nil), "table")
}

func TestModelRegistry(t *testing.T) {
	a := newReadAPI(t, Config{})
	ctx := testenv.Context(t, time.Minute)
	for _, v := range []string{"fraud-1", "fraud-2"} {
		if err := a.DB.RegisterModel(ctx, store.ModelVersion{Model: "fraud", Version: v, Algorithm: "logistic",
			TrainFrom: day, TrainTo: day.Add(24 * time.Hour), Params: json.RawMessage(`{"w":[1,2]}`), Metrics: json.RawMessage(`{"auc":0.91}`), TrainedBy: "run-1"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.DB.PromoteModel(ctx, "fraud", "fraud-2", "run-2"); err != nil {
		t.Fatal(err)
	}
	ms := get[struct {
		Items []ModelVersion `json:"items"`
	}](t, a, "/v1/models?model=fraud&status=active")
	if len(ms.Items) != 1 || ms.Items[0].Version != "fraud-2" || ms.Items[0].PromotedBy != "run-2" || ms.Items[0].PromotedAt == nil ||
		*ms.Items[0].TrainFrom != "2026-11-26T00:00:00Z" || mustJSON(ms.Items[0].Metrics) != `{"auc":0.91}` {
		t.Errorf("active fraud model: %s", mustJSON(ms))
	}
	all := get[struct {
		Items []ModelVersion `json:"items"`
	}](t, a, "/v1/models")
	if len(all.Items) != 2 {
		t.Errorf("all models: %s", mustJSON(all))
	}
	wantBadParams(t, a.do(t, http.MethodGet, "/v1/models?status=best", a.Keys[ScopeRead], nil), "status")
}
