package analytics

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Spend is one customer's repeat-purchase spend for the Gamma-Gamma model:
// X repeat purchases with mean value Mean (> 0 when X > 0).
type Spend struct {
	X    float64
	Mean float64
}

// GammaGamma holds the parameters of the Gamma-Gamma spend model (Fader,
// Hardie and Lee 2005, "RFM and CLV"; Colombo and Jiang 1999): each
// transaction's value is Gamma(P, nu) (shape P, rate nu) around a customer's
// own mean, and nu is Gamma(Q, V) across customers. Spend is assumed
// independent of the purchase process.
type GammaGamma struct {
	P, Q, V float64
}

// LogLikelihood is the log density of a customer's mean spend m over x
// transactions:
//
//	ln G(px+q) - ln G(px) - ln G(q) + q ln v + (px-1) ln m + px ln x - (px+q) ln(v + x m)
func (g GammaGamma) LogLikelihood(s Spend) float64 {
	lg := func(v float64) float64 { l, _ := math.Lgamma(v); return l }
	p, q, v, x, m := g.P, g.Q, g.V, s.X, s.Mean
	return lg(p*x+q) - lg(p*x) - lg(q) + q*math.Log(v) + (p*x-1)*math.Log(m) + p*x*math.Log(x) - (p*x+q)*math.Log(v+x*m)
}

// PopulationMean is the expected transaction value of a customer we know
// nothing about, p v / (q - 1); NaN when q <= 1 (unbounded).
func (g GammaGamma) PopulationMean() float64 {
	if g.Q <= 1 {
		return math.NaN()
	}
	return g.P * g.V / (g.Q - 1)
}

// ExpectedSpend is a customer's expected transaction value given their
// history: a weighted mean of the population mean and their own mean,
// (v + x m) p / (p x + q - 1). Without repeat purchases it is the
// population mean.
func (g GammaGamma) ExpectedSpend(s Spend) float64 {
	if s.X == 0 {
		return g.PopulationMean()
	}
	return (g.V + s.X*s.Mean) * g.P / (g.P*s.X + g.Q - 1)
}

// FitGammaGamma fits the model by maximum likelihood on the customers with
// at least one repeat purchase (the others carry no spend information and
// are skipped).
func FitGammaGamma(ss []Spend) (GammaGamma, FitResult, error) {
	var use []Spend
	sum := 0.0
	for i, s := range ss {
		if s.X < 0 || s.X != math.Trunc(s.X) {
			return GammaGamma{}, FitResult{}, fmt.Errorf("gamma-gamma: customer %d: frequency %v: want a whole number >= 0", i, s.X)
		}
		if s.X == 0 {
			continue
		}
		if !(s.Mean > 0) || math.IsInf(s.Mean, 0) {
			return GammaGamma{}, FitResult{}, fmt.Errorf("gamma-gamma: customer %d: mean spend %v: want > 0", i, s.Mean)
		}
		use = append(use, s)
		sum += s.Mean
	}
	if len(use) < 2 {
		return GammaGamma{}, FitResult{}, errors.New("gamma-gamma: want at least 2 customers with repeat purchases")
	}
	// The gamma-function terms depend on x alone: compute them once per
	// distinct x in each evaluation.
	type obs struct{ n, m, logM float64 }
	byX := map[float64][]obs{}
	for _, w := range group(use, func(a, b Spend) bool {
		if a.X != b.X {
			return a.X < b.X
		}
		return a.Mean < b.Mean
	}) {
		byX[w.v.X] = append(byX[w.v.X], obs{w.n, w.v.Mean, math.Log(w.v.Mean)})
	}
	xs := make([]float64, 0, len(byX))
	for x := range byX {
		xs = append(xs, x)
	}
	sort.Float64s(xs)
	lg := func(v float64) float64 { l, _ := math.Lgamma(v); return l }
	ll := func(par []float64) float64 {
		p, q, v := par[0], par[1], par[2]
		s := 0.0
		for _, x := range xs {
			head := lg(p*x+q) - lg(p*x) - lg(q) + q*math.Log(v) + p*x*math.Log(x)
			for _, o := range byX[x] {
				s += o.n * (head + (p*x-1)*o.logM - (p*x+q)*math.Log(v+x*o.m))
			}
		}
		return s
	}
	mean := sum / float64(len(use))
	// Start where the population mean p v / (q - 1) equals the sample mean.
	p, fr, err := maximise(ll, []float64{1, 2, mean})
	if err != nil {
		return GammaGamma{}, fr, fmt.Errorf("gamma-gamma: %w", err)
	}
	return GammaGamma{P: p[0], Q: p[1], V: p[2]}, fr, nil
}

// CLVConfig sets the horizon and discounting of a lifetime value.
type CLVConfig struct {
	// Periods of PeriodLength (in the BG/NBD time unit) make the horizon.
	Periods      int
	PeriodLength float64
	// DiscountRate is per period (0.0080 a month is about 10% a year).
	DiscountRate float64
}

// CLV is a customer's discounted expected spend over the horizon: the sum
// over periods i = 1..n of (E[purchases by the end of i] - E[by the end of
// i-1]) * expected spend / (1 + d)^i, with purchases from the BG/NBD model
// conditional on the customer's history.
func CLV(m BGNBD, g GammaGamma, c RFT, s Spend, cfg CLVConfig) float64 {
	spend := g.ExpectedSpend(s)
	total, prev := 0.0, 0.0
	for i := 1; i <= cfg.Periods; i++ {
		cum := m.ConditionalExpectedPurchases(float64(i)*cfg.PeriodLength, c)
		total += (cum - prev) * spend / math.Pow(1+cfg.DiscountRate, float64(i))
		prev = cum
	}
	return total
}
