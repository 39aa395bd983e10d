package analytics

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"gonum.org/v1/gonum/mathext"
	"gonum.org/v1/gonum/optimize"
)

// RFT is one customer's summary for the BG/NBD model, in one time unit
// (ShopPulse uses weeks): X repeat purchases after the first (the first
// purchase starts the clock), the last of them at Tx after the first, and
// T the time from the first purchase to the end of the observation.
// 0 <= Tx <= T; Tx = 0 when X = 0.
type RFT struct {
	X     float64
	Tx, T float64
}

// Validate reports a summary the model cannot use.
func (c RFT) Validate() error {
	switch {
	case c.X < 0 || math.IsNaN(c.X) || c.X != math.Trunc(c.X):
		return fmt.Errorf("frequency %v: want a whole number >= 0", c.X)
	case !(c.T > 0):
		return fmt.Errorf("age T %v: want > 0", c.T)
	case c.Tx < 0 || c.Tx > c.T:
		return fmt.Errorf("recency t_x %v: want 0 <= t_x <= T (%v)", c.Tx, c.T)
	case c.X == 0 && c.Tx != 0:
		return fmt.Errorf("recency t_x %v with no repeat purchase: want 0", c.Tx)
	}
	return nil
}

// BGNBD holds the parameters of the beta-geometric/NBD model (Fader, Hardie
// and Lee 2005, "Counting your customers the easy way"): purchase rates are
// Gamma(R, Alpha) across customers (shape R, rate Alpha), and after each
// repeat purchase a customer drops out with a probability p that is
// Beta(A, B) across customers.
type BGNBD struct {
	R, Alpha, A, B float64
}

// LogLikelihood is one customer's log-likelihood (FHL 2005, equation 6):
//
//	ln L = ln G(r+x) - ln G(r) + r ln(alpha)
//	     + ln G(a+b) + ln G(b+x) - ln G(b) - ln G(a+b+x)
//	     + ln( (alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x) )
func (m BGNBD) LogLikelihood(c RFT) float64 {
	lg := func(v float64) float64 { l, _ := math.Lgamma(v); return l }
	r, al, a, b, x := m.R, m.Alpha, m.A, m.B, c.X
	a1 := lg(r+x) - lg(r) + r*math.Log(al)
	a2 := lg(a+b) + lg(b+x) - lg(b) - lg(a+b+x)
	a3 := -(r + x) * math.Log(al+c.T)
	if x == 0 {
		return a1 + a2 + a3
	}
	a4 := math.Log(a) - math.Log(b+x-1) - (r+x)*math.Log(al+c.Tx)
	hi := math.Max(a3, a4)
	return a1 + a2 + hi + math.Log(math.Exp(a3-hi)+math.Exp(a4-hi))
}

// TotalLogLikelihood sums LogLikelihood over the customers.
func (m BGNBD) TotalLogLikelihood(cs []RFT) float64 {
	s := 0.0
	for _, c := range cs {
		s += m.LogLikelihood(c)
	}
	return s
}

// PAlive is the probability that a customer with this history is still
// active at T (FHL 2005, equation 11); 1 without repeat purchases.
func (m BGNBD) PAlive(c RFT) float64 {
	if c.X == 0 {
		return 1
	}
	r, al, a, b, x := m.R, m.Alpha, m.A, m.B, c.X
	ln := math.Log(a) - math.Log(b+x-1) + (r+x)*(math.Log(al+c.T)-math.Log(al+c.Tx))
	return 1 / (1 + math.Exp(ln))
}

// ExpectedPurchases is the expected number of purchases of a new customer
// in a period of length t (FHL 2005, equation 7).
func (m BGNBD) ExpectedPurchases(t float64) float64 {
	r, al, a, b := m.R, m.Alpha, m.A, m.B
	if a == 1 {
		a += 1e-9
	}
	z := t / (al + t)
	return (a + b - 1) / (a - 1) * (1 - math.Pow(al/(al+t), r)*mathext.Hypergeo(r, b, a+b-1, z))
}

// ConditionalExpectedPurchases is the expected number of purchases in the
// next t for a customer with this history (FHL 2005, equation 10). The
// formula has a removable singularity at a = 1, which is nudged past.
func (m BGNBD) ConditionalExpectedPurchases(t float64, c RFT) float64 {
	r, al, a, b, x := m.R, m.Alpha, m.A, m.B, c.X
	if a == 1 {
		a += 1e-9
	}
	if t <= 0 {
		return 0
	}
	z := t / (al + c.T + t)
	f := mathext.Hypergeo(r+x, b+x, a+b+x-1, z)
	num := (a + b + x - 1) / (a - 1) * (1 - math.Pow((al+c.T)/(al+c.T+t), r+x)*f)
	den := 1.0
	if x > 0 {
		den += a / (b + x - 1) * math.Pow((al+c.T)/(al+c.Tx), r+x)
	}
	return num / den
}

// FitResult says how a maximum-likelihood fit went.
type FitResult struct {
	LogLikelihood float64
	Evaluations   int
	Converged     bool
	Status        string
	// AtBoundary says a parameter ran off towards 0 or infinity (beyond a
	// factor e^15 of 1): the likelihood keeps improving along that edge, so
	// the data do not identify the model (too few repeat buyers, or a
	// degenerate limit such as no spend variation within customers).
	AtBoundary bool
}

// weighted groups equal summaries, so a large customer base with few
// distinct (x, t_x, T) costs little per evaluation. The groups are sorted, so
// the sums (and the fit) do not depend on the input's order.
type weighted[T any] struct {
	v T
	n float64
}

func group[T comparable](cs []T, less func(a, b T) bool) []weighted[T] {
	n := map[T]float64{}
	for _, c := range cs {
		n[c]++
	}
	out := make([]weighted[T], 0, len(n))
	for v, k := range n {
		out = append(out, weighted[T]{v, k})
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i].v, out[j].v) })
	return out
}

// maximise finds the maximum of ll over positive parameters, searching in
// their logarithms from start: Nelder-Mead (gonum/optimize), restarted from
// its optimum until the likelihood stops improving.
func maximise(ll func(p []float64) float64, start []float64) ([]float64, FitResult, error) {
	x := make([]float64, len(start))
	for i, v := range start {
		x[i] = math.Log(v)
	}
	exp := func(x []float64) []float64 {
		p := make([]float64, len(x))
		for i, v := range x {
			p[i] = math.Exp(v)
		}
		return p
	}
	prob := optimize.Problem{Func: func(x []float64) float64 {
		for _, v := range x {
			if math.Abs(v) > 30 {
				return math.Inf(1)
			}
		}
		v := -ll(exp(x))
		if math.IsNaN(v) {
			return math.Inf(1)
		}
		return v
	}}
	var fr FitResult
	best := math.Inf(1)
	for round := 0; round < 6; round++ {
		res, err := optimize.Minimize(prob, x, &optimize.Settings{
			Converger:         &optimize.FunctionConverge{Absolute: 1e-10, Relative: 1e-12, Iterations: 400},
			MajorIterations:   20000,
			FuncEvaluations:   100000,
			GradientThreshold: 0,
		}, &optimize.NelderMead{})
		if err != nil && res == nil {
			return nil, fr, fmt.Errorf("maximum likelihood: %w", err)
		}
		fr.Evaluations += res.FuncEvaluations
		fr.Status = res.Status.String()
		improved := best - res.F
		copy(x, res.X)
		best = math.Min(best, res.F)
		if improved < 1e-8 {
			fr.Converged = err == nil
			break
		}
	}
	if math.IsInf(best, 0) || math.IsNaN(best) {
		return nil, fr, errors.New("maximum likelihood: no finite likelihood found")
	}
	fr.LogLikelihood = -best
	for _, v := range x {
		fr.AtBoundary = fr.AtBoundary || math.Abs(v) > 15
	}
	return exp(x), fr, nil
}

// FitBGNBD fits the model by maximum likelihood.
func FitBGNBD(cs []RFT) (BGNBD, FitResult, error) {
	if len(cs) < 2 {
		return BGNBD{}, FitResult{}, errors.New("bg/nbd: want at least 2 customers")
	}
	repeat := false
	meanT := 0.0
	for i, c := range cs {
		if err := c.Validate(); err != nil {
			return BGNBD{}, FitResult{}, fmt.Errorf("bg/nbd: customer %d: %w", i, err)
		}
		repeat = repeat || c.X > 0
		meanT += c.T / float64(len(cs))
	}
	if !repeat {
		return BGNBD{}, FitResult{}, errors.New("bg/nbd: no customer has a repeat purchase; the model cannot be fitted")
	}
	// The gamma-function terms depend on x alone: compute them once per
	// distinct x in each evaluation.
	byX := map[float64][]weighted[RFT]{}
	for _, w := range group(cs, func(a, b RFT) bool {
		if a.X != b.X {
			return a.X < b.X
		}
		if a.Tx != b.Tx {
			return a.Tx < b.Tx
		}
		return a.T < b.T
	}) {
		byX[w.v.X] = append(byX[w.v.X], w)
	}
	xs := make([]float64, 0, len(byX))
	for x := range byX {
		xs = append(xs, x)
	}
	sort.Float64s(xs)
	lg := func(v float64) float64 { l, _ := math.Lgamma(v); return l }
	ll := func(p []float64) float64 {
		r, al, a, b := p[0], p[1], p[2], p[3]
		s := 0.0
		for _, x := range xs {
			head := lg(r+x) - lg(r) + r*math.Log(al) + lg(a+b) + lg(b+x) - lg(b) - lg(a+b+x)
			for _, w := range byX[x] {
				a3 := -(r + x) * math.Log(al+w.v.T)
				v := a3
				if x > 0 {
					a4 := math.Log(a) - math.Log(b+x-1) - (r+x)*math.Log(al+w.v.Tx)
					hi := math.Max(a3, a4)
					v = hi + math.Log(math.Exp(a3-hi)+math.Exp(a4-hi))
				}
				s += w.n * (head + v)
			}
		}
		return s
	}
	p, fr, err := maximise(ll, []float64{1, meanT, 1, 1})
	if err != nil {
		return BGNBD{}, fr, fmt.Errorf("bg/nbd: %w", err)
	}
	return BGNBD{R: p[0], Alpha: p[1], A: p[2], B: p[3]}, fr, nil
}
