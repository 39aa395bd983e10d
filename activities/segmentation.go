package activities

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/store"
)

// CustomerFeaturesInput asks for RFM and k-means segmentation as of a date.
type CustomerFeaturesInput struct {
	Window
	RunInfo
	KMin, KMax int
	Seed       uint64
}

// CustomerFeaturesResult is what the segmentation wrote and how good it is.
// Skipped says why nothing was written (too few customers).
type CustomerFeaturesResult struct {
	ModelVersion string
	Skipped      string
	Currency     string
	Customers    int
	K            int
	Silhouette   float64
	// Segments counts customers per RFM segment.
	Segments map[string]int
}

// segmentationFeatures are the k-means features, in order.
var segmentationFeatures = []string{"log1p_recency_days", "log1p_orders", "log1p_monetary_minor"}

// ComputeCustomerFeatures computes each customer's RFM (recency in days
// before the as-of date, orders and spend in the window, quintile scores
// and named segment), clusters the customers with k-means on the
// standardised log features, k chosen by silhouette over [KMin, KMax], and
// replaces the date's customer_features and customer_segments. It registers
// the segmentation as a candidate of model "segmentation".
func (a *Customers) ComputeCustomerFeatures(ctx context.Context, in CustomerFeaturesInput) (CustomerFeaturesResult, error) {
	if err := in.Window.validate(); err != nil {
		return CustomerFeaturesResult{}, err
	}
	cfg := analytics.DefaultSegmentationConfig
	if in.KMin != 0 {
		cfg.KMin = in.KMin
	}
	if in.KMax != 0 {
		cfg.KMax = in.KMax
	}
	if in.Seed != 0 {
		cfg.Seed = in.Seed
	}
	if cfg.KMin < 2 || cfg.KMax < cfg.KMin || cfg.KMax > 20 {
		return CustomerFeaturesResult{}, invalid("k_min and k_max: want 2 <= k_min <= k_max <= 20")
	}
	defer a.heartbeat(ctx)()
	started := time.Now()
	from, to := in.Window.bounds()
	cur, err := a.DB.MainCurrency(ctx, from, to)
	if err != nil {
		return CustomerFeaturesResult{}, err
	}
	orders, err := a.DB.CustomerOrders(ctx, from, to, cur)
	if err != nil {
		return CustomerFeaturesResult{}, err
	}
	hs, fs := customerHistories(orders, to, cur)
	res := CustomerFeaturesResult{Currency: cur, Customers: len(hs), Segments: map[string]int{}}
	if len(hs) < cfg.KMin+1 {
		res.Skipped = "too few customers with orders in the window to segment"
		return res, nil
	}
	rfm := analytics.ScoreRFM(hs)
	x := make([][]float64, len(hs))
	for i, h := range hs {
		x[i] = []float64{math.Log1p(h.RecencyDays), math.Log1p(float64(h.Frequency)), math.Log1p(h.Monetary)}
	}
	seg, err := analytics.Segment(x, cfg)
	if err != nil {
		return CustomerFeaturesResult{}, invalid(err.Error())
	}
	for i := range fs {
		r := rfm[i]
		fs[i].RScore, fs[i].FScore, fs[i].MScore = r.R, r.F, r.M
		fs[i].RFM, fs[i].Segment, fs[i].Cluster = r.Code(), r.Segment, seg.Labels[i]
		res.Segments[r.Segment]++
	}
	segs := clusterProfiles(fs, seg)
	params := map[string]any{
		"window_days": in.Days, "currency": cur, "features": segmentationFeatures,
		"k": seg.K, "k_min": cfg.KMin, "k_max": cfg.KMax, "seed": cfg.Seed, "restarts": cfg.Restarts,
		"mean": seg.Mean, "sd": seg.SD, "centroids": seg.Centroids,
	}
	version, err := modelVersion(to, "kmeans", params, fs)
	if err != nil {
		return CustomerFeaturesResult{}, err
	}
	res.ModelVersion, res.K, res.Silhouette = version, seg.K, seg.Silhouette
	err = a.DB.ReplaceCustomerFeatures(ctx, store.ModelRun{AsOf: to, ModelVersion: version, Lineage: store.Lineage{
		RunID: in.RunID, Workflow: in.Workflow, Step: "customer-features", Started: started,
		Inputs: map[string]any{"tables": []string{"orders", "order_cancellations"}, "from": from, "to": to,
			"currency": cur, "orders": len(orders), "params": params},
	}}, fs, segs)
	if err != nil {
		return CustomerFeaturesResult{}, err
	}
	metrics := map[string]any{
		"customers": len(hs), "k": seg.K, "silhouette": seg.Silhouette, "silhouettes": seg.Silhouettes,
		"inertia": seg.Inertia, "cluster_sizes": seg.Sizes, "rfm_segments": res.Segments,
	}
	if err := a.register(ctx, ModelSegmentation, version, "rfm-kmeans", in.Window, in.RunInfo, params, metrics); err != nil {
		return CustomerFeaturesResult{}, err
	}
	return res, nil
}

// customerHistories turns orders (grouped by customer, in time order) into
// RFM inputs and the feature rows to fill in, in customer order.
func customerHistories(orders []store.CustomerOrder, asOf time.Time, currency string) ([]analytics.CustomerHistory, []store.CustomerFeature) {
	var hs []analytics.CustomerHistory
	var fs []store.CustomerFeature
	for lo := 0; lo < len(orders); {
		hi := lo
		var sum int64
		for hi < len(orders) && orders[hi].CustomerID == orders[lo].CustomerID {
			sum += orders[hi].TotalMinor
			hi++
		}
		first, last := orders[lo].EventTime, orders[hi-1].EventTime
		rec := asOf.Sub(last).Hours() / 24
		hs = append(hs, analytics.CustomerHistory{CustomerID: orders[lo].CustomerID, RecencyDays: rec, Frequency: hi - lo, Monetary: float64(sum)})
		fs = append(fs, store.CustomerFeature{CustomerID: orders[lo].CustomerID, FirstOrderAt: first, LastOrderAt: last,
			RecencyDays: rec, Orders: int64(hi - lo), MonetaryMinor: sum, Currency: currency})
		lo = hi
	}
	return hs, fs
}

// clusterProfiles describes each cluster: size, mean raw features, centroid
// and its most common RFM segment (ties by name).
func clusterProfiles(fs []store.CustomerFeature, seg analytics.Segmentation) []store.CustomerSegment {
	out := make([]store.CustomerSegment, seg.K)
	counts := make([]map[string]int, seg.K)
	for c := range out {
		out[c] = store.CustomerSegment{Cluster: c, Centroid: seg.Centroids[c]}
		counts[c] = map[string]int{}
	}
	for _, f := range fs {
		s := &out[f.Cluster]
		s.Customers++
		s.MeanRecencyDays += f.RecencyDays
		s.MeanOrders += float64(f.Orders)
		s.MeanMonetaryMinor += float64(f.MonetaryMinor)
		counts[f.Cluster][f.Segment]++
	}
	for c := range out {
		s := &out[c]
		if s.Customers > 0 {
			n := float64(s.Customers)
			s.MeanRecencyDays, s.MeanOrders, s.MeanMonetaryMinor = s.MeanRecencyDays/n, s.MeanOrders/n, s.MeanMonetaryMinor/n
		}
		names := make([]string, 0, len(counts[c]))
		for name := range counts[c] {
			names = append(names, name)
		}
		sort.Slice(names, func(i, j int) bool {
			if counts[c][names[i]] != counts[c][names[j]] {
				return counts[c][names[i]] > counts[c][names[j]]
			}
			return names[i] < names[j]
		})
		if len(names) > 0 {
			s.TopSegment = names[0]
		}
	}
	return out
}
