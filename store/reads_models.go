package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds the read API's queries over what the batch side computed:
// the customer models (recommendations, segments, churn), demand forecasts,
// purchase orders, pricing recommendations and data-quality results. The
// model tables hold one set of rows per as-of date; a zero AsOf means the
// latest date the table has (resolved once, by latestAsOf, so every row of
// an answer comes from one run). Lists page by keyset like reads.go's.

// collect runs a query and scans every row; what names the rows in errors.
func collect[T any](ctx context.Context, db *DB, what string, scan pgx.RowToFunc[T], sql string, args ...any) ([]T, error) {
	rows, err := db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	out, err := pgx.CollectRows(rows, scan)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return out, nil
}

// latestAsOf resolves the as-of date of a model table: asOf itself when
// given, else the newest date in the table. ok is false when the table has
// no row for that date (nothing computed yet).
func (db *DB) latestAsOf(ctx context.Context, table string, asOf time.Time) (day time.Time, ok bool, err error) {
	var d *time.Time
	if asOf.IsZero() {
		err = db.Pool.QueryRow(ctx, `SELECT max(as_of) FROM `+table).Scan(&d)
	} else {
		err = db.Pool.QueryRow(ctx, `SELECT as_of FROM `+table+` WHERE as_of = $1 LIMIT 1`, asOf.UTC()).Scan(&d)
		if errors.Is(err, pgx.ErrNoRows) {
			err = nil
		}
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("latest as-of date of %s: %w", table, err)
	}
	if d == nil {
		return time.Time{}, false, nil
	}
	return d.UTC(), true, nil
}

// RankedProduct is one recommended product: for a customer, or similar to
// a product.
type RankedProduct struct {
	Rank                int
	ProductID           string
	Score               float64
	Source              string // similar or popular
	ModelVersion, RunID string
}

// Recommendations are the ranked products of one as-of date; AsOf is zero
// when nothing was computed for the date.
type Recommendations struct {
	AsOf  time.Time
	Items []RankedProduct
}

func scanRanked(r pgx.CollectableRow) (RankedProduct, error) {
	var p RankedProduct
	err := r.Scan(&p.Rank, &p.ProductID, &p.Score, &p.Source, &p.ModelVersion, &p.RunID)
	return p, err
}

// CustomerRecommendations returns a customer's top limit products as of
// asOf (zero: the latest run), best first.
func (db *DB) CustomerRecommendations(ctx context.Context, customerID string, asOf time.Time, limit int) (Recommendations, error) {
	return db.ranked(ctx, "customer_recommendations", `
		SELECT rank, product_id, score, source, model_version, run_id FROM customer_recommendations
		 WHERE as_of = $1 AND customer_id = $2 ORDER BY rank LIMIT $3`, customerID, asOf, limit)
}

// SimilarProducts returns the limit products most similar to a product as
// of asOf (zero: the latest run), most similar first.
func (db *DB) SimilarProducts(ctx context.Context, productID string, asOf time.Time, limit int) (Recommendations, error) {
	return db.ranked(ctx, "product_similarities", `
		SELECT rank, similar_product_id, score, 'similar', model_version, run_id FROM product_similarities
		 WHERE as_of = $1 AND product_id = $2 ORDER BY rank LIMIT $3`, productID, asOf, limit)
}

func (db *DB) ranked(ctx context.Context, table, sql, id string, asOf time.Time, limit int) (Recommendations, error) {
	day, ok, err := db.latestAsOf(ctx, table, asOf)
	if err != nil || !ok {
		return Recommendations{Items: []RankedProduct{}}, err
	}
	items, err := collect(ctx, db, table, scanRanked, sql, day, id, limit)
	return Recommendations{AsOf: day, Items: items}, err
}

// SegmentCluster is a k-means cluster's profile (customer_segments).
type SegmentCluster struct {
	CustomerSegment
	ModelVersion string
}

// RFMSegment is one named RFM segment: its customers and their means.
type RFMSegment struct {
	Segment                                        string
	Customers                                      int64
	MeanRecencyDays, MeanOrders, MeanMonetaryMinor float64
}

// Segmentation is the customer segmentation of one as-of date.
type Segmentation struct {
	AsOf     time.Time // zero: none computed
	Clusters []SegmentCluster
	RFM      []RFMSegment
}

// Segments returns the clusters and the RFM segments as of asOf (zero: the
// latest run), the clusters by number, the segments largest first.
func (db *DB) Segments(ctx context.Context, asOf time.Time) (Segmentation, error) {
	out := Segmentation{Clusters: []SegmentCluster{}, RFM: []RFMSegment{}}
	day, ok, err := db.latestAsOf(ctx, "customer_features", asOf)
	if err != nil || !ok {
		return out, err
	}
	out.AsOf = day
	if out.Clusters, err = collect(ctx, db, "customer segments", func(r pgx.CollectableRow) (SegmentCluster, error) {
		var c SegmentCluster
		var centroid []byte
		err := r.Scan(&c.Cluster, &c.Customers, &c.MeanRecencyDays, &c.MeanOrders, &c.MeanMonetaryMinor, &centroid, &c.TopSegment, &c.ModelVersion)
		if err == nil {
			err = json.Unmarshal(centroid, &c.Centroid)
		}
		return c, err
	}, `SELECT cluster, customers, mean_recency_days, mean_orders, mean_monetary_minor, centroid, top_segment, model_version
		  FROM customer_segments WHERE as_of = $1 ORDER BY cluster`, day); err != nil {
		return out, err
	}
	out.RFM, err = collect(ctx, db, "rfm segments", func(r pgx.CollectableRow) (RFMSegment, error) {
		var s RFMSegment
		err := r.Scan(&s.Segment, &s.Customers, &s.MeanRecencyDays, &s.MeanOrders, &s.MeanMonetaryMinor)
		return s, err
	}, `SELECT segment, count(*), avg(recency_days), avg(orders)::float8, avg(monetary_minor)::float8
		  FROM customer_features WHERE as_of = $1 GROUP BY segment ORDER BY count(*) DESC, segment`, day)
	return out, err
}

// ChurnKey is the keyset position of the churn list: ascending p_alive,
// then customer id.
type ChurnKey struct {
	PAlive     float64
	CustomerID string
}

// ChurnQuery selects churn scores of one as-of date, most at risk first.
type ChurnQuery struct {
	AsOf       time.Time // zero: the latest run
	CustomerID string
	Segment    string  // only customers of this RFM segment
	MaxPAlive  float64 // only p_alive at most this (1: everyone)
	After      *ChurnKey
	Limit      int
}

// ChurnRow is one customer's churn risk and value, with the RFM segment and
// cluster of the same as-of date when the features were computed for it.
type ChurnRow struct {
	ChurnScore
	Segment      *string
	Cluster      *int
	ModelVersion string
}

// ChurnPage returns a page of churn scores by p_alive ascending (the most
// likely gone first), then customer id; the as-of date read (zero: none).
func (db *DB) ChurnPage(ctx context.Context, q ChurnQuery) (time.Time, []ChurnRow, error) {
	day, ok, err := db.latestAsOf(ctx, "churn_scores", q.AsOf)
	if err != nil || !ok {
		return time.Time{}, []ChurnRow{}, err
	}
	var after ChurnKey
	if q.After != nil {
		after = *q.After
	}
	rows, err := collect(ctx, db, "churn scores", func(r pgx.CollectableRow) (ChurnRow, error) {
		var c ChurnRow
		err := r.Scan(&c.CustomerID, &c.Frequency, &c.RecencyWeeks, &c.AgeWeeks, &c.PAlive, &c.ExpectedPurchases, &c.HorizonDays,
			&c.ExpectedSpendMinor, &c.CLVMinor, &c.Currency, &c.ModelVersion, &c.Segment, &c.Cluster)
		return c, err
	}, `SELECT c.customer_id, c.frequency, c.recency_weeks, c.age_weeks, c.p_alive, c.expected_purchases, c.horizon_days,
		       c.expected_spend_minor, c.clv_minor, c.currency::text, c.model_version, f.segment, f.cluster
		  FROM churn_scores c LEFT JOIN customer_features f ON f.as_of = c.as_of AND f.customer_id = c.customer_id
		 WHERE c.as_of = $1 AND ($2 = '' OR c.customer_id = $2) AND ($3 = '' OR f.segment = $3) AND c.p_alive <= $4
		   AND (NOT $5 OR (c.p_alive, c.customer_id) > ($6, $7))
		 ORDER BY c.p_alive, c.customer_id LIMIT $8`,
		day, q.CustomerID, q.Segment, q.MaxPAlive, q.After != nil, after.PAlive, after.CustomerID, q.Limit)
	return day, rows, err
}

// ForecastDay is one day of a product's demand forecast.
type ForecastDay struct {
	Date     time.Time
	Forecast float64
}

// ForecastRow is one product's demand forecast of one as-of date: the
// method chosen for its demand class and its accuracy on the holdout.
type ForecastRow struct {
	AsOf                     time.Time
	ProductID, Method, Class string
	ADI, CV2                 float64
	HistoryDays, HoldoutDays int
	MASE, SNaiveMASE         *float64 // nil: too short a history for a holdout
	ModelVersion, RunID      string
	Days                     []ForecastDay
}

// ForecastQuery selects the products' forecasts of one as-of date, by
// product id.
type ForecastQuery struct {
	AsOf      time.Time // zero: the latest run
	ProductID string
	Days      int // forecast days per product, from the as-of date
	After     string
	Limit     int
}

// ForecastPage returns a page of products' forecasts by product id.
func (db *DB) ForecastPage(ctx context.Context, q ForecastQuery) ([]ForecastRow, error) {
	day, ok, err := db.latestAsOf(ctx, "demand_forecast_accuracy", q.AsOf)
	if err != nil || !ok {
		return []ForecastRow{}, err
	}
	return collect(ctx, db, "demand forecasts", func(r pgx.CollectableRow) (ForecastRow, error) {
		var f ForecastRow
		var dates []time.Time
		var values []float64
		err := r.Scan(&f.AsOf, &f.ProductID, &f.Method, &f.Class, &f.ADI, &f.CV2, &f.HistoryDays, &f.HoldoutDays,
			&f.MASE, &f.SNaiveMASE, &f.ModelVersion, &f.RunID, &dates, &values)
		f.AsOf = f.AsOf.UTC()
		f.Days = make([]ForecastDay, len(dates))
		for i := range dates {
			f.Days[i] = ForecastDay{Date: dates[i].UTC(), Forecast: values[i]}
		}
		return f, err
	}, `SELECT a.as_of, a.product_id, a.method, a.demand_class, a.adi, a.cv2, a.history_days, a.holdout_days,
		       a.mase, a.snaive_mase, a.model_version, a.run_id,
		       coalesce(d.dates, '{}'), coalesce(d.values, '{}')
		  FROM demand_forecast_accuracy a
		  LEFT JOIN LATERAL (
		        SELECT array_agg(forecast_date ORDER BY forecast_date) AS dates, array_agg(forecast ORDER BY forecast_date) AS values
		          FROM (SELECT forecast_date, forecast FROM demand_forecasts f
		                 WHERE f.as_of = a.as_of AND f.product_id = a.product_id ORDER BY forecast_date LIMIT $3) x) d ON true
		 WHERE a.as_of = $1 AND ($2 = '' OR a.product_id = $2) AND a.product_id > $4
		 ORDER BY a.product_id LIMIT $5`,
		day, q.ProductID, q.Days, q.After, q.Limit)
}

// PurchaseOrderQuery selects purchase orders, newest first.
type PurchaseOrderQuery struct {
	Status, ProductID string
	After             *TimeKey // created_at, po_id
	Limit             int
}

// PurchaseOrderPage returns a page of purchase orders by creation
// descending, then id descending.
func (db *DB) PurchaseOrderPage(ctx context.Context, q PurchaseOrderQuery) ([]PurchaseOrder, error) {
	var after TimeKey
	if q.After != nil {
		after = *q.After
	}
	return collect(ctx, db, "purchase orders", scanPO, `SELECT `+poColumns+` FROM purchase_orders
		 WHERE ($1 = '' OR status = $1) AND ($2 = '' OR product_id = $2) AND (NOT $3 OR (created_at, po_id) < ($4, $5))
		 ORDER BY created_at DESC, po_id DESC LIMIT $6`,
		q.Status, q.ProductID, q.After != nil, after.At.UTC(), after.ID, q.Limit)
}

// PricingKey is the keyset position of the pricing list.
type PricingKey struct {
	At time.Time
	ID int64
}

// PricingQuery selects pricing recommendations, newest first.
type PricingQuery struct {
	Status, ProductID string
	After             *PricingKey // created_at, id
	Limit             int
}

// PricingPage returns a page of pricing recommendations by creation
// descending, then id descending.
func (db *DB) PricingPage(ctx context.Context, q PricingQuery) ([]PricingRecommendation, error) {
	var after PricingKey
	if q.After != nil {
		after = *q.After
	}
	return db.queryPricing(ctx, `
		 WHERE ($1 = '' OR status = $1) AND ($2 = '' OR product_id = $2) AND (NOT $3 OR (created_at, id) < ($4, $5))
		 ORDER BY created_at DESC, id DESC LIMIT $6`,
		q.Status, q.ProductID, q.After != nil, after.At.UTC(), after.ID, q.Limit)
}

// DQKey is the keyset position of the data-quality list.
type DQKey struct {
	Table, Grain, Check string
}

// DQQuery selects the latest result of each table, grain and check.
type DQQuery struct {
	Table, Grain string
	FailedOnly   bool
	After        *DQKey
	Limit        int
}

// DQRow is the latest result of one check of one table and grain, with the
// table's score for that period.
type DQRow struct {
	Table, Grain, Check string
	PeriodStart         time.Time
	Value, Threshold    float64
	Passed, Skipped     bool
	Details             json.RawMessage
	Score               *float64
	RunID               string
	CheckedAt           time.Time
}

// DataQualityPage returns a page of the latest data-quality result of each
// table, grain and check, by table, grain and check.
func (db *DB) DataQualityPage(ctx context.Context, q DQQuery) ([]DQRow, error) {
	var after DQKey
	if q.After != nil {
		after = *q.After
	}
	return collect(ctx, db, "data-quality results", func(r pgx.CollectableRow) (DQRow, error) {
		var d DQRow
		err := r.Scan(&d.Table, &d.Grain, &d.Check, &d.PeriodStart, &d.Value, &d.Threshold, &d.Passed, &d.Skipped,
			&d.Details, &d.Score, &d.RunID, &d.CheckedAt)
		d.PeriodStart, d.CheckedAt = d.PeriodStart.UTC(), d.CheckedAt.UTC()
		return d, err
	}, `SELECT l.table_name, l.grain, l.check_name, l.period_start, l.value, l.threshold, l.passed, l.skipped,
		       l.details, s.score, l.run_id, l.checked_at
		  FROM (SELECT DISTINCT ON (table_name, grain, check_name) *
		          FROM dq_results
		         WHERE ($1 = '' OR table_name = $1) AND ($2 = '' OR grain = $2)
		           AND (NOT $3 OR (table_name, grain, check_name) > ($4, $5, $6))
		         ORDER BY table_name, grain, check_name, period_start DESC) l
		  LEFT JOIN dq_scores s USING (table_name, grain, period_start)
		 WHERE NOT $7 OR NOT l.passed
		 ORDER BY l.table_name, l.grain, l.check_name LIMIT $8`,
		q.Table, q.Grain, q.After != nil, after.Table, after.Grain, after.Check, q.FailedOnly, q.Limit)
}
