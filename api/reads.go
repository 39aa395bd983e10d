package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/store"
)

// readRoutes are the read API: what the hot path and the batch side have
// computed, all under the read scope.
func (s *Server) readRoutes() []route {
	get := func(path string, h http.HandlerFunc) route {
		return route{method: http.MethodGet, path: path, scope: ScopeRead, h: h}
	}
	return []route{
		get("/v1/revenue", s.handleRevenue),
		get("/v1/orders", s.handleOrders),
		get("/v1/funnel", s.handleFunnel),
		get("/v1/top/{dimension}", s.handleTop),
		get("/v1/sessions", s.handleSessions),
		get("/v1/customers/{customer_id}/journey", s.handleJourney),
		get("/v1/stock", s.handleStock),
		get("/v1/stock/low", s.handleLowStock),
		get("/v1/alerts", s.handleAlerts),
		get("/v1/alerts/{id}", s.handleAlert),
		get("/v1/fraud/queue", s.handleFraudQueue),
		get("/v1/anomalies", s.handleAnomalies),
		get("/v1/payments", s.handlePayments),
		get("/v1/lineage", s.handleLineage),
		get("/v1/models", s.handleModels),
	}
}

// maxBuckets bounds a series' length: a week of minutes.
const maxBuckets = 7 * 24 * 60

// bucketWidth is the nominal width of a bucket, for the range checks.
var bucketWidth = map[string]time.Duration{
	store.GranularityMinute: time.Minute,
	store.GranularityHour:   time.Hour,
	store.GranularityDay:    24 * time.Hour,
}

// defaultSpan is a series' range when from is not given.
var defaultSpan = map[string]time.Duration{
	store.GranularityMinute: time.Hour,
	store.GranularityHour:   24 * time.Hour,
	store.GranularityDay:    30 * 24 * time.Hour,
}

// endOfMinute is the default end of a range: the end of the current minute,
// so that repeated requests within a minute share a cache entry.
func (s *Server) endOfMinute() time.Time { return s.now().UTC().Truncate(time.Minute).Add(time.Minute) }

// seriesParams reads granularity, tz, from and to.
func (s *Server) seriesParams(p *params, granularities ...string) store.SeriesRange {
	g := p.enum("granularity", granularities[0], granularities...)
	loc := p.zone(true)
	from, to := p.timeRange(s.endOfMinute(), defaultSpan[g], maxBuckets*bucketWidth[g], loc)
	return store.SeriesRange{From: from, To: to, Granularity: g, Zone: loc.String()}
}

// Series is the envelope of every time series: the range and bucketing
// asked for, and the points (buckets without data are absent). Bucket
// starts are in the requested zone's offset.
type Series[T any] struct {
	Granularity string `json:"granularity"`
	TZ          string `json:"tz"`
	From        string `json:"from"`
	To          string `json:"to"`
	Points      []T    `json:"points"`
}

func newSeries[T any](r store.SeriesRange, points []T) Series[T] {
	loc, _ := time.LoadLocation(r.Zone)
	return Series[T]{Granularity: r.Granularity, TZ: r.Zone, From: inZone(r.From, loc), To: inZone(r.To, loc), Points: points}
}

func inZone(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(time.RFC3339)
}

// RevenuePoint is one bucket of one currency.
type RevenuePoint struct {
	Start          string   `json:"start"`
	Currency       string   `json:"currency"`
	Orders         int64    `json:"orders"`
	Units          int64    `json:"units"`
	RevenueMinor   int64    `json:"revenue_minor"`
	AvgOrderMinor  *float64 `json:"avg_order_minor"`
	Cancellations  *int64   `json:"cancellations,omitempty"`
	CancelledMinor *int64   `json:"cancelled_minor,omitempty"`
	Refunds        *int64   `json:"refunds,omitempty"`
	RefundedMinor  *int64   `json:"refunded_minor,omitempty"`
}

func (s *Server) handleRevenue(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.RevenueQuery{SeriesRange: s.seriesParams(p, store.GranularityMinute, store.GranularityHour, store.GranularityDay)}
	q.Currency = p.match("currency", currencyRE, "a currency code (ISO 4217, upper case)")
	filters := []struct{ name, dim, value string }{
		{"category", store.DimCategory, p.str("category", 200)},
		{"product", store.DimProduct, p.str("product", 200)},
		{"country", store.DimCountry, p.match("country", countryRE, "a country code (ISO 3166-1 alpha-2, upper case)")},
		{"channel", store.DimChannel, p.str("channel", 100)},
	}
	for _, f := range filters {
		if f.value == "" {
			continue
		}
		if q.Dimension != "" {
			p.fail(f.name, "only one of category, product, country and channel at a time (%s is given too)", q.Dimension)
			continue
		}
		q.Dimension, q.Value = f.dim, f.value
	}
	if !p.ok(w) {
		return
	}
	s.cached(w, r, "revenue", q, []string{events.TopicOrders, events.TopicPayments}, func() (any, error) {
		pts, err := s.db.RevenueSeries(r.Context(), q)
		if err != nil {
			return nil, err
		}
		loc, _ := time.LoadLocation(q.Zone)
		out := make([]RevenuePoint, len(pts))
		for i, pt := range pts {
			out[i] = RevenuePoint{Start: inZone(pt.Bucket, loc), Currency: pt.Currency, Orders: pt.Orders, Units: pt.Units,
				RevenueMinor: pt.RevenueMinor, Cancellations: pt.Cancellations, CancelledMinor: pt.CancelledMinor,
				Refunds: pt.Refunds, RefundedMinor: pt.RefundedMinor}
			if pt.Orders > 0 {
				avg := float64(pt.RevenueMinor) / float64(pt.Orders)
				out[i].AvgOrderMinor = &avg
			}
		}
		type revenueSeries struct {
			Series[RevenuePoint]
			Filter *RevenueFilter `json:"filter"`
		}
		res := revenueSeries{Series: newSeries(q.SeriesRange, out)}
		if q.Dimension != "" {
			res.Filter = &RevenueFilter{Dimension: q.Dimension, Value: q.Value}
		}
		return res, nil
	})
}

// RevenueFilter is the one dimension a revenue series is restricted to.
type RevenueFilter struct {
	Dimension string `json:"dimension"`
	Value     string `json:"value"`
}

// Order is one order in GET /v1/orders.
type Order struct {
	OrderID    string `json:"order_id"`
	EventID    string `json:"event_id"`
	CustomerID string `json:"customer_id"`
	Time       string `json:"time"`
	Country    string `json:"country"`
	Currency   string `json:"currency"`
	Channel    string `json:"channel"`
	TotalMinor int64  `json:"total_minor"`
	Units      int64  `json:"units"`
	Lines      int    `json:"lines"`
	Cancelled  bool   `json:"cancelled"`
}

// timeKey is the cursor of lists ordered by a time and an id.
type timeKey struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

func (s *Server) handleOrders(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	loc := p.zone(false)
	q := store.OrderQuery{
		From:       p.instant("from", time.Time{}, loc),
		To:         p.instant("to", time.Time{}, loc),
		CustomerID: p.str("customer_id", 200),
		Country:    p.match("country", countryRE, "a country code (ISO 3166-1 alpha-2, upper case)"),
		Channel:    p.str("channel", 100),
		Limit:      p.limit(),
	}
	q.After = p.timeCursor()
	p.ordered(q.From, q.To)
	servePage(s, w, r, p, s.db.Orders, &q, &q.Limit, func(o store.OrderRow) Order {
		return Order{OrderID: o.OrderID, EventID: o.EventID, CustomerID: o.CustomerID, Time: inZone(o.EventTime, loc),
			Country: o.Country, Currency: o.Currency, Channel: o.Channel, TotalMinor: o.TotalMinor, Units: o.Units,
			Lines: o.Lines, Cancelled: o.Cancelled}
	}, func(o store.OrderRow) any { return timeKey{At: o.EventTime, ID: o.EventID} })
}

// FunnelPoint is the funnel of the sessions started in one bucket.
type FunnelPoint struct {
	Start        string  `json:"start"`
	Sessions     int64   `json:"sessions"`
	ProductView  int64   `json:"product_view"`
	AddToCart    int64   `json:"add_to_cart"`
	Checkout     int64   `json:"checkout"`
	Purchase     int64   `json:"purchase"`
	Orders       int64   `json:"orders"`
	RevenueMinor int64   `json:"revenue_minor"`
	Conversion   float64 `json:"conversion"`
}

func (s *Server) handleFunnel(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	rg := s.seriesParams(p, store.GranularityHour, store.GranularityMinute, store.GranularityDay)
	if !p.ok(w) {
		return
	}
	s.cached(w, r, "funnel", rg, []string{events.TopicClickstream, events.TopicOrders}, func() (any, error) {
		pts, err := s.db.FunnelSeries(r.Context(), rg)
		if err != nil {
			return nil, err
		}
		loc, _ := time.LoadLocation(rg.Zone)
		out := make([]FunnelPoint, len(pts))
		for i, pt := range pts {
			out[i] = FunnelPoint{Start: inZone(pt.Bucket, loc), Sessions: pt.Sessions, ProductView: pt.ProductView,
				AddToCart: pt.AddToCart, Checkout: pt.Checkout, Purchase: pt.Purchase, Orders: pt.Orders, RevenueMinor: pt.RevenueMinor}
			if pt.Sessions > 0 {
				out[i].Conversion = float64(pt.Purchase) / float64(pt.Sessions)
			}
		}
		return newSeries(rg, out), nil
	})
}

// TopItem is one ranked product, category, country or channel in one
// currency.
type TopItem struct {
	Rank          int    `json:"rank"`
	Value         string `json:"value"`
	Currency      string `json:"currency"`
	Orders        int64  `json:"orders"`
	Units         int64  `json:"units"`
	RevenueMinor  int64  `json:"revenue_minor"`
	Refunds       int64  `json:"refunds"`
	RefundedMinor int64  `json:"refunded_minor"`
}

// TopList is the answer of GET /v1/top/{dimension}.
type TopList struct {
	Dimension string    `json:"dimension"`
	By        string    `json:"by"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Items     []TopItem `json:"items"`
}

var topDimensions = map[string]string{
	"products": store.DimProduct, "categories": store.DimCategory,
	"countries": store.DimCountry, "channels": store.DimChannel,
}

func (s *Server) handleTop(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	dim, ok := topDimensions[r.PathValue("dimension")]
	if !ok {
		p.fail("dimension", "%q is not one of products, categories, countries, channels", r.PathValue("dimension"))
	}
	loc := p.zone(false)
	from, to := p.timeRange(s.endOfMinute(), 24*time.Hour, 400*24*time.Hour, loc)
	q := store.TopQuery{Dimension: dim, From: from, To: to,
		Currency: p.match("currency", currencyRE, "a currency code (ISO 4217, upper case)"),
		By:       p.enum("by", "revenue", "revenue", "units", "orders"),
		Limit:    p.intIn("limit", 10, 1, 100)}
	if !p.ok(w) {
		return
	}
	s.cached(w, r, "top", q, []string{events.TopicOrders, events.TopicPayments}, func() (any, error) {
		rows, err := s.db.Top(r.Context(), q)
		if err != nil {
			return nil, err
		}
		out := TopList{Dimension: dim, By: q.By, From: inZone(from, loc), To: inZone(to, loc), Items: make([]TopItem, len(rows))}
		for i, t := range rows {
			out.Items[i] = TopItem{Rank: i + 1, Value: t.Value, Currency: t.Currency, Orders: t.Orders, Units: t.Units,
				RevenueMinor: t.RevenueMinor, Refunds: t.Refunds, RefundedMinor: t.RefundedMinor}
		}
		return out, nil
	})
}

// Session is one visit.
type Session struct {
	SessionKey     string `json:"session_key"`
	SessionID      string `json:"session_id"`
	CustomerID     string `json:"customer_id"`
	StartedAt      string `json:"started_at"`
	EndedAt        string `json:"ended_at"`
	Events         int64  `json:"events"`
	Pages          int64  `json:"pages"`
	PageViews      int64  `json:"page_views"`
	ProductViews   int64  `json:"product_views"`
	ProductsViewed int64  `json:"products_viewed"`
	Searches       int64  `json:"searches"`
	CartAdds       int64  `json:"cart_adds"`
	CartRemoves    int64  `json:"cart_removes"`
	Checkout       bool   `json:"checkout"`
	Purchase       bool   `json:"purchase"`
	Orders         int64  `json:"orders"`
	RevenueMinor   int64  `json:"revenue_minor"`
	Currency       string `json:"currency"`
	Device         string `json:"device"`
	EntryPage      string `json:"entry_page"`
	Referrer       string `json:"referrer"`
}

func sessionOf(x store.Session, loc *time.Location) Session {
	return Session{SessionKey: x.SessionKey, SessionID: x.SessionID, CustomerID: x.CustomerID,
		StartedAt: inZone(x.StartedAt, loc), EndedAt: inZone(x.EndedAt, loc), Events: x.Events, Pages: x.Pages,
		PageViews: x.PageViews, ProductViews: x.ProductViews, ProductsViewed: x.ProductsViewed, Searches: x.Searches,
		CartAdds: x.CartAdds, CartRemoves: x.CartRemoves, Checkout: x.Checkout, Purchase: x.Purchase, Orders: x.Orders,
		RevenueMinor: x.RevenueMinor, Currency: x.Currency, Device: x.Device, EntryPage: x.EntryPage, Referrer: x.Referrer}
}

func (s *Server) handleSessions(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	loc := p.zone(false)
	q := store.SessionQuery{
		From:       p.instant("from", time.Time{}, loc),
		To:         p.instant("to", time.Time{}, loc),
		CustomerID: p.str("customer_id", 200),
		Limit:      p.limit(),
	}
	q.After = p.timeCursor()
	p.ordered(q.From, q.To)
	servePage(s, w, r, p, s.db.SessionPage, &q, &q.Limit, func(x store.Session) Session { return sessionOf(x, loc) },
		func(x store.Session) any { return timeKey{At: x.StartedAt, ID: x.SessionKey} })
}

// JourneyStep is one session or order of a customer's journey.
type JourneyStep struct {
	At      string        `json:"at"`
	Kind    string        `json:"kind"`
	Session *Session      `json:"session,omitempty"`
	Order   *JourneyOrder `json:"order,omitempty"`
}

// JourneyOrder is an order in a journey, with the session it was placed in
// (empty when the order named none).
type JourneyOrder struct {
	OrderID    string `json:"order_id"`
	EventID    string `json:"event_id"`
	SessionID  string `json:"session_id"`
	Currency   string `json:"currency"`
	TotalMinor int64  `json:"total_minor"`
}

type journeyKey struct {
	At   time.Time `json:"t"`
	Kind string    `json:"k"`
	ID   string    `json:"i"`
}

func (s *Server) handleJourney(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	customer := p.path("customer_id", 200)
	loc := p.zone(false)
	limit := p.limit()
	var k journeyKey
	var after *store.JourneyKey
	if p.cursor(&k) {
		after = &store.JourneyKey{At: k.At, Kind: k.Kind, ID: k.ID}
	}
	if !p.ok(w) {
		return
	}
	steps, err := s.db.JourneyPage(r.Context(), customer, after, limit+1)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	type journey struct {
		CustomerID string `json:"customer_id"`
		page[JourneyStep]
	}
	writeJSON(w, http.StatusOK, journey{CustomerID: customer, page: pageOf(steps, limit, func(st store.JourneyStep) JourneyStep {
		out := JourneyStep{At: inZone(st.At, loc), Kind: st.Kind}
		if st.Session != nil {
			ss := sessionOf(*st.Session, loc)
			out.Session = &ss
		} else {
			out.Order = &JourneyOrder{OrderID: st.OrderID, EventID: st.EventID, SessionID: st.SessionID, Currency: st.Currency, TotalMinor: st.TotalMinor}
		}
		return out
	}, func(st store.JourneyStep) any {
		k := store.JourneyStepKey(st)
		return journeyKey{At: k.At, Kind: k.Kind, ID: k.ID}
	})})
}

// Stock is the stock of a product in a warehouse.
type Stock struct {
	ProductID    string `json:"product_id"`
	WarehouseID  string `json:"warehouse_id"`
	OnHand       int64  `json:"on_hand"`
	ReorderPoint int64  `json:"reorder_point"`
	Low          bool   `json:"low"`
	Out          bool   `json:"out"`
	UpdatedAt    string `json:"updated_at"`
}

type stockKey struct {
	P string `json:"p"`
	W string `json:"w"`
}

func (s *Server) handleStock(w http.ResponseWriter, r *http.Request)    { s.stock(w, r, false) }
func (s *Server) handleLowStock(w http.ResponseWriter, r *http.Request) { s.stock(w, r, true) }

func (s *Server) stock(w http.ResponseWriter, r *http.Request, lowOnly bool) {
	p := newParams(r)
	q := store.StockQuery{ProductID: p.str("product_id", 200), WarehouseID: p.str("warehouse_id", 200),
		LowOnly: lowOnly, DefaultReorderPoint: s.cfg.DefaultReorderPoint, Limit: p.limit()}
	var k stockKey
	if p.cursor(&k) {
		q.After = &store.StockKey{ProductID: k.P, WarehouseID: k.W}
	}
	servePage(s, w, r, p, s.db.StockPage, &q, &q.Limit, func(x store.StockRow) Stock {
		return Stock{ProductID: x.ProductID, WarehouseID: x.WarehouseID, OnHand: x.OnHand, ReorderPoint: x.ReorderPoint,
			Low: x.Low, Out: x.Out, UpdatedAt: x.UpdatedAt.Format(time.RFC3339Nano)}
	}, func(x store.StockRow) any { return stockKey{P: x.ProductID, W: x.WarehouseID} })
}

// Alert is one alert with its state.
type Alert struct {
	ID             int64           `json:"id"`
	Type           string          `json:"type"`
	Entity         string          `json:"entity"`
	Severity       string          `json:"severity"`
	Status         string          `json:"status"`
	OpenedAt       string          `json:"opened_at"`
	AcknowledgedAt *string         `json:"acknowledged_at"`
	AcknowledgedBy string          `json:"acknowledged_by,omitempty"`
	ResolvedAt     *string         `json:"resolved_at"`
	ResolvedBy     string          `json:"resolved_by,omitempty"`
	DeliveredAt    *string         `json:"delivered_at"`
	Details        json.RawMessage `json:"details"`
}

func optTime(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	v := t.UTC().Format(time.RFC3339Nano)
	return &v
}

func alertOf(a store.AlertRow) Alert {
	status := store.AlertStatusUnacknowledged
	switch {
	case !a.ResolvedAt.IsZero():
		status = store.AlertStatusResolved
	case !a.AcknowledgedAt.IsZero():
		status = store.AlertStatusAcknowledged
	}
	return Alert{ID: a.ID, Type: a.Type, Entity: a.Entity, Severity: a.Severity, Status: status,
		OpenedAt: a.OpenedAt.Format(time.RFC3339Nano), AcknowledgedAt: optTime(a.AcknowledgedAt), AcknowledgedBy: a.AcknowledgedBy,
		ResolvedAt: optTime(a.ResolvedAt), ResolvedBy: a.ResolvedBy, DeliveredAt: optTime(a.DeliveredAt), Details: a.Details}
}

type idKey struct {
	ID int64 `json:"id"`
}

func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.AlertQuery{
		Status: p.enum("status", store.AlertStatusOpen, store.AlertStatusOpen, store.AlertStatusUnacknowledged,
			store.AlertStatusAcknowledged, store.AlertStatusResolved, store.AlertStatusAll),
		Type:     p.str("type", 100),
		Severity: p.enum("severity", "", store.SeverityWarning, store.SeverityCritical),
		Limit:    p.limit(),
	}
	var k idKey
	if p.cursor(&k) {
		q.AfterID = k.ID
	}
	servePage(s, w, r, p, s.db.AlertPage, &q, &q.Limit, alertOf, func(a store.AlertRow) any { return idKey{ID: a.ID} })
}

// alertID reads the {id} path parameter.
func alertID(p *params) int64 {
	v := p.r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		p.fail("id", "%q is not an alert id (a positive integer)", v)
	}
	return id
}

func (s *Server) handleAlert(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	id := alertID(p)
	if !p.ok(w) {
		return
	}
	a, err := s.db.AlertRowByID(r.Context(), id)
	if s.storeError(w, r, err) {
		return
	}
	writeJSON(w, http.StatusOK, alertOf(a))
}

// FraudQueueItem is a scored order.
type FraudQueueItem struct {
	OrderID      string              `json:"order_id"`
	EventID      string              `json:"event_id"`
	CustomerID   string              `json:"customer_id"`
	Time         string              `json:"time"`
	Score        float64             `json:"score"`
	ModelVersion string              `json:"model_version"`
	Features     store.FraudFeatures `json:"features"`
	TotalMinor   int64               `json:"total_minor"`
	Currency     string              `json:"currency"`
	Country      string              `json:"country"`
	Label        *FraudLabel         `json:"label"`
}

// FraudLabel is the decision on an order.
type FraudLabel struct {
	OrderID   string `json:"order_id"`
	Label     string `json:"label"`
	DecidedBy string `json:"decided_by"`
	DecidedAt string `json:"decided_at"`
	Note      string `json:"note"`
}

func labelOf(l store.FraudLabel) FraudLabel {
	return FraudLabel{OrderID: l.OrderID, Label: l.Label, DecidedBy: l.DecidedBy, DecidedAt: l.DecidedAt.Format(time.RFC3339Nano), Note: l.Note}
}

type fraudKey struct {
	S float64   `json:"s"`
	T time.Time `json:"t"`
	I string    `json:"i"`
}

func (s *Server) handleFraudQueue(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	loc := p.zone(false)
	q := store.FraudQueueQuery{
		From:     p.instant("from", time.Time{}, loc),
		To:       p.instant("to", time.Time{}, loc),
		MinScore: p.floatIn("min_score", 0.5, 0, 1),
		Status:   p.enum("status", "unlabelled", "unlabelled", "labelled", "all"),
		Limit:    p.limit(),
	}
	var k fraudKey
	if p.cursor(&k) {
		q.After = &store.FraudQueueKey{Score: k.S, At: k.T, EventID: k.I}
	}
	p.ordered(q.From, q.To)
	servePage(s, w, r, p, s.db.FraudQueue, &q, &q.Limit, func(it store.FraudQueueItem) FraudQueueItem {
		out := FraudQueueItem{OrderID: it.OrderID, EventID: it.EventID, CustomerID: it.CustomerID, Time: inZone(it.EventTime, loc),
			Score: it.Score, ModelVersion: it.ModelVersion, Features: it.Features, TotalMinor: it.TotalMinor,
			Currency: it.Currency, Country: it.Country}
		if it.Label != nil {
			l := labelOf(*it.Label)
			out.Label = &l
		}
		return out
	}, func(it store.FraudQueueItem) any { return fraudKey{S: it.Score, T: it.EventTime, I: it.EventID} })
}

// Anomaly is one scored minute of one series.
type Anomaly struct {
	Series    string   `json:"series"`
	Minute    string   `json:"minute"`
	Actual    float64  `json:"actual"`
	Expected  *float64 `json:"expected"`
	Deviation *float64 `json:"deviation"`
	Z         *float64 `json:"z"`
	Anomalous bool     `json:"anomalous"`
	Sustained bool     `json:"sustained"`
	RunID     string   `json:"run_id"`
}

var seriesRE = regexp.MustCompile(`^[a-z0-9_:.\-]{1,100}$`)

func (s *Server) handleAnomalies(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	loc := p.zone(false)
	q := store.AnomalyQuery{
		Series:        p.match("series", seriesRE, "a series name"),
		From:          p.instant("from", time.Time{}, loc),
		To:            p.instant("to", time.Time{}, loc),
		AnomalousOnly: p.boolean("anomalous", true),
		Limit:         p.limit(),
	}
	q.After = p.timeCursor()
	p.ordered(q.From, q.To)
	servePage(s, w, r, p, s.db.AnomalyPage, &q, &q.Limit, func(a store.AnomalyRow) Anomaly {
		out := Anomaly{Series: a.Series, Minute: inZone(a.Minute, loc), Actual: a.Actual, Anomalous: a.Anomalous,
			Sustained: a.Sustained, RunID: a.RunID}
		if a.Scored {
			e, d, z := a.Expected, a.Deviation, a.Z
			out.Expected, out.Deviation, out.Z = &e, &d, &z
		}
		return out
	}, func(a store.AnomalyRow) any { return timeKey{At: a.Minute, ID: a.Series} })
}

// PaymentPoint is one bucket of one currency of payment figures.
type PaymentPoint struct {
	Start           string  `json:"start"`
	Currency        string  `json:"currency"`
	Authorized      int64   `json:"authorized"`
	Failed          int64   `json:"failed"`
	FailureRate     float64 `json:"failure_rate"`
	AuthorizedMinor int64   `json:"authorized_minor"`
	Refunds         int64   `json:"refunds"`
	RefundedMinor   int64   `json:"refunded_minor"`
	Chargebacks     int64   `json:"chargebacks"`
	ChargebackMinor int64   `json:"chargeback_minor"`
	LateEvents      int64   `json:"late_events"`
}

func (s *Server) handlePayments(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	rg := s.seriesParams(p, store.GranularityHour, store.GranularityMinute, store.GranularityDay)
	currency := p.match("currency", currencyRE, "a currency code (ISO 4217, upper case)")
	if !p.ok(w) {
		return
	}
	s.cached(w, r, "payments", struct {
		store.SeriesRange
		Currency string
	}{rg, currency}, []string{events.TopicPayments}, func() (any, error) {
		pts, err := s.db.PaymentSeries(r.Context(), rg, currency)
		if err != nil {
			return nil, err
		}
		loc, _ := time.LoadLocation(rg.Zone)
		out := make([]PaymentPoint, len(pts))
		for i, pt := range pts {
			out[i] = PaymentPoint{Start: inZone(pt.Bucket, loc), Currency: pt.Currency, Authorized: pt.Authorized, Failed: pt.Failed,
				AuthorizedMinor: pt.AuthorizedMinor, Refunds: pt.Refunds, RefundedMinor: pt.RefundedMinor,
				Chargebacks: pt.Chargebacks, ChargebackMinor: pt.ChargebackMinor, LateEvents: pt.Late}
			if n := pt.Authorized + pt.Failed; n > 0 {
				out[i].FailureRate = float64(pt.Failed) / float64(n)
			}
		}
		return newSeries(rg, out), nil
	})
}

// LineageStep is what one step of a batch run read and wrote.
type LineageStep struct {
	RunID      string          `json:"run_id"`
	Workflow   string          `json:"workflow"`
	Step       string          `json:"step"`
	Inputs     json.RawMessage `json:"inputs"`
	Outputs    json.RawMessage `json:"outputs"`
	StartedAt  string          `json:"started_at"`
	FinishedAt string          `json:"finished_at"`
}

type lineageKey struct {
	F time.Time `json:"f"`
	R string    `json:"r"`
	S string    `json:"s"`
}

var tableRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (s *Server) handleLineage(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.LineageQuery{RunID: p.str("run_id", 300), Table: p.match("table", tableRE, "a table name"), Limit: p.limit()}
	if q.RunID == "" && q.Table == "" && len(p.errs) == 0 {
		p.fail("run_id", "give run_id or table")
	}
	var k lineageKey
	if p.cursor(&k) {
		q.After = &store.LineageKey{FinishedAt: k.F, RunID: k.R, Step: k.S}
	}
	servePage(s, w, r, p, s.db.LineagePage, &q, &q.Limit, func(l store.LineageRow) LineageStep {
		return LineageStep{RunID: l.RunID, Workflow: l.Workflow, Step: l.Step, Inputs: l.Inputs, Outputs: l.Outputs,
			StartedAt: l.StartedAt.Format(time.RFC3339Nano), FinishedAt: l.FinishedAt.Format(time.RFC3339Nano)}
	}, func(l store.LineageRow) any { return lineageKey{F: l.FinishedAt, R: l.RunID, S: l.Step} })
}

// internal logs err and answers a 500 problem that does not leak it.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil {
		return // the client went away
	}
	s.log.ErrorContext(r.Context(), "api query failed", "path", r.URL.Path, "err", err)
	writeProblem(w, r, Problem{Type: ProblemInternal, Title: "Internal error", Status: http.StatusInternalServerError,
		Detail: "the query failed; the error is in the server's log"})
}

// ProblemConflict is a change the resource's state does not allow.
const ProblemConflict = problemBase + "conflict"

// storeError answers a store error (404, 409 or 500) and reports whether
// there was one.
func (s *Server) storeError(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, Problem{Type: ProblemNotFound, Title: "Not found", Status: http.StatusNotFound, Detail: err.Error()})
	case errors.Is(err, store.ErrConflict):
		writeProblem(w, r, Problem{Type: ProblemConflict, Title: "Conflict", Status: http.StatusConflict, Detail: err.Error()})
	default:
		s.internal(w, r, err)
	}
	return true
}

// ModelVersion is one version in the model registry.
type ModelVersion struct {
	Model      string          `json:"model"`
	Version    string          `json:"version"`
	Algorithm  string          `json:"algorithm"`
	Status     string          `json:"status"`
	TrainFrom  *string         `json:"train_from"`
	TrainTo    *string         `json:"train_to"`
	Params     json.RawMessage `json:"params"`
	Metrics    json.RawMessage `json:"metrics"`
	TrainedBy  string          `json:"trained_by"`
	PromotedBy string          `json:"promoted_by"`
	PromotedAt *string         `json:"promoted_at"`
	CreatedAt  string          `json:"created_at"`
}

var modelRE = regexp.MustCompile(`^[a-z0-9_\-]{1,100}$`)

// handleModels lists the registry: one row per trained version, so it is
// not paginated.
func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	model := p.match("model", modelRE, "a model name (fraud, churn, ...)")
	status := p.enum("status", "", store.ModelCandidate, store.ModelActive, store.ModelRetired)
	if !p.ok(w) {
		return
	}
	ms, err := s.db.Models(r.Context(), model)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := struct {
		Items []ModelVersion `json:"items"`
	}{Items: []ModelVersion{}}
	for _, m := range ms {
		if status != "" && m.Status != status {
			continue
		}
		out.Items = append(out.Items, ModelVersion{Model: m.Model, Version: m.Version, Algorithm: m.Algorithm, Status: m.Status,
			TrainFrom: optTime(m.TrainFrom), TrainTo: optTime(m.TrainTo), Params: m.Params, Metrics: m.Metrics,
			TrainedBy: m.TrainedBy, PromotedBy: m.PromotedBy, PromotedAt: optTime(m.PromotedAt), CreatedAt: m.CreatedAt.UTC().Format(time.RFC3339Nano)})
	}
	writeJSON(w, http.StatusOK, out)
}
