package analytics

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// PriceObservation is one product's sales on one day at one (average) price.
type PriceObservation struct {
	Day      time.Time // the UTC day
	Quantity float64   // units sold, > 0 (days without sales carry no price)
	Price    float64   // average unit price paid, in minor units, > 0
	Promo    bool      // sold on promotion (see FlagPromotions)
}

// ErrNoPriceVariation is returned by FitElasticity when the prices barely
// move, so the data say nothing about elasticity.
var ErrNoPriceVariation = errors.New("no price variation")

// ElasticityConfig tunes FitElasticity.
type ElasticityConfig struct {
	// MinObservations is the fewest days with sales to fit; default 14.
	MinObservations int
	// MinLogPriceSD is the smallest standard deviation of ln(price) to fit
	// (default 0.01, about 1% price moves).
	MinLogPriceSD float64
	// ControlDOF is the residual degrees of freedom a control set must
	// leave to be used; default 8.
	ControlDOF int
}

func (c ElasticityConfig) withDefaults() ElasticityConfig {
	if c.MinObservations <= 0 {
		c.MinObservations = 14
	}
	if c.MinLogPriceSD <= 0 {
		c.MinLogPriceSD = 0.01
	}
	if c.ControlDOF <= 0 {
		c.ControlDOF = 8
	}
	return c
}

// Controls FitElasticity may include beside ln(price).
const (
	ControlPromo     = "promo"
	ControlDayOfWeek = "day_of_week"
)

// ElasticityFit is the log-log regression
// ln q = a + e ln p [+ g promo] [+ day-of-week effects].
type ElasticityFit struct {
	Elasticity  float64  `json:"elasticity"` // e: % change in quantity per % change in price
	StdErr      float64  `json:"std_err"`
	Intercept   float64  `json:"intercept"`
	PromoEffect float64  `json:"promo_effect,omitempty"` // g, when the promo control is in
	R2          float64  `json:"r2"`
	N           int      `json:"n"`
	Controls    []string `json:"controls"`
}

// FitElasticity regresses ln(quantity) on ln(price) by OLS, with the
// controls the data allow: a promotion dummy (when some days are on
// promotion and some not) and day-of-week dummies (Monday the base), tried
// together, then each alone, then none; a set is used when it leaves
// ControlDOF residual degrees of freedom and is not collinear with price
// (a promotion that is the only source of price variation, say).
func FitElasticity(obs []PriceObservation, cfg ElasticityConfig) (ElasticityFit, error) {
	cfg = cfg.withDefaults()
	if len(obs) < cfg.MinObservations {
		return ElasticityFit{}, fmt.Errorf("elasticity: %d days with sales, want at least %d", len(obs), cfg.MinObservations)
	}
	lq, lp := make([]float64, len(obs)), make([]float64, len(obs))
	promos := 0
	var mean float64
	for i, o := range obs {
		if !(o.Quantity > 0 && o.Price > 0) || math.IsInf(o.Quantity, 0) || math.IsInf(o.Price, 0) {
			return ElasticityFit{}, fmt.Errorf("elasticity: observation %d has quantity %v and price %v, want both positive", i, o.Quantity, o.Price)
		}
		lq[i], lp[i] = math.Log(o.Quantity), math.Log(o.Price)
		mean += lp[i]
		if o.Promo {
			promos++
		}
	}
	mean /= float64(len(obs))
	var ss float64
	for _, v := range lp {
		ss += (v - mean) * (v - mean)
	}
	if sd := math.Sqrt(ss / float64(len(obs)-1)); sd < cfg.MinLogPriceSD {
		return ElasticityFit{}, fmt.Errorf("elasticity: sd of ln(price) %.4f below %.4f: %w", sd, cfg.MinLogPriceSD, ErrNoPriceVariation)
	}
	days := map[time.Weekday]bool{}
	for _, o := range obs {
		days[o.Day.Weekday()] = true
	}
	var candidates [][]string
	usePromo := promos > 0 && promos < len(obs)
	useDOW := len(days) == 7
	if usePromo && useDOW {
		candidates = append(candidates, []string{ControlPromo, ControlDayOfWeek})
	}
	if useDOW {
		candidates = append(candidates, []string{ControlDayOfWeek})
	}
	if usePromo {
		candidates = append(candidates, []string{ControlPromo})
	}
	candidates = append(candidates, nil)
	var lastErr error
	for _, controls := range candidates {
		k := 2
		for _, c := range controls {
			if c == ControlPromo {
				k++
			} else {
				k += 6
			}
		}
		if len(obs)-k < cfg.ControlDOF && controls != nil {
			continue
		}
		x := make([][]float64, len(obs))
		for i, o := range obs {
			row := make([]float64, 0, k)
			row = append(row, 1, lp[i])
			for _, c := range controls {
				switch c {
				case ControlPromo:
					row = append(row, b2f(o.Promo))
				case ControlDayOfWeek:
					wd := o.Day.Weekday()
					for _, d := range []time.Weekday{time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday} {
						row = append(row, b2f(wd == d))
					}
				}
			}
			x[i] = row
		}
		fit, err := OLS(x, lq)
		if err != nil {
			lastErr = err
			continue
		}
		out := ElasticityFit{
			Elasticity: fit.Coef[1], StdErr: fit.StdErr[1], Intercept: fit.Coef[0],
			R2: fit.R2, N: fit.N, Controls: append([]string{}, controls...),
		}
		if len(controls) > 0 && controls[0] == ControlPromo {
			out.PromoEffect = fit.Coef[2]
		}
		return out, nil
	}
	return ElasticityFit{}, fmt.Errorf("elasticity: %w", lastErr)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// FlagPromotions marks the observations whose price is more than depth
// (a fraction, such as 0.1) below the highest price within window days
// either side: a temporary cut against the local list price, when sales
// data are the only record of prices. A lasting repricing is a promotion
// only where it is deeper than depth and within the window of the old price.
func FlagPromotions(obs []PriceObservation, depth float64, window int) {
	span := time.Duration(window) * 24 * time.Hour
	for i := range obs {
		var top float64
		for _, o := range obs {
			if d := o.Day.Sub(obs[i].Day); d >= -span && d <= span {
				top = math.Max(top, o.Price)
			}
		}
		obs[i].Promo = obs[i].Price < top*(1-depth)
	}
}

// PriceGuardrails bound a recommended price.
type PriceGuardrails struct {
	// MinMargin is the smallest (price - cost) / price, such as 0.15.
	MinMargin float64 `json:"min_margin"`
	// MaxStep is the largest relative change from the current price in one
	// recommendation, such as 0.10.
	MaxStep float64 `json:"max_step"`
	// MaxAboveCompetitor: never recommend above the cheapest competitor's
	// price times 1 + MaxAboveCompetitor (0.05: at most 5% above).
	MaxAboveCompetitor float64 `json:"max_above_competitor"`
}

// Validate checks the guardrails' ranges.
func (g PriceGuardrails) Validate() error {
	switch {
	case !(g.MinMargin >= 0 && g.MinMargin < 1):
		return fmt.Errorf("min margin %v: want 0 <= margin < 1", g.MinMargin)
	case !(g.MaxStep > 0 && g.MaxStep < 1):
		return fmt.Errorf("max step %v: want 0 < step < 1", g.MaxStep)
	case !(g.MaxAboveCompetitor >= 0) || math.IsInf(g.MaxAboveCompetitor, 0):
		return fmt.Errorf("max above competitor %v: want 0 or more", g.MaxAboveCompetitor)
	}
	return nil
}

// PriceInputs is what a recommendation for one product starts from.
type PriceInputs struct {
	CurrentMinor int64
	CostMinor    int64
	// CompetitorMinor is the cheapest competitor's price; 0 when unknown.
	CompetitorMinor int64
	Elasticity      float64
}

// Binding guardrails reported by RecommendPrice.
const (
	BindMaxStepUp      = "max_step_up"
	BindMaxStepDown    = "max_step_down"
	BindCompetitor     = "competitor_cap"
	BindMinMargin      = "min_margin"
	BindMinMarginUnmet = "min_margin_unmet"
)

// PriceRecommendation is a recommended price and why.
type PriceRecommendation struct {
	PriceMinor int64 `json:"price_minor"`
	// Optimum is the profit-maximising price under constant elasticity
	// e < -1, cost * e / (1 + e); +Inf (any higher price earns more) when
	// demand is inelastic (e >= -1). Before the guardrails.
	Optimum float64  `json:"optimum"`
	Binding []string `json:"binding"`
}

// RecommendPrice moves the price toward the profit-maximising price of a
// constant-elasticity demand curve, within the guardrails. Precedence when
// they conflict: never above the competitor cap; then never more than
// MaxStep from the current price; then at least MinMargin (left unmet,
// reported as min_margin_unmet, when the first two forbid it). Bounds are
// rounded inward to whole minor units. A positive elasticity (demand rising
// with price: a sign of confounding, not of demand) is an error.
func RecommendPrice(in PriceInputs, g PriceGuardrails) (PriceRecommendation, error) {
	if err := g.Validate(); err != nil {
		return PriceRecommendation{}, fmt.Errorf("recommend price: %w", err)
	}
	if in.CurrentMinor <= 0 || in.CostMinor < 0 || in.CompetitorMinor < 0 {
		return PriceRecommendation{}, fmt.Errorf("recommend price: current %d, cost %d, competitor %d: want current > 0 and the others >= 0",
			in.CurrentMinor, in.CostMinor, in.CompetitorMinor)
	}
	if !(in.Elasticity < 0) {
		return PriceRecommendation{}, fmt.Errorf("recommend price: elasticity %v, want negative", in.Elasticity)
	}
	rec := PriceRecommendation{Binding: []string{}}
	if in.Elasticity < -1 {
		rec.Optimum = float64(in.CostMinor) * in.Elasticity / (1 + in.Elasticity)
	} else {
		rec.Optimum = math.Inf(1)
	}
	cur := float64(in.CurrentMinor)
	stepLo := int64(math.Ceil(cur*(1-g.MaxStep) - 1e-9))
	stepHi := int64(math.Floor(cur*(1+g.MaxStep) + 1e-9))
	hi, hiName := stepHi, BindMaxStepUp
	if in.CompetitorMinor > 0 {
		if c := int64(math.Floor(float64(in.CompetitorMinor)*(1+g.MaxAboveCompetitor) + 1e-9)); c < hi {
			hi, hiName = c, BindCompetitor
		}
	}
	floor := int64(math.Ceil(float64(in.CostMinor)/(1-g.MinMargin) - 1e-9))
	lo, loName := stepLo, BindMaxStepDown
	if floor > lo {
		lo, loName = floor, BindMinMargin
	}
	target := rec.Optimum
	switch {
	case hi < stepLo:
		// The competitor cap is below the largest allowed cut: the cap wins.
		rec.PriceMinor = hi
		rec.Binding = append(rec.Binding, BindCompetitor, BindMaxStepDown)
		if rec.PriceMinor < floor {
			rec.Binding = append(rec.Binding, BindMinMarginUnmet)
		}
	case lo > hi:
		// The margin floor is above what the cap and the step allow: get as
		// close to it as they do.
		rec.PriceMinor = hi
		rec.Binding = append(rec.Binding, hiName, BindMinMarginUnmet)
	case target >= float64(hi):
		rec.PriceMinor = hi
		rec.Binding = append(rec.Binding, hiName)
	case target <= float64(lo):
		rec.PriceMinor = lo
		rec.Binding = append(rec.Binding, loName)
	default:
		rec.PriceMinor = int64(math.Round(target))
	}
	return rec, nil
}
