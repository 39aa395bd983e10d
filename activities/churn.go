package activities

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/store"
)

// Defaults of the churn and lifetime value fit.
const (
	DefaultChurnHorizonDays  = 90
	DefaultCLVHorizonDays    = 365
	DefaultAnnualDiscount    = 0.10
	DefaultChurnHoldoutDays  = 28
	minChurnHoldoutCustomers = 20
)

// ChurnInput asks for BG/NBD and Gamma-Gamma fits as of a date.
type ChurnInput struct {
	Window
	RunInfo
	// HorizonDays is the horizon of expected purchases (default 90).
	HorizonDays int
	// CLVHorizonDays is the lifetime value's horizon (default 365), in
	// monthly (30-day) periods discounted at AnnualDiscountRate (default 0.10).
	CLVHorizonDays     int
	AnnualDiscountRate float64
	// HoldoutDays is the end of the window held out to check the model's
	// forecast of purchases (default 28; 0 takes the default, -1 skips).
	HoldoutDays int
}

// ChurnResult is what the fit wrote and how good it is.
type ChurnResult struct {
	ModelVersion string
	Skipped      string
	Currency     string
	Customers    int
	Repeaters    int
	BGNBD        analytics.BGNBD
	GammaGamma   analytics.GammaGamma
	// Converged says both maximisations converged with the BG/NBD
	// parameters inside the space (not AtBoundary): only such a fit is
	// promoted.
	Converged  bool
	MeanPAlive float64
	// HoldoutPredicted and HoldoutActual are the purchases (repeat purchase
	// days) a model fitted before the holdout expected of the customers known
	// then, and what they did.
	HoldoutPredicted, HoldoutActual float64
}

// churnSummary is one customer's BG/NBD and spend inputs: purchase days
// (several orders on one day count once, their totals summed), in weeks.
type churnSummary struct {
	ID    string
	RFT   analytics.RFT
	Spend analytics.Spend
}

// churnSummaries summarises each customer's orders before cutoff.
func churnSummaries(orders []store.CustomerOrder, cutoff time.Time) []churnSummary {
	day := func(t time.Time) time.Time { return t.UTC().Truncate(24 * time.Hour) }
	weeks := func(d time.Duration) float64 { return math.Round(d.Hours()/24) / 7 }
	var out []churnSummary
	for lo := 0; lo < len(orders); {
		hi := lo
		for hi < len(orders) && orders[hi].CustomerID == orders[lo].CustomerID {
			hi++
		}
		var days []time.Time
		var totals []int64
		for _, o := range orders[lo:hi] {
			if !o.EventTime.Before(cutoff) {
				continue
			}
			d := day(o.EventTime)
			if n := len(days); n > 0 && days[n-1].Equal(d) {
				totals[n-1] += o.TotalMinor
				continue
			}
			days, totals = append(days, d), append(totals, o.TotalMinor)
		}
		if len(days) > 0 {
			s := churnSummary{ID: orders[lo].CustomerID}
			first, last := days[0], days[len(days)-1]
			s.RFT = analytics.RFT{X: float64(len(days) - 1), Tx: weeks(last.Sub(first)), T: weeks(day(cutoff).Sub(first))}
			if s.RFT.X > 0 {
				var sum int64
				for _, t := range totals[1:] {
					sum += t
				}
				s.Spend = analytics.Spend{X: s.RFT.X, Mean: float64(sum) / s.RFT.X}
			}
			out = append(out, s)
		}
		lo = hi
	}
	return out
}

// fitChurn fits both models on the summaries. Customers whose repeat
// purchases total nothing carry no spend information and are left out of
// the spend fit.
func fitChurn(ss []churnSummary) (analytics.BGNBD, analytics.FitResult, analytics.GammaGamma, analytics.FitResult, error) {
	rft := make([]analytics.RFT, len(ss))
	var spend []analytics.Spend
	for i, s := range ss {
		rft[i] = s.RFT
		if s.Spend.X > 0 && s.Spend.Mean > 0 {
			spend = append(spend, s.Spend)
		}
	}
	m, mf, err := analytics.FitBGNBD(rft)
	if err != nil {
		return m, mf, analytics.GammaGamma{}, analytics.FitResult{}, err
	}
	g, gf, err := analytics.FitGammaGamma(spend)
	return m, mf, g, gf, err
}

// FitChurnLTV fits the BG/NBD model to each customer's repeat purchase days
// (frequency, recency and age in weeks) and the Gamma-Gamma model to their
// repeat spend, scores every customer (P(alive), expected purchases over the
// horizon, expected spend per purchase, discounted lifetime value) and
// replaces the date's churn_scores. It registers the fit as a candidate of
// model "churn", with a holdout check of its forecast in the metrics.
func (a *Customers) FitChurnLTV(ctx context.Context, in ChurnInput) (ChurnResult, error) {
	if err := in.Window.validate(); err != nil {
		return ChurnResult{}, err
	}
	if in.HorizonDays == 0 {
		in.HorizonDays = DefaultChurnHorizonDays
	}
	if in.CLVHorizonDays == 0 {
		in.CLVHorizonDays = DefaultCLVHorizonDays
	}
	if in.AnnualDiscountRate == 0 {
		in.AnnualDiscountRate = DefaultAnnualDiscount
	}
	if in.HoldoutDays == 0 {
		in.HoldoutDays = DefaultChurnHoldoutDays
	}
	switch {
	case in.HorizonDays < 1 || in.HorizonDays > 3660:
		return ChurnResult{}, invalid(fmt.Sprintf("horizon_days: want 1 to 3660, got %d", in.HorizonDays))
	case in.CLVHorizonDays < 1 || in.CLVHorizonDays > 3660:
		return ChurnResult{}, invalid(fmt.Sprintf("clv_horizon_days: want 1 to 3660, got %d", in.CLVHorizonDays))
	case in.AnnualDiscountRate < 0 || in.AnnualDiscountRate > 1:
		return ChurnResult{}, invalid(fmt.Sprintf("annual_discount_rate: want 0 to 1, got %v", in.AnnualDiscountRate))
	case in.HoldoutDays < -1 || in.HoldoutDays >= in.Days:
		return ChurnResult{}, invalid(fmt.Sprintf("holdout_days: want -1 (none) or 1 to window_days-1, got %d", in.HoldoutDays))
	}
	defer a.heartbeat(ctx)()
	started := time.Now()
	from, to := in.Window.bounds()
	cur, err := a.DB.MainCurrency(ctx, from, to)
	if err != nil {
		return ChurnResult{}, err
	}
	orders, err := a.DB.CustomerOrders(ctx, from, to, cur)
	if err != nil {
		return ChurnResult{}, err
	}
	ss := churnSummaries(orders, to)
	res := ChurnResult{Currency: cur, Customers: len(ss)}
	for _, s := range ss {
		if s.Spend.X > 0 && s.Spend.Mean > 0 {
			res.Repeaters++
		}
	}
	if res.Customers < 2 || res.Repeaters < 2 {
		res.Skipped = "too few customers with repeat purchases in the window to fit"
		return res, nil
	}
	m, mf, g, gf, err := fitChurn(ss)
	if err != nil {
		return ChurnResult{}, invalid(fmt.Sprintf("fit churn models: %v", err))
	}
	res.BGNBD, res.GammaGamma, res.Converged = m, g, mf.Converged && gf.Converged && !mf.AtBoundary

	holdout := map[string]any{}
	if in.HoldoutDays > 0 {
		cut := to.AddDate(0, 0, -in.HoldoutDays)
		before := churnSummaries(orders, cut)
		hm, _, _, _, herr := fitChurn(before)
		if herr == nil && len(before) >= minChurnHoldoutCustomers {
			after := map[string]float64{}
			for _, s := range churnSummaries(orders, to) {
				after[s.ID] = s.RFT.X
			}
			for _, s := range before {
				res.HoldoutPredicted += hm.ConditionalExpectedPurchases(float64(in.HoldoutDays)/7, s.RFT)
				res.HoldoutActual += after[s.ID] - s.RFT.X
			}
			holdout = map[string]any{"days": in.HoldoutDays, "customers": len(before),
				"predicted_purchases": res.HoldoutPredicted, "actual_purchases": res.HoldoutActual}
		} else {
			holdout = map[string]any{"days": in.HoldoutDays, "skipped": "too little data before the holdout"}
		}
	}

	periods := int(math.Ceil(float64(in.CLVHorizonDays) / 30))
	periodDays := float64(in.CLVHorizonDays) / float64(periods)
	clvCfg := analytics.CLVConfig{Periods: periods, PeriodLength: periodDays / 7,
		DiscountRate: math.Pow(1+in.AnnualDiscountRate, periodDays/365) - 1}
	scores := make([]store.ChurnScore, len(ss))
	for i, s := range ss {
		spend := s.Spend
		if !(spend.Mean > 0) {
			spend = analytics.Spend{}
		}
		p := m.PAlive(s.RFT)
		res.MeanPAlive += p / float64(len(ss))
		scores[i] = store.ChurnScore{
			CustomerID: s.ID, Frequency: int(s.RFT.X), RecencyWeeks: s.RFT.Tx, AgeWeeks: s.RFT.T,
			PAlive: p, ExpectedPurchases: m.ConditionalExpectedPurchases(float64(in.HorizonDays)/7, s.RFT),
			HorizonDays: in.HorizonDays, ExpectedSpendMinor: g.ExpectedSpend(spend),
			CLVMinor: analytics.CLV(m, g, s.RFT, spend, clvCfg), Currency: cur,
		}
		if bad := firstNonFinite(scores[i].PAlive, scores[i].ExpectedPurchases, scores[i].ExpectedSpendMinor, scores[i].CLVMinor); bad != "" {
			return ChurnResult{}, invalid(fmt.Sprintf("fitted churn model gives a non-finite %s for customer %s (bg/nbd %+v, gamma-gamma %+v)", bad, s.ID, m, g))
		}
	}
	params := map[string]any{
		"window_days": in.Days, "currency": cur, "time_unit": "week",
		"bgnbd":        map[string]float64{"r": m.R, "alpha": m.Alpha, "a": m.A, "b": m.B},
		"gamma_gamma":  map[string]float64{"p": g.P, "q": g.Q, "v": g.V},
		"horizon_days": in.HorizonDays, "clv_horizon_days": in.CLVHorizonDays, "annual_discount_rate": in.AnnualDiscountRate,
	}
	version, err := modelVersion(to, "bgnbd-gg", params, ss)
	if err != nil {
		return ChurnResult{}, err
	}
	res.ModelVersion = version
	err = a.DB.ReplaceChurnScores(ctx, store.ModelRun{AsOf: to, ModelVersion: version, Lineage: store.Lineage{
		RunID: in.RunID, Workflow: in.Workflow, Step: "churn-ltv", Started: started,
		Inputs: map[string]any{"tables": []string{"orders", "order_cancellations"}, "from": from, "to": to,
			"currency": cur, "orders": len(orders), "params": params},
	}}, scores)
	if err != nil {
		return ChurnResult{}, err
	}
	metrics := map[string]any{
		"customers": res.Customers, "repeaters": res.Repeaters, "mean_p_alive": res.MeanPAlive,
		"bgnbd_log_likelihood": mf.LogLikelihood, "bgnbd_converged": mf.Converged, "bgnbd_at_boundary": mf.AtBoundary,
		"gamma_gamma_log_likelihood": gf.LogLikelihood, "gamma_gamma_converged": gf.Converged, "gamma_gamma_at_boundary": gf.AtBoundary,
		"holdout": holdout,
	}
	if err := a.register(ctx, ModelChurn, version, "bgnbd-gamma-gamma", in.Window, in.RunInfo, params, metrics); err != nil {
		return ChurnResult{}, err
	}
	return res, nil
}

func firstNonFinite(vs ...float64) string {
	names := []string{"p_alive", "expected_purchases", "expected_spend", "clv"}
	for i, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return names[i]
		}
	}
	return ""
}
