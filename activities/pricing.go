package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/store"
)

// Registered names of the pricing activities (never rename).
const (
	NameFitPriceElasticities = "FitPriceElasticities"
	NameRecommendPrices      = "RecommendPrices"
)

// ModelPricing is the pricing model's name in the registry.
const ModelPricing = "pricing"

// PricingPolicy tunes the pricing model and its guardrails. Zero fields
// take DefaultPricingPolicy's (config `pricing` sets them for the worker).
type PricingPolicy struct {
	// HistoryDays of daily sales the elasticities are fitted on.
	HistoryDays int `json:"history_days,omitempty"`
	// MinObservations is the fewest days with sales to fit a product.
	MinObservations int `json:"min_observations,omitempty"`
	// PromoDepth: a day's price more than this fraction below the highest
	// price within PromoWindowDays either side counts as a promotion.
	PromoDepth      float64 `json:"promo_depth,omitempty"`
	PromoWindowDays int     `json:"promo_window_days,omitempty"`
	// CompetitorMaxAge: competitor prices older than this are ignored.
	CompetitorMaxAge Duration `json:"competitor_max_age,omitempty"`
	MinMargin        float64  `json:"min_margin,omitempty"`
	MaxStep          float64  `json:"max_step,omitempty"`
	// MaxAboveCompetitor: never above the cheapest competitor by more than
	// this fraction.
	MaxAboveCompetitor float64 `json:"max_above_competitor,omitempty"`
}

// DefaultPricingPolicy is the policy without configuration.
func DefaultPricingPolicy() PricingPolicy {
	return PricingPolicy{
		HistoryDays: 90, MinObservations: 21, PromoDepth: 0.1, PromoWindowDays: 7,
		CompetitorMaxAge: Duration(7 * 24 * time.Hour), MinMargin: 0.15, MaxStep: 0.1, MaxAboveCompetitor: 0.05,
	}
}

// Or returns p with its zero fields taken from d.
func (p PricingPolicy) Or(d PricingPolicy) PricingPolicy {
	for _, f := range []struct{ a, b *int }{{&p.HistoryDays, &d.HistoryDays}, {&p.MinObservations, &d.MinObservations}, {&p.PromoWindowDays, &d.PromoWindowDays}} {
		if *f.a == 0 {
			*f.a = *f.b
		}
	}
	for _, f := range []struct{ a, b *float64 }{{&p.PromoDepth, &d.PromoDepth}, {&p.MinMargin, &d.MinMargin}, {&p.MaxStep, &d.MaxStep}, {&p.MaxAboveCompetitor, &d.MaxAboveCompetitor}} {
		if *f.a == 0 {
			*f.a = *f.b
		}
	}
	if p.CompetitorMaxAge == 0 {
		p.CompetitorMaxAge = d.CompetitorMaxAge
	}
	return p
}

// Guardrails are the policy's price guardrails.
func (p PricingPolicy) Guardrails() analytics.PriceGuardrails {
	return analytics.PriceGuardrails{MinMargin: p.MinMargin, MaxStep: p.MaxStep, MaxAboveCompetitor: p.MaxAboveCompetitor}
}

// Validate checks a complete policy.
func (p PricingPolicy) Validate() error {
	switch {
	case p.HistoryDays < 7 || p.HistoryDays > 3660:
		return fmt.Errorf("history_days %d: want 7 to 3660", p.HistoryDays)
	case p.MinObservations < 5:
		return fmt.Errorf("min_observations %d: want at least 5", p.MinObservations)
	case !(p.PromoDepth > 0 && p.PromoDepth < 1):
		return fmt.Errorf("promo_depth %v: want 0 < depth < 1", p.PromoDepth)
	case p.PromoWindowDays < 1:
		return fmt.Errorf("promo_window_days %d: want at least 1", p.PromoWindowDays)
	case p.CompetitorMaxAge < Duration(time.Hour):
		return fmt.Errorf("competitor_max_age %v: want at least 1h", time.Duration(p.CompetitorMaxAge))
	}
	return p.Guardrails().Validate()
}

// Pricing fits price elasticities and recommends prices.
type Pricing struct {
	DB *store.DB
	// Policy is the configured policy; a run's input overrides its fields.
	Policy PricingPolicy
}

// FitInput is one fit: the days before AsOf's UTC day.
type FitInput struct {
	AsOf            time.Time
	Policy          PricingPolicy
	RunID, Workflow string
}

// ProductFit is one product's elasticity and the price it sells at now.
type ProductFit struct {
	analytics.ElasticityFit
	Currency string `json:"currency"`
	// CurrentPriceMinor is the latest day's average price that was not a
	// promotion (the latest day's when all were).
	CurrentPriceMinor int64 `json:"current_price_minor"`
}

// PricingModel is the registered pricing model's params.
type PricingModel struct {
	From     time.Time             `json:"from"`
	To       time.Time             `json:"to"`
	Policy   PricingPolicy         `json:"policy"`
	Products map[string]ProductFit `json:"products"`
}

// FitResult names the registered model version and what went into it.
type FitResult struct {
	Version  string
	Products int
	Fitted   int
	Skipped  map[string]int // reason -> products
}

// PricingModelVersion is the version of the pricing model a run registers.
func PricingModelVersion(asOf time.Time, runID string) string {
	return "pricing-" + asOf.UTC().Format("20060102") + "-" + runID[:min(8, len(runID))]
}

// FitPriceElasticities fits each product's price elasticity on its daily
// sales (log-log OLS with promotion and weekday controls where the data
// allow) and registers the fits as one version of the pricing model, with
// its metrics, active. The version is derived from the run, so a retry
// registers nothing new.
func (a *Pricing) FitPriceElasticities(ctx context.Context, in FitInput) (FitResult, error) {
	p := in.Policy.Or(a.Policy).Or(DefaultPricingPolicy())
	if err := p.Validate(); err != nil {
		return FitResult{}, invalidInput(fmt.Errorf("pricing policy: %w", err))
	}
	if in.RunID == "" || in.AsOf.IsZero() {
		return FitResult{}, invalidInput(errors.New("fit price elasticities: run id and as-of time are required"))
	}
	to := in.AsOf.UTC().Truncate(24 * time.Hour)
	from := to.AddDate(0, 0, -p.HistoryDays)
	days, err := a.DB.DailyPrices(ctx, from, to)
	if err != nil {
		return FitResult{}, err
	}
	model, res := FitPricingModel(days, p)
	model.From, model.To = from, to
	res.Version = PricingModelVersion(in.AsOf, in.RunID)
	var es, r2s []float64
	elastic, significant := 0, 0
	for _, f := range model.Products {
		es = append(es, f.Elasticity)
		r2s = append(r2s, f.R2)
		if f.Elasticity < -1 {
			elastic++
		}
		if f.Elasticity+2*f.StdErr < 0 {
			significant++
		}
	}
	metrics := map[string]any{"products": res.Products, "fitted": res.Fitted, "skipped": res.Skipped}
	if len(es) > 0 {
		slices.Sort(es)
		metrics["median_elasticity"] = es[len(es)/2]
		metrics["mean_r2"] = mean(r2s)
		metrics["share_elastic"] = float64(elastic) / float64(len(es))
		metrics["share_significant"] = float64(significant) / float64(len(es))
	}
	params, err := json.Marshal(model)
	if err != nil {
		return FitResult{}, fmt.Errorf("pricing model params: %w", err)
	}
	mj, err := json.Marshal(metrics)
	if err != nil {
		return FitResult{}, fmt.Errorf("pricing model metrics: %w", err)
	}
	status := store.ModelCandidate
	if res.Fitted > 0 {
		status = store.ModelActive
	}
	if err := a.DB.RegisterModel(ctx, store.ModelVersion{
		Model: ModelPricing, Version: res.Version, Algorithm: "loglog-ols", Status: status,
		TrainFrom: from, TrainTo: to, Params: params, Metrics: mj,
		TrainedBy: in.Workflow + "/" + in.RunID, PromotedBy: in.Workflow + "/" + in.RunID,
	}); err != nil {
		return FitResult{}, err
	}
	if err := a.DB.RecordLineage(ctx, store.Lineage{
		RunID: in.RunID, Workflow: in.Workflow, Step: "fit-elasticities", Started: time.Now().UTC(),
		Inputs:  map[string]any{"tables": []string{"order_lines", "orders"}, "from": from, "to": to, "policy": p},
		Outputs: map[string]any{"tables": []string{"model_registry"}, "model": ModelPricing, "version": res.Version, "metrics": metrics},
	}); err != nil {
		return FitResult{}, err
	}
	return res, nil
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// FitPricingModel fits every product of days (sorted by product, currency
// and day) in the currency it sold most days in.
func FitPricingModel(days []store.PriceDay, p PricingPolicy) (PricingModel, FitResult) {
	model := PricingModel{Policy: p, Products: map[string]ProductFit{}}
	res := FitResult{Skipped: map[string]int{}}
	type series struct {
		currency string
		obs      []analytics.PriceObservation
	}
	best := map[string]series{}
	var order []string
	for i := 0; i < len(days); {
		j := i
		for j < len(days) && days[j].ProductID == days[i].ProductID && days[j].Currency == days[i].Currency {
			j++
		}
		s := series{currency: days[i].Currency}
		for _, d := range days[i:j] {
			s.obs = append(s.obs, analytics.PriceObservation{Day: d.Day, Quantity: float64(d.Units), Price: float64(d.RevenueMinor) / float64(d.Units)})
		}
		if cur, ok := best[days[i].ProductID]; !ok {
			order = append(order, days[i].ProductID)
			best[days[i].ProductID] = s
		} else if len(s.obs) > len(cur.obs) {
			best[days[i].ProductID] = s
		}
		i = j
	}
	res.Products = len(order)
	for _, pid := range order {
		s := best[pid]
		analytics.FlagPromotions(s.obs, p.PromoDepth, p.PromoWindowDays)
		fit, err := analytics.FitElasticity(s.obs, analytics.ElasticityConfig{MinObservations: p.MinObservations})
		switch {
		case errors.Is(err, analytics.ErrNoPriceVariation):
			res.Skipped["no_price_variation"]++
			continue
		case errors.Is(err, analytics.ErrCollinear):
			res.Skipped["collinear"]++
			continue
		case err != nil:
			res.Skipped["too_few_days"]++
			continue
		}
		cur := s.obs[len(s.obs)-1].Price
		for k := len(s.obs) - 1; k >= 0; k-- {
			if !s.obs[k].Promo {
				cur = s.obs[k].Price
				break
			}
		}
		model.Products[pid] = ProductFit{ElasticityFit: fit, Currency: s.currency, CurrentPriceMinor: int64(math.Round(cur))}
		res.Fitted++
	}
	return model, res
}

// RecommendInput names the model version to recommend from.
type RecommendInput struct {
	Version         string
	AsOf            time.Time
	Policy          PricingPolicy
	RunID, Workflow string
}

// RecommendResult counts the recommendations stored and the products left out.
type RecommendResult struct {
	Recommended int
	Unchanged   int
	Skipped     map[string]int
}

// RecommendPrices reads a pricing model version, each product's unit cost
// (latest receipt) and the cheapest competitor's latest price, and stores a
// proposed price for every product whose recommended price differs from the
// current one, within the guardrails (analytics.RecommendPrice), replacing
// the version's earlier proposals, with lineage. Nothing is applied:
// proposals wait for a person's approval.
func (a *Pricing) RecommendPrices(ctx context.Context, in RecommendInput) (RecommendResult, error) {
	p := in.Policy.Or(a.Policy).Or(DefaultPricingPolicy())
	if err := p.Validate(); err != nil {
		return RecommendResult{}, invalidInput(fmt.Errorf("pricing policy: %w", err))
	}
	mv, err := a.DB.ModelVersionOf(ctx, ModelPricing, in.Version)
	if errors.Is(err, store.ErrNotFound) {
		return RecommendResult{}, invalidInput(err)
	}
	if err != nil {
		return RecommendResult{}, err
	}
	var model PricingModel
	if err := json.Unmarshal(mv.Params, &model); err != nil {
		return RecommendResult{}, invalidInput(fmt.Errorf("pricing model %s params: %w", in.Version, err))
	}
	products := make([]string, 0, len(model.Products))
	for pid := range model.Products {
		products = append(products, pid)
	}
	slices.Sort(products)
	costs, err := a.DB.ProductCosts(ctx, products)
	if err != nil {
		return RecommendResult{}, err
	}
	asOf := in.AsOf.UTC()
	comps, err := a.DB.CompetitorMinPrices(ctx, products, asOf.Add(-time.Duration(p.CompetitorMaxAge)), asOf)
	if err != nil {
		return RecommendResult{}, err
	}
	res := RecommendResult{Skipped: map[string]int{}}
	var recs []store.PricingRecommendation
	for _, pid := range products {
		f := model.Products[pid]
		cost, ok := costs[pid]
		if !ok || cost.Currency != f.Currency {
			res.Skipped["no_cost"]++
			continue
		}
		if f.Elasticity >= 0 {
			res.Skipped["elasticity_not_negative"]++
			continue
		}
		comp := comps[pid][f.Currency]
		rec, err := analytics.RecommendPrice(analytics.PriceInputs{
			CurrentMinor: f.CurrentPriceMinor, CostMinor: cost.Minor, CompetitorMinor: comp, Elasticity: f.Elasticity,
		}, p.Guardrails())
		if err != nil {
			res.Skipped["invalid_inputs"]++
			continue
		}
		if rec.PriceMinor == f.CurrentPriceMinor || rec.PriceMinor <= 0 {
			res.Unchanged++
			continue
		}
		var opt *float64
		if !math.IsInf(rec.Optimum, 0) {
			o := rec.Optimum
			opt = &o
		}
		recs = append(recs, store.PricingRecommendation{
			ModelVersion: in.Version, RunID: in.RunID, ProductID: pid, Currency: f.Currency,
			CurrentPriceMinor: f.CurrentPriceMinor, RecommendedPriceMinor: rec.PriceMinor, UnitCostMinor: cost.Minor,
			CompetitorMinMinor: comp, Elasticity: f.Elasticity, ElasticitySE: f.StdErr, R2: f.R2,
			Observations: f.N, Controls: f.Controls, Binding: rec.Binding, OptimumMinor: opt,
		})
	}
	n, err := a.DB.StorePricingRecommendations(ctx, in.Version, recs, store.Lineage{
		RunID: in.RunID, Workflow: in.Workflow, Step: "recommend-prices", Started: time.Now().UTC(),
		Inputs: map[string]any{
			"tables": []string{"model_registry", "inventory_movements", "competitor_prices"},
			"model":  ModelPricing, "version": in.Version, "guardrails": p.Guardrails(),
			"competitor_since": asOf.Add(-time.Duration(p.CompetitorMaxAge)), "as_of": asOf,
		},
		Outputs: map[string]any{"tables": []string{"pricing_recommendations"}, "unchanged": res.Unchanged, "skipped": res.Skipped},
	})
	res.Recommended = n
	return res, err
}
