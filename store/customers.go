package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// CustomerOrder is one stored, not cancelled order of a known customer.
type CustomerOrder struct {
	CustomerID string
	EventTime  time.Time
	TotalMinor int64
}

// MainCurrency returns the currency of most orders in [from, to) (ties by
// code), or "" when there are none.
func (db *DB) MainCurrency(ctx context.Context, from, to time.Time) (string, error) {
	var cur string
	err := db.Pool.QueryRow(ctx, `
		SELECT currency FROM orders WHERE event_time >= $1 AND event_time < $2
		GROUP BY currency ORDER BY count(*) DESC, currency LIMIT 1`, from, to).Scan(&cur)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("main currency: %w", err)
	}
	return cur, nil
}

// CustomerOrders returns the orders in [from, to) in currency that have a
// customer and were not cancelled (by the time of the call), each order id
// once, ordered by customer and time.
func (db *DB) CustomerOrders(ctx context.Context, from, to time.Time, currency string) ([]CustomerOrder, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT customer_id, event_time, total_minor FROM (
			SELECT DISTINCT ON (o.customer_id, o.order_id) o.customer_id, o.order_id, o.event_time, o.total_minor
			  FROM orders o
			 WHERE o.event_time >= $1 AND o.event_time < $2 AND o.currency = $3 AND o.customer_id <> ''
			   AND NOT EXISTS (SELECT 1 FROM order_cancellations c WHERE c.order_id = o.order_id)
			 ORDER BY o.customer_id, o.order_id, o.event_time) d
		ORDER BY customer_id, event_time, order_id`, from, to, currency)
	if err != nil {
		return nil, fmt.Errorf("read customer orders: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CustomerOrder, error) {
		var o CustomerOrder
		err := r.Scan(&o.CustomerID, &o.EventTime, &o.TotalMinor)
		o.EventTime = o.EventTime.UTC()
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("read customer orders: %w", err)
	}
	return out, nil
}

// ProductInteraction is a purchase (an order line of a not cancelled order)
// or a view (product_view or add_to_cart) of a product. User is the customer
// id, or "session:" and the session id for an anonymous view.
type ProductInteraction struct {
	User      string
	Customer  bool
	ProductID string
	Purchase  bool
	At        time.Time
}

// ProductInteractions returns the purchases and views in [from, to), ordered
// by time, user, product and kind.
func (db *DB) ProductInteractions(ctx context.Context, from, to time.Time) ([]ProductInteraction, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT o.customer_id, true, l.product_id, true, l.event_time
		  FROM order_lines l
		  JOIN orders o ON o.event_id = l.event_id AND o.event_time = l.event_time
		 WHERE l.event_time >= $1 AND l.event_time < $2 AND o.customer_id <> '' AND l.product_id <> ''
		   AND NOT EXISTS (SELECT 1 FROM order_cancellations c WHERE c.order_id = o.order_id)
		UNION ALL
		SELECT CASE WHEN customer_id <> '' THEN customer_id ELSE 'session:' || session_id END,
		       customer_id <> '', product_id, false, event_time
		  FROM clickstream_events
		 WHERE event_time >= $1 AND event_time < $2 AND product_id <> ''
		   AND type IN ('product_view', 'add_to_cart')
		ORDER BY 5, 1, 3, 4`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read product interactions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ProductInteraction, error) {
		var p ProductInteraction
		err := r.Scan(&p.User, &p.Customer, &p.ProductID, &p.Purchase, &p.At)
		p.At = p.At.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read product interactions: %w", err)
	}
	return out, nil
}

// CustomerFeature is one row of customer_features.
type CustomerFeature struct {
	CustomerID                string
	FirstOrderAt, LastOrderAt time.Time
	RecencyDays               float64
	Orders, MonetaryMinor     int64
	Currency                  string
	RScore, FScore, MScore    int
	RFM, Segment              string
	Cluster                   int
}

// CustomerSegment is one row of customer_segments: a cluster's profile.
type CustomerSegment struct {
	Cluster                                        int
	Customers                                      int64
	MeanRecencyDays, MeanOrders, MeanMonetaryMinor float64
	Centroid                                       []float64
	TopSegment                                     string
}

// ChurnScore is one row of churn_scores.
type ChurnScore struct {
	CustomerID                   string
	Frequency                    int
	RecencyWeeks, AgeWeeks       float64
	PAlive, ExpectedPurchases    float64
	HorizonDays                  int
	ExpectedSpendMinor, CLVMinor float64
	Currency                     string
}

// ProductSimilarity is one row of product_similarities.
type ProductSimilarity struct {
	ProductID, SimilarProductID string
	Rank                        int
	Score                       float64
}

// CustomerRecommendation is one row of customer_recommendations.
type CustomerRecommendation struct {
	CustomerID, ProductID string
	Rank                  int
	Score                 float64
	Source                string
}

// ModelRun names the as-of date, model version and run that wrote a set of
// results, and the lineage to record with them.
type ModelRun struct {
	AsOf         time.Time // a date: its midnight UTC
	ModelVersion string
	Lineage      Lineage
}

// replace deletes the as-of date's rows of each table, copies the new ones
// in and records lineage (with the row counts added to its outputs), in one
// transaction: a re-run for the date leaves exactly its own rows.
func (db *DB) replace(ctx context.Context, run ModelRun, copies []tableCopy) error {
	day := run.AsOf.UTC().Truncate(24 * time.Hour)
	if run.Lineage.Outputs == nil {
		run.Lineage.Outputs = map[string]any{}
	}
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var tables []string
		for _, c := range copies {
			if _, err := tx.Exec(ctx, `DELETE FROM `+c.table+` WHERE as_of = $1`, day); err != nil {
				return fmt.Errorf("clear %s: %w", c.table, err)
			}
			n, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.columns, pgx.CopyFromRows(c.rows))
			if err != nil {
				return fmt.Errorf("copy into %s: %w", c.table, err)
			}
			run.Lineage.Outputs[c.table+"_rows"] = n
			tables = append(tables, c.table)
		}
		run.Lineage.Outputs["tables"] = tables
		run.Lineage.Outputs["as_of"] = day.Format(time.DateOnly)
		run.Lineage.Outputs["model_version"] = run.ModelVersion
		return recordLineage(ctx, tx, run.Lineage)
	})
	if err != nil {
		return fmt.Errorf("write results as of %s: %w", day.Format(time.DateOnly), err)
	}
	return nil
}

type tableCopy struct {
	table   string
	columns []string
	rows    [][]any
}

// ReplaceCustomerFeatures replaces the as-of date's customer_features and
// customer_segments and records lineage, in one transaction.
func (db *DB) ReplaceCustomerFeatures(ctx context.Context, run ModelRun, fs []CustomerFeature, segs []CustomerSegment) error {
	day, v, id := run.AsOf.UTC().Truncate(24*time.Hour), run.ModelVersion, run.Lineage.RunID
	frows := make([][]any, len(fs))
	for i, f := range fs {
		frows[i] = []any{day, f.CustomerID, f.FirstOrderAt, f.LastOrderAt, f.RecencyDays, f.Orders, f.MonetaryMinor,
			f.Currency, int16(f.RScore), int16(f.FScore), int16(f.MScore), f.RFM, f.Segment, int32(f.Cluster), v, id}
	}
	srows := make([][]any, len(segs))
	for i, s := range segs {
		c, err := json.Marshal(s.Centroid)
		if err != nil {
			return fmt.Errorf("centroid of cluster %d: %w", s.Cluster, err)
		}
		srows[i] = []any{day, int32(s.Cluster), s.Customers, s.MeanRecencyDays, s.MeanOrders, s.MeanMonetaryMinor, string(c), s.TopSegment, v, id}
	}
	return db.replace(ctx, run, []tableCopy{
		{"customer_features", []string{"as_of", "customer_id", "first_order_at", "last_order_at", "recency_days", "orders", "monetary_minor",
			"currency", "r_score", "f_score", "m_score", "rfm", "segment", "cluster", "model_version", "run_id"}, frows},
		{"customer_segments", []string{"as_of", "cluster", "customers", "mean_recency_days", "mean_orders", "mean_monetary_minor",
			"centroid", "top_segment", "model_version", "run_id"}, srows},
	})
}

// ReplaceChurnScores replaces the as-of date's churn_scores and records
// lineage, in one transaction.
func (db *DB) ReplaceChurnScores(ctx context.Context, run ModelRun, cs []ChurnScore) error {
	day, v, id := run.AsOf.UTC().Truncate(24*time.Hour), run.ModelVersion, run.Lineage.RunID
	rows := make([][]any, len(cs))
	for i, c := range cs {
		rows[i] = []any{day, c.CustomerID, int32(c.Frequency), c.RecencyWeeks, c.AgeWeeks, c.PAlive, c.ExpectedPurchases,
			int32(c.HorizonDays), c.ExpectedSpendMinor, c.CLVMinor, c.Currency, v, id}
	}
	return db.replace(ctx, run, []tableCopy{
		{"churn_scores", []string{"as_of", "customer_id", "frequency", "recency_weeks", "age_weeks", "p_alive", "expected_purchases",
			"horizon_days", "expected_spend_minor", "clv_minor", "currency", "model_version", "run_id"}, rows},
	})
}

// ReplaceRecommendations replaces the as-of date's product_similarities and
// customer_recommendations and records lineage, in one transaction.
func (db *DB) ReplaceRecommendations(ctx context.Context, run ModelRun, sims []ProductSimilarity, recs []CustomerRecommendation) error {
	day, v, id := run.AsOf.UTC().Truncate(24*time.Hour), run.ModelVersion, run.Lineage.RunID
	srows := make([][]any, len(sims))
	for i, s := range sims {
		srows[i] = []any{day, s.ProductID, int32(s.Rank), s.SimilarProductID, s.Score, v, id}
	}
	rrows := make([][]any, len(recs))
	for i, r := range recs {
		rrows[i] = []any{day, r.CustomerID, int32(r.Rank), r.ProductID, r.Score, r.Source, v, id}
	}
	return db.replace(ctx, run, []tableCopy{
		{"product_similarities", []string{"as_of", "product_id", "rank", "similar_product_id", "score", "model_version", "run_id"}, srows},
		{"customer_recommendations", []string{"as_of", "customer_id", "rank", "product_id", "score", "source", "model_version", "run_id"}, rrows},
	})
}
