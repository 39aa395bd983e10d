package api

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/shoppulse/shoppulse/store"
)

// modelRoutes read what the batch side computed: recommendations, customer
// segments and churn, demand forecasts, purchase orders, pricing
// recommendations and data quality (scope read). The decisions on purchase
// orders and prices are in decisions.go (scope operate).
func (s *Server) modelRoutes() []route {
	get := func(path string, h http.HandlerFunc) route {
		return route{method: http.MethodGet, path: path, scope: ScopeRead, h: h}
	}
	return []route{
		get("/v1/customers/{customer_id}/recommendations", s.handleCustomerRecommendations),
		get("/v1/products/{product_id}/recommendations", s.handleProductRecommendations),
		get("/v1/segments", s.handleSegments),
		get("/v1/churn", s.handleChurn),
		get("/v1/forecasts", s.handleForecasts),
		get("/v1/replenishment/orders", s.handlePurchaseOrders),
		get("/v1/pricing/recommendations", s.handlePricing),
		get("/v1/data-quality", s.handleDataQuality),
	}
}

// optDate is a date (YYYY-MM-DD) or nil when zero.
func optDate(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.DateOnly)
	return &s
}

// RankedProduct is one recommended product.
type RankedProduct struct {
	Rank         int     `json:"rank"`
	ProductID    string  `json:"product_id"`
	Score        float64 `json:"score"`
	Source       string  `json:"source"`
	ModelVersion string  `json:"model_version"`
	RunID        string  `json:"run_id"`
}

// Recommendations answers both recommendation routes: CustomerID or
// ProductID names whose they are.
type Recommendations struct {
	CustomerID string          `json:"customer_id,omitempty"`
	ProductID  string          `json:"product_id,omitempty"`
	AsOf       *string         `json:"as_of"`
	Items      []RankedProduct `json:"items"`
}

func (s *Server) handleCustomerRecommendations(w http.ResponseWriter, r *http.Request) {
	s.recommendations(w, r, "customer_id", s.db.CustomerRecommendations)
}

func (s *Server) handleProductRecommendations(w http.ResponseWriter, r *http.Request) {
	s.recommendations(w, r, "product_id", s.db.SimilarProducts)
}

func (s *Server) recommendations(w http.ResponseWriter, r *http.Request, param string,
	read func(ctx context.Context, id string, asOf time.Time, limit int) (store.Recommendations, error)) {
	p := newParams(r)
	id := p.path(param, 200)
	asOf := p.date("as_of")
	limit := p.intIn("limit", 10, 1, 100)
	if !p.ok(w) {
		return
	}
	recs, err := read(r.Context(), id, asOf, limit)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := Recommendations{AsOf: optDate(recs.AsOf), Items: make([]RankedProduct, len(recs.Items))}
	if param == "customer_id" {
		out.CustomerID = id
	} else {
		out.ProductID = id
	}
	for i, x := range recs.Items {
		out.Items[i] = RankedProduct{Rank: x.Rank, ProductID: x.ProductID, Score: x.Score, Source: x.Source, ModelVersion: x.ModelVersion, RunID: x.RunID}
	}
	writeJSON(w, http.StatusOK, out)
}

// SegmentCluster is one k-means cluster's profile.
type SegmentCluster struct {
	Cluster           int       `json:"cluster"`
	Customers         int64     `json:"customers"`
	MeanRecencyDays   float64   `json:"mean_recency_days"`
	MeanOrders        float64   `json:"mean_orders"`
	MeanMonetaryMinor float64   `json:"mean_monetary_minor"`
	Centroid          []float64 `json:"centroid"`
	TopSegment        string    `json:"top_segment"`
	ModelVersion      string    `json:"model_version"`
}

// RFMSegment is one named RFM segment.
type RFMSegment struct {
	Segment           string  `json:"segment"`
	Customers         int64   `json:"customers"`
	MeanRecencyDays   float64 `json:"mean_recency_days"`
	MeanOrders        float64 `json:"mean_orders"`
	MeanMonetaryMinor float64 `json:"mean_monetary_minor"`
}

// Segments is the customer segmentation of one as-of date.
type Segments struct {
	AsOf        *string          `json:"as_of"`
	Clusters    []SegmentCluster `json:"clusters"`
	RFMSegments []RFMSegment     `json:"rfm_segments"`
}

func (s *Server) handleSegments(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	asOf := p.date("as_of")
	if !p.ok(w) {
		return
	}
	seg, err := s.db.Segments(r.Context(), asOf)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	out := Segments{AsOf: optDate(seg.AsOf), Clusters: make([]SegmentCluster, len(seg.Clusters)), RFMSegments: make([]RFMSegment, len(seg.RFM))}
	for i, c := range seg.Clusters {
		centroid := c.Centroid
		if centroid == nil {
			centroid = []float64{}
		}
		out.Clusters[i] = SegmentCluster{Cluster: c.Cluster, Customers: c.Customers, MeanRecencyDays: c.MeanRecencyDays, MeanOrders: c.MeanOrders,
			MeanMonetaryMinor: c.MeanMonetaryMinor, Centroid: centroid, TopSegment: c.TopSegment, ModelVersion: c.ModelVersion}
	}
	for i, x := range seg.RFM {
		out.RFMSegments[i] = RFMSegment(x)
	}
	writeJSON(w, http.StatusOK, out)
}

// ChurnRisk is one customer's BG/NBD churn risk and lifetime value.
type ChurnRisk struct {
	CustomerID         string  `json:"customer_id"`
	PAlive             float64 `json:"p_alive"`
	ExpectedPurchases  float64 `json:"expected_purchases"`
	HorizonDays        int     `json:"horizon_days"`
	ExpectedSpendMinor float64 `json:"expected_spend_minor"`
	CLVMinor           float64 `json:"clv_minor"`
	Currency           string  `json:"currency"`
	Frequency          int     `json:"frequency"`
	RecencyWeeks       float64 `json:"recency_weeks"`
	AgeWeeks           float64 `json:"age_weeks"`
	Segment            *string `json:"segment"`
	Cluster            *int    `json:"cluster"`
	ModelVersion       string  `json:"model_version"`
}

type churnKey struct {
	P float64 `json:"p"`
	C string  `json:"c"`
}

var segmentRE = regexp.MustCompile(`^[A-Za-z0-9 _\-]{1,100}$`)

func (s *Server) handleChurn(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.ChurnQuery{
		AsOf:       p.date("as_of"),
		CustomerID: p.str("customer_id", 200),
		Segment:    p.match("segment", segmentRE, "an RFM segment name"),
		MaxPAlive:  p.floatIn("max_p_alive", 1, 0, 1),
		Limit:      p.limit(),
	}
	var k churnKey
	if p.cursor(&k) {
		q.After = &store.ChurnKey{PAlive: k.P, CustomerID: k.C}
	}
	if !p.ok(w) {
		return
	}
	q.Limit++
	day, rows, err := s.db.ChurnPage(r.Context(), q)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	pg := pageOf(rows, q.Limit-1, func(c store.ChurnRow) ChurnRisk {
		return ChurnRisk{CustomerID: c.CustomerID, PAlive: c.PAlive, ExpectedPurchases: c.ExpectedPurchases, HorizonDays: c.HorizonDays,
			ExpectedSpendMinor: c.ExpectedSpendMinor, CLVMinor: c.CLVMinor, Currency: c.Currency, Frequency: c.Frequency,
			RecencyWeeks: c.RecencyWeeks, AgeWeeks: c.AgeWeeks, Segment: c.Segment, Cluster: c.Cluster, ModelVersion: c.ModelVersion}
	}, func(c store.ChurnRow) any { return churnKey{P: c.PAlive, C: c.CustomerID} })
	writeJSON(w, http.StatusOK, struct {
		AsOf *string `json:"as_of"`
		page[ChurnRisk]
	}{optDate(day), pg})
}

// Forecast is one product's demand forecast: the method chosen for its
// demand class (Syntetos-Boylan) and its MASE on the holdout against the
// seasonal naive forecast's.
type Forecast struct {
	ProductID     string        `json:"product_id"`
	AsOf          string        `json:"as_of"`
	Method        string        `json:"method"`
	DemandClass   string        `json:"demand_class"`
	MASE          *float64      `json:"mase"`
	SNaiveMASE    *float64      `json:"snaive_mase"`
	ForecastTotal float64       `json:"forecast_total"`
	ADI           float64       `json:"adi"`
	CV2           float64       `json:"cv2"`
	HistoryDays   int           `json:"history_days"`
	HoldoutDays   int           `json:"holdout_days"`
	ModelVersion  string        `json:"model_version"`
	RunID         string        `json:"run_id"`
	Days          []ForecastDay `json:"days"`
}

// ForecastDay is one day's forecast demand in units.
type ForecastDay struct {
	Date     string  `json:"date"`
	Forecast float64 `json:"forecast"`
}

// productKey is the cursor of lists ordered by product id.
type productKey struct {
	P string `json:"p"`
}

func (s *Server) handleForecasts(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.ForecastQuery{
		AsOf:      p.date("as_of"),
		ProductID: p.str("product", 200),
		Days:      p.intIn("days", 14, 1, 366),
		Limit:     p.limit(),
	}
	var k productKey
	if p.cursor(&k) {
		q.After = k.P
	}
	servePage(s, w, r, p, s.db.ForecastPage, &q, &q.Limit, func(f store.ForecastRow) Forecast {
		out := Forecast{ProductID: f.ProductID, AsOf: f.AsOf.Format(time.DateOnly), Method: f.Method, DemandClass: f.Class,
			MASE: f.MASE, SNaiveMASE: f.SNaiveMASE, ADI: f.ADI, CV2: f.CV2, HistoryDays: f.HistoryDays, HoldoutDays: f.HoldoutDays,
			ModelVersion: f.ModelVersion, RunID: f.RunID, Days: make([]ForecastDay, len(f.Days))}
		for i, d := range f.Days {
			out.Days[i] = ForecastDay{Date: d.Date.Format(time.DateOnly), Forecast: d.Forecast}
			out.ForecastTotal += d.Forecast
		}
		return out
	}, func(f store.ForecastRow) any { return productKey{P: f.ProductID} })
}

// PurchaseOrder is a replenishment order.
type PurchaseOrder struct {
	POID             string          `json:"po_id"`
	ProductID        string          `json:"product_id"`
	WarehouseID      string          `json:"warehouse_id"`
	SupplierID       string          `json:"supplier_id"`
	Quantity         int64           `json:"quantity"`
	UnitCostMinor    int64           `json:"unit_cost_minor"`
	ValueMinor       int64           `json:"value_minor"`
	Currency         string          `json:"currency"`
	LeadTimeDays     int             `json:"lead_time_days"`
	Status           string          `json:"status"`
	ApprovalDeadline *string         `json:"approval_deadline"`
	DecidedBy        *string         `json:"decided_by"`
	DecidedAt        *string         `json:"decided_at"`
	DecisionNote     string          `json:"decision_note"`
	SentAt           *string         `json:"sent_at"`
	DueAt            *string         `json:"due_at"`
	ReceivedAt       *string         `json:"received_at"`
	ReceivedQuantity int64           `json:"received_quantity"`
	WorkflowID       string          `json:"workflow_id"`
	Plan             json.RawMessage `json:"plan"`
	CreatedAt        string          `json:"created_at"`
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func purchaseOrderOf(p store.PurchaseOrder) PurchaseOrder {
	plan := p.Plan
	if len(plan) == 0 {
		plan = json.RawMessage(`{}`)
	}
	return PurchaseOrder{POID: p.ID, ProductID: p.ProductID, WarehouseID: p.WarehouseID, SupplierID: p.SupplierID, Quantity: p.Quantity,
		UnitCostMinor: p.UnitCostMinor, ValueMinor: p.ValueMinor, Currency: p.Currency, LeadTimeDays: p.LeadTimeDays, Status: p.Status,
		ApprovalDeadline: optTime(p.ApprovalDeadline), DecidedBy: optString(p.DecidedBy), DecidedAt: optTime(p.DecidedAt),
		DecisionNote: p.DecisionNote, SentAt: optTime(p.SentAt), DueAt: optTime(p.DueAt), ReceivedAt: optTime(p.ReceivedAt),
		ReceivedQuantity: p.ReceivedQuantity, WorkflowID: p.WorkflowID, Plan: plan, CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339Nano)}
}

var poStatuses = []string{store.PODraft, store.POAwaitingApproval, store.POApproved, store.PORejected, store.POExpired,
	store.POSent, store.POReceived, store.POLate}

func (s *Server) handlePurchaseOrders(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.PurchaseOrderQuery{
		Status:    p.enum("status", "", poStatuses...),
		ProductID: p.str("product", 200),
		Limit:     p.limit(),
	}
	q.After = p.timeCursor()
	servePage(s, w, r, p, s.db.PurchaseOrderPage, &q, &q.Limit, purchaseOrderOf,
		func(o store.PurchaseOrder) any { return timeKey{At: o.CreatedAt, ID: o.ID} })
}

// PricingRecommendation is a recommended price awaiting (or after) a
// person's decision.
type PricingRecommendation struct {
	ID                    int64    `json:"id"`
	ProductID             string   `json:"product_id"`
	Currency              string   `json:"currency"`
	CurrentPriceMinor     int64    `json:"current_price_minor"`
	RecommendedPriceMinor int64    `json:"recommended_price_minor"`
	UnitCostMinor         int64    `json:"unit_cost_minor"`
	CompetitorMinMinor    *int64   `json:"competitor_min_minor"`
	Elasticity            float64  `json:"elasticity"`
	ElasticitySE          float64  `json:"elasticity_se"`
	R2                    float64  `json:"r2"`
	Observations          int      `json:"observations"`
	Binding               []string `json:"binding"`
	Status                string   `json:"status"`
	DecidedBy             *string  `json:"decided_by"`
	DecidedAt             *string  `json:"decided_at"`
	Note                  string   `json:"note"`
	ModelVersion          string   `json:"model_version"`
	RunID                 string   `json:"run_id"`
	CreatedAt             string   `json:"created_at"`
}

func pricingOf(x store.PricingRecommendation) PricingRecommendation {
	out := PricingRecommendation{ID: x.ID, ProductID: x.ProductID, Currency: x.Currency, CurrentPriceMinor: x.CurrentPriceMinor,
		RecommendedPriceMinor: x.RecommendedPriceMinor, UnitCostMinor: x.UnitCostMinor, Elasticity: x.Elasticity,
		ElasticitySE: x.ElasticitySE, R2: x.R2, Observations: x.Observations, Binding: x.Binding, Status: x.Status,
		DecidedBy: optString(x.DecidedBy), DecidedAt: optTime(x.DecidedAt), Note: x.Note, ModelVersion: x.ModelVersion,
		RunID: x.RunID, CreatedAt: x.CreatedAt.UTC().Format(time.RFC3339Nano)}
	if x.CompetitorMinMinor != 0 {
		c := x.CompetitorMinMinor
		out.CompetitorMinMinor = &c
	}
	if out.Binding == nil {
		out.Binding = []string{}
	}
	return out
}

type pricingKey struct {
	At time.Time `json:"t"`
	ID int64     `json:"i"`
}

func (s *Server) handlePricing(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.PricingQuery{
		Status:    p.enum("status", "", store.PriceProposed, store.PriceApproved, store.PriceRejected),
		ProductID: p.str("product", 200),
		Limit:     p.limit(),
	}
	var k pricingKey
	if p.cursor(&k) {
		q.After = &store.PricingKey{At: k.At, ID: k.ID}
	}
	servePage(s, w, r, p, s.db.PricingPage, &q, &q.Limit, pricingOf,
		func(x store.PricingRecommendation) any { return pricingKey{At: x.CreatedAt, ID: x.ID} })
}

// QualityCheck is the latest result of one data-quality check of one table
// and grain, with the table's score (0 to 100) for that period.
type QualityCheck struct {
	Table       string          `json:"table"`
	Grain       string          `json:"grain"`
	Check       string          `json:"check"`
	PeriodStart string          `json:"period_start"`
	Passed      bool            `json:"passed"`
	Skipped     bool            `json:"skipped"`
	Value       float64         `json:"value"`
	Threshold   float64         `json:"threshold"`
	Score       *float64        `json:"score"`
	Details     json.RawMessage `json:"details"`
	RunID       string          `json:"run_id"`
	CheckedAt   string          `json:"checked_at"`
}

type dqKey struct {
	T string `json:"t"`
	G string `json:"g"`
	C string `json:"c"`
}

func (s *Server) handleDataQuality(w http.ResponseWriter, r *http.Request) {
	p := newParams(r)
	q := store.DQQuery{
		Table:      p.str("table", 200),
		Grain:      p.enum("grain", "", "hour", "day"),
		FailedOnly: p.boolean("failed", false),
		Limit:      p.limit(),
	}
	var k dqKey
	if p.cursor(&k) {
		q.After = &store.DQKey{Table: k.T, Grain: k.G, Check: k.C}
	}
	servePage(s, w, r, p, s.db.DataQualityPage, &q, &q.Limit, func(d store.DQRow) QualityCheck {
		details := d.Details
		if len(details) == 0 || string(details) == "null" {
			details = json.RawMessage(`{}`)
		}
		return QualityCheck{Table: d.Table, Grain: d.Grain, Check: d.Check, PeriodStart: d.PeriodStart.Format(time.RFC3339),
			Passed: d.Passed, Skipped: d.Skipped, Value: d.Value, Threshold: d.Threshold, Score: d.Score, Details: details,
			RunID: d.RunID, CheckedAt: d.CheckedAt.Format(time.RFC3339Nano)}
	}, func(d store.DQRow) any { return dqKey{T: d.Table, G: d.Grain, C: d.Check} })
}

// pricingID reads the {id} of a pricing recommendation.
func pricingID(p *params) int64 {
	v := p.r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		p.fail("id", "%q is not a recommendation id (a positive integer)", v)
	}
	return id
}
