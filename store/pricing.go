package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pricing recommendation statuses. A recommendation is never applied by
// ShopPulse: a person approves or rejects it.
const (
	PriceProposed = "proposed"
	PriceApproved = "approved"
	PriceRejected = "rejected"
)

// PriceDay is one product's sales on one UTC day in one currency.
type PriceDay struct {
	ProductID, Currency string
	Day                 time.Time
	Units, RevenueMinor int64
}

// DailyPrices returns, per product, currency and UTC day in [from, to), the
// units sold and their revenue at the prices paid (order lines with a
// positive quantity and price), ordered by product, currency and day.
func (db *DB) DailyPrices(ctx context.Context, from, to time.Time) ([]PriceDay, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT l.product_id, o.currency::text, date_trunc('day', l.event_time AT TIME ZONE 'UTC') AS day,
		       sum(l.quantity), sum(l.quantity * l.unit_price_minor)
		  FROM order_lines l JOIN orders o ON o.event_id = l.event_id AND o.event_time = l.event_time
		 WHERE l.event_time >= $1 AND l.event_time < $2 AND l.quantity > 0 AND l.unit_price_minor > 0
		 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("read daily prices: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PriceDay, error) {
		var d PriceDay
		err := r.Scan(&d.ProductID, &d.Currency, &d.Day, &d.Units, &d.RevenueMinor)
		d.Day = time.Date(d.Day.Year(), d.Day.Month(), d.Day.Day(), 0, 0, 0, 0, time.UTC)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("read daily prices: %w", err)
	}
	return out, nil
}

// ProductCosts returns each product's unit cost and currency from its latest
// receipt with a cost (any warehouse).
func (db *DB) ProductCosts(ctx context.Context, products []string) (map[string]Money, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT DISTINCT ON (product_id) product_id, unit_cost_minor, currency FROM inventory_movements
		 WHERE product_id = ANY($1) AND reason = 'receipt' AND unit_cost_minor > 0
		 ORDER BY product_id, event_time DESC, event_id DESC`, products)
	if err != nil {
		return nil, fmt.Errorf("read product costs: %w", err)
	}
	out := map[string]Money{}
	var p string
	var m Money
	_, err = pgx.ForEachRow(rows, []any{&p, &m.Minor, &m.Currency}, func() error {
		out[p] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read product costs: %w", err)
	}
	return out, nil
}

// Money is an amount in minor units of a currency.
type Money struct {
	Minor    int64  `json:"minor"`
	Currency string `json:"currency"`
}

// CompetitorMinPrices returns, per product and currency, the cheapest of
// the competitors' latest prices seen at or after since and before until:
// map product -> currency -> price.
func (db *DB) CompetitorMinPrices(ctx context.Context, products []string, since, until time.Time) (map[string]map[string]int64, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT product_id, currency, min(price_minor) FROM (
			SELECT DISTINCT ON (product_id, competitor, currency) product_id, currency, price_minor
			  FROM competitor_prices
			 WHERE product_id = ANY($1) AND event_time >= $2 AND event_time < $3 AND price_minor > 0
			 ORDER BY product_id, competitor, currency, event_time DESC) latest
		 GROUP BY product_id, currency`, products, since.UTC(), until.UTC())
	if err != nil {
		return nil, fmt.Errorf("read competitor prices: %w", err)
	}
	out := map[string]map[string]int64{}
	var p, c string
	var v int64
	_, err = pgx.ForEachRow(rows, []any{&p, &c, &v}, func() error {
		if out[p] == nil {
			out[p] = map[string]int64{}
		}
		out[p][c] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read competitor prices: %w", err)
	}
	return out, nil
}

// PricingRecommendation is one row of pricing_recommendations.
type PricingRecommendation struct {
	ID                    int64     `json:"id"`
	ModelVersion          string    `json:"model_version"`
	RunID                 string    `json:"run_id"`
	ProductID             string    `json:"product_id"`
	Currency              string    `json:"currency"`
	CurrentPriceMinor     int64     `json:"current_price_minor"`
	RecommendedPriceMinor int64     `json:"recommended_price_minor"`
	UnitCostMinor         int64     `json:"unit_cost_minor"`
	CompetitorMinMinor    int64     `json:"competitor_min_minor,omitempty"` // 0: none known
	Elasticity            float64   `json:"elasticity"`
	ElasticitySE          float64   `json:"elasticity_se"`
	R2                    float64   `json:"r2"`
	Observations          int       `json:"observations"`
	Controls              []string  `json:"controls"`
	Binding               []string  `json:"binding"`
	OptimumMinor          *float64  `json:"optimum_minor"` // nil: unbounded (inelastic demand)
	Status                string    `json:"status"`
	DecidedBy             string    `json:"decided_by,omitempty"`
	DecidedAt             time.Time `json:"decided_at,omitzero"`
	Note                  string    `json:"note,omitempty"`
	CreatedAt             time.Time `json:"created_at"`
}

// StorePricingRecommendations replaces the proposed recommendations of a
// model version with recs (decided ones are kept as they are) and records
// the lineage, in one transaction: running it twice gives the same rows.
func (db *DB) StorePricingRecommendations(ctx context.Context, version string, recs []PricingRecommendation, lin Lineage) (int, error) {
	var n int
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM pricing_recommendations WHERE model_version = $1 AND status = 'proposed'`, version); err != nil {
			return fmt.Errorf("replace pricing recommendations: %w", err)
		}
		for _, r := range recs {
			var comp *int64
			if r.CompetitorMinMinor > 0 {
				comp = &r.CompetitorMinMinor
			}
			tag, err := tx.Exec(ctx, `
				INSERT INTO pricing_recommendations (model_version, run_id, product_id, currency, current_price_minor,
				       recommended_price_minor, unit_cost_minor, competitor_min_minor, elasticity, elasticity_se, r2,
				       observations, controls, binding, optimum_minor)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
				ON CONFLICT (model_version, product_id) DO NOTHING`,
				version, r.RunID, r.ProductID, r.Currency, r.CurrentPriceMinor, r.RecommendedPriceMinor, r.UnitCostMinor,
				comp, r.Elasticity, r.ElasticitySE, r.R2, r.Observations, nonNil(r.Controls), nonNil(r.Binding), r.OptimumMinor)
			if err != nil {
				return fmt.Errorf("store pricing recommendation for %s: %w", r.ProductID, err)
			}
			n += int(tag.RowsAffected())
		}
		lin.Outputs["pricing_recommendations"] = n
		return recordLineage(ctx, tx, lin)
	})
	return n, err
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// PricingRecommendations returns the recommendations with the status (all
// when empty), newest first.
func (db *DB) PricingRecommendations(ctx context.Context, status string) ([]PricingRecommendation, error) {
	return db.queryPricing(ctx, `WHERE ($1 = '' OR status = $1) ORDER BY created_at DESC, id DESC`, status)
}

func (db *DB) queryPricing(ctx context.Context, where string, args ...any) ([]PricingRecommendation, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT id, model_version, run_id, product_id, currency, current_price_minor, recommended_price_minor,
		       unit_cost_minor, coalesce(competitor_min_minor, 0), elasticity, elasticity_se, r2, observations,
		       controls, binding, optimum_minor, status, coalesce(decided_by, ''), decided_at, note, created_at
		  FROM pricing_recommendations `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read pricing recommendations: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PricingRecommendation, error) {
		var p PricingRecommendation
		var decided *time.Time
		err := r.Scan(&p.ID, &p.ModelVersion, &p.RunID, &p.ProductID, &p.Currency, &p.CurrentPriceMinor,
			&p.RecommendedPriceMinor, &p.UnitCostMinor, &p.CompetitorMinMinor, &p.Elasticity, &p.ElasticitySE,
			&p.R2, &p.Observations, &p.Controls, &p.Binding, &p.OptimumMinor, &p.Status, &p.DecidedBy, &decided,
			&p.Note, &p.CreatedAt)
		p.DecidedAt = utc(decided)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read pricing recommendations: %w", err)
	}
	return out, nil
}

// ErrDecided is returned when a recommendation was already decided otherwise.
var ErrDecided = errors.New("already decided")

// DecidePricingRecommendation approves or rejects a proposed
// recommendation, recording who and why. Deciding it again the same way
// changes nothing; the other way is ErrDecided.
func (db *DB) DecidePricingRecommendation(ctx context.Context, id int64, approve bool, by, note string) (PricingRecommendation, error) {
	if by == "" {
		return PricingRecommendation{}, fmt.Errorf("decide pricing recommendation %d: who decides is required", id)
	}
	want := PriceRejected
	if approve {
		want = PriceApproved
	}
	tag, err := db.Pool.Exec(ctx, `
		UPDATE pricing_recommendations SET status = $2, decided_by = $3, decided_at = now(), note = $4
		 WHERE id = $1 AND status = 'proposed'`, id, want, by, note)
	if err != nil {
		return PricingRecommendation{}, fmt.Errorf("decide pricing recommendation %d: %w", id, err)
	}
	got, err := db.queryPricing(ctx, `WHERE id = $1`, id)
	if err != nil {
		return PricingRecommendation{}, err
	}
	if len(got) == 0 {
		return PricingRecommendation{}, fmt.Errorf("pricing recommendation %d: %w", id, ErrNotFound)
	}
	if tag.RowsAffected() == 0 && got[0].Status != want {
		return got[0], fmt.Errorf("pricing recommendation %d is %s: %w", id, got[0].Status, ErrDecided)
	}
	return got[0], nil
}

// ModelVersionOf returns one version of a model, or ErrNotFound.
func (db *DB) ModelVersionOf(ctx context.Context, model, version string) (ModelVersion, error) {
	ms, err := db.queryModels(ctx, `WHERE model = $1 AND version = $2`, model, version)
	if err != nil {
		return ModelVersion{}, err
	}
	if len(ms) == 0 {
		return ModelVersion{}, fmt.Errorf("model %s/%s: %w", model, version, ErrNotFound)
	}
	return ms[0], nil
}
