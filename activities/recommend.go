package activities

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/store"
)

// Defaults of the recommendations.
const (
	DefaultRecommendationsK           = 10
	DefaultRecommendationsHoldoutDays = 7
)

// RecommendationsInput asks for item-to-item recommendations as of a date.
type RecommendationsInput struct {
	Window
	RunInfo
	// K is how many similar products per product and recommendations per
	// customer to store, and the k of the holdout's hit rate (default 10).
	K int
	// HoldoutDays is the end of the window the evaluation holds out
	// (default 7).
	HoldoutDays int
	// ViewWeight is a view's weight against a purchase's 1 (default 0.3).
	ViewWeight float64
}

// RecommendationsResult is what was written and the holdout's figures.
type RecommendationsResult struct {
	ModelVersion string
	Skipped      string
	Products     int
	Customers    int
	Similarities int
	// Holdout: users evaluated, and hit rate at K of the filter and of the
	// popularity baseline.
	EvaluatedUsers    int
	HitRate           float64
	PopularityHitRate float64
}

// BuildRecommendations evaluates the item-to-item filter on a time-based
// holdout (trained before the last HoldoutDays, hit rate at K on the
// purchases after, against the K most popular products), then trains it on
// the whole window and replaces the date's product_similarities and
// customer_recommendations. It registers the model as a candidate of model
// "recommendations" with both hit rates.
func (a *Customers) BuildRecommendations(ctx context.Context, in RecommendationsInput) (RecommendationsResult, error) {
	if err := in.Window.validate(); err != nil {
		return RecommendationsResult{}, err
	}
	if in.K == 0 {
		in.K = DefaultRecommendationsK
	}
	if in.HoldoutDays == 0 {
		in.HoldoutDays = DefaultRecommendationsHoldoutDays
	}
	cfg := analytics.DefaultCFConfig
	if in.ViewWeight != 0 {
		cfg.ViewWeight = in.ViewWeight
	}
	switch {
	case in.K < 1 || in.K > 100:
		return RecommendationsResult{}, invalid(fmt.Sprintf("k: want 1 to 100, got %d", in.K))
	case in.HoldoutDays < 1 || in.HoldoutDays >= in.Days:
		return RecommendationsResult{}, invalid(fmt.Sprintf("holdout_days: want 1 to window_days-1, got %d", in.HoldoutDays))
	case cfg.ViewWeight < 0 || cfg.ViewWeight > 1:
		return RecommendationsResult{}, invalid(fmt.Sprintf("view_weight: want 0 to 1, got %v", cfg.ViewWeight))
	}
	defer a.heartbeat(ctx)()
	started := time.Now()
	from, to := in.Window.bounds()
	rows, err := a.DB.ProductInteractions(ctx, from, to)
	if err != nil {
		return RecommendationsResult{}, err
	}
	cut := to.AddDate(0, 0, -in.HoldoutDays)
	all := make([]analytics.Interaction, len(rows))
	var train, test []analytics.Interaction
	customers := map[string]bool{}
	purchases := 0
	for i, r := range rows {
		all[i] = analytics.Interaction{User: r.User, Item: r.ProductID, Purchase: r.Purchase}
		if r.At.Before(cut) {
			train = append(train, all[i])
		} else {
			test = append(test, all[i])
		}
		if r.Customer {
			customers[r.User] = true
		}
		if r.Purchase {
			purchases++
		}
	}
	if purchases == 0 {
		return RecommendationsResult{Skipped: "no purchases in the window"}, nil
	}
	eval, err := analytics.EvaluateHoldout(train, test, cfg, in.K)
	if err != nil {
		return RecommendationsResult{}, invalid(err.Error())
	}
	model := analytics.TrainItemCF(all, cfg)
	hist, bought := analytics.Histories(all, cfg)

	products := make([]string, 0, len(model.Similar))
	for p := range model.Similar {
		products = append(products, p)
	}
	sort.Strings(products)
	var sims []store.ProductSimilarity
	for _, p := range products {
		for i, s := range model.Similar[p] {
			if i == in.K {
				break
			}
			sims = append(sims, store.ProductSimilarity{ProductID: p, Rank: i + 1, SimilarProductID: s.Item, Score: s.Score})
		}
	}
	ids := make([]string, 0, len(customers))
	for c := range customers {
		ids = append(ids, c)
	}
	sort.Strings(ids)
	var recs []store.CustomerRecommendation
	for _, c := range ids {
		for i, r := range model.Recommend(hist[c], bought[c], in.K) {
			recs = append(recs, store.CustomerRecommendation{CustomerID: c, Rank: i + 1, ProductID: r.Item, Score: r.Score, Source: r.Source})
		}
	}
	params := map[string]any{
		"window_days": in.Days, "k": in.K, "holdout_days": in.HoldoutDays,
		"view_weight": cfg.ViewWeight, "neighbours": cfg.Neighbours, "max_items_per_user": cfg.MaxItemsPerUser,
		"similarity": "cosine", "signals": []string{"order_lines", "product_view", "add_to_cart"},
	}
	version, err := modelVersion(to, "itemcf", params, sims, recs)
	if err != nil {
		return RecommendationsResult{}, err
	}
	res := RecommendationsResult{
		ModelVersion: version, Products: len(products), Customers: len(ids), Similarities: len(sims),
		EvaluatedUsers: eval.Users, HitRate: eval.HitRate, PopularityHitRate: eval.PopularityHitRate,
	}
	err = a.DB.ReplaceRecommendations(ctx, store.ModelRun{AsOf: to, ModelVersion: version, Lineage: store.Lineage{
		RunID: in.RunID, Workflow: in.Workflow, Step: "recommendations", Started: started,
		Inputs: map[string]any{"tables": []string{"orders", "order_lines", "order_cancellations", "clickstream_events"},
			"from": from, "to": to, "holdout_from": cut, "interactions": len(rows), "params": params},
	}}, sims, recs)
	if err != nil {
		return RecommendationsResult{}, err
	}
	metrics := map[string]any{
		"hit_rate_at_k": eval.HitRate, "popularity_hit_rate_at_k": eval.PopularityHitRate, "k": in.K,
		"evaluated_users": eval.Users, "holdout_days": in.HoldoutDays,
		"products": len(products), "customers": len(ids), "users": model.Users,
	}
	if err := a.register(ctx, ModelRecommendations, version, "item-cosine", in.Window, in.RunInfo, params, metrics); err != nil {
		return RecommendationsResult{}, err
	}
	return res, nil
}
