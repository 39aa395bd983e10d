package analytics

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.6f, want %.6f (±%g)", what, got, want, tol)
	}
}

func within(t *testing.T, what string, got, want, rel float64) {
	t.Helper()
	if math.Abs(got-want) > rel*want {
		t.Errorf("%s = %.4f, want %.4f within %.0f%%", what, got, want, 100*rel)
	}
}

// Hand-computed from FHL 2005 equation 6:
//   - r=a=b=alpha=1, x=0, T=1: L = (alpha/(alpha+T))^r = 1/2.
//   - r=alpha=a=1, b=2, x=1, t_x=0.5, T=1: A1 = ln G(2) - ln G(1) = 0,
//     A2 = ln G(3) + ln G(3) - ln G(2) - ln G(4) = ln(2/3),
//     (alpha+T)^-(r+x) = 1/4, a/(b+x-1) (alpha+t_x)^-(r+x) = 1/2 / 2.25 = 2/9,
//     L = 2/3 (1/4 + 2/9) = 17/54.
func TestBGNBD_LogLikelihoodHandComputed(t *testing.T) {
	tests := []struct {
		name string
		m    BGNBD
		c    RFT
		want float64
	}{
		{"no repeat purchase", BGNBD{1, 1, 1, 1}, RFT{X: 0, Tx: 0, T: 1}, math.Log(0.5)},
		{"one repeat purchase", BGNBD{1, 1, 1, 2}, RFT{X: 1, Tx: 0.5, T: 1}, math.Log(17.0 / 54)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			near(t, "log-likelihood", tt.m.LogLikelihood(tt.c), tt.want, 1e-12)
		})
	}
}

// P(alive) = 1 / (1 + a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)); with the
// second case above: 1 / (1 + 1/2 (2/1.5)^2) = 9/17.
func TestBGNBD_PAliveHandComputed(t *testing.T) {
	m := BGNBD{1, 1, 1, 2}
	near(t, "p_alive(x=1)", m.PAlive(RFT{X: 1, Tx: 0.5, T: 1}), 9.0/17, 1e-12)
	near(t, "p_alive(x=0)", m.PAlive(RFT{X: 0, T: 3}), 1, 0)
	// A purchase just now means alive for sure... almost: t_x = T.
	if p := m.PAlive(RFT{X: 5, Tx: 10, T: 10}); p <= m.PAlive(RFT{X: 5, Tx: 2, T: 10}) {
		t.Errorf("p_alive should fall as the last purchase recedes")
	}
}

func TestBGNBD_ExpectedPurchasesLimits(t *testing.T) {
	// Almost no dropout (p ~ Beta(2, 1e7)): purchases are NBD, mean r t / alpha.
	m := BGNBD{R: 0.5, Alpha: 4, A: 2, B: 1e7}
	near(t, "E[X(10)] without dropout", m.ExpectedPurchases(10), 0.5*10/4, 1e-3)
	// A customer seen for no time with no purchase is a new customer.
	// A customer seen for no time with no purchase is a new customer (with
	// the CDNOW parameters, a < 1).
	m = BGNBD{R: 0.243, Alpha: 4.414, A: 0.793, B: 2.426}
	near(t, "conditional with T -> 0", m.ConditionalExpectedPurchases(39, RFT{X: 0, T: 1e-9}), m.ExpectedPurchases(39), 1e-6)
	// At a = 1 the formula's singularity is removable: the value is
	// continuous there.
	at := BGNBD{R: 1, Alpha: 2, A: 1, B: 2}
	lo, hi := BGNBD{R: 1, Alpha: 2, A: 1 - 1e-6, B: 2}, BGNBD{R: 1, Alpha: 2, A: 1 + 1e-6, B: 2}
	c := RFT{X: 2, Tx: 3, T: 5}
	near(t, "E at a=1", at.ConditionalExpectedPurchases(10, c), (lo.ConditionalExpectedPurchases(10, c)+hi.ConditionalExpectedPurchases(10, c))/2, 1e-4)
}

// simulateBGNBD draws customers from the model: a purchase rate from
// Gamma(r, alpha), a dropout probability from Beta(a, b), purchases as a
// Poisson process from time 0 (the first purchase) to T, dropping out after
// each repeat purchase with that probability. T is spread over [minT, maxT]
// (customers acquired at different times). Times are rounded to a day (in
// weeks), as the store's are.
func simulateBGNBD(m BGNBD, n int, minT, maxT float64, seed uint64) []RFT {
	src := rand.NewPCG(seed, 1)
	rng := rand.New(src)
	gam := distuv.Gamma{Alpha: m.R, Beta: m.Alpha, Src: src}
	bet := distuv.Beta{Alpha: m.A, Beta: m.B, Src: src}
	day := func(w float64) float64 { return math.Round(w*7) / 7 }
	out := make([]RFT, n)
	for i := range out {
		lambda, p := gam.Rand(), bet.Rand()
		T := day(minT + rng.Float64()*(maxT-minT))
		c := RFT{T: T}
		at := 0.0
		for {
			at += rng.ExpFloat64() / lambda
			if at > T {
				break
			}
			c.X++
			c.Tx = at
			if rng.Float64() < p {
				break
			}
		}
		c.Tx = math.Min(day(c.Tx), T)
		if c.X == 0 {
			c.Tx = 0
		}
		out[i] = c
	}
	return out
}

func TestFitBGNBD_RecoversSimulatedParameters(t *testing.T) {
	truth := BGNBD{R: 0.5, Alpha: 6, A: 0.8, B: 2.5}
	cs := simulateBGNBD(truth, 20000, 20, 78, 7)
	got, fr, err := FitBGNBD(cs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fit %+v (%+v), truth log-likelihood %.2f", got, fr, truth.TotalLogLikelihood(cs))
	if !fr.Converged || fr.AtBoundary {
		t.Errorf("fit did not converge inside the space: %+v", fr)
	}
	if fr.LogLikelihood < truth.TotalLogLikelihood(cs)-1e-6 {
		t.Errorf("the fit's log-likelihood %.4f is below the true parameters' %.4f", fr.LogLikelihood, truth.TotalLogLikelihood(cs))
	}
	near(t, "fit log-likelihood vs recomputed", got.TotalLogLikelihood(cs), fr.LogLikelihood, 1e-6*math.Abs(fr.LogLikelihood))
	within(t, "r", got.R, truth.R, 0.1)
	within(t, "alpha", got.Alpha, truth.Alpha, 0.1)
	within(t, "a", got.A, truth.A, 0.2)
	within(t, "b", got.B, truth.B, 0.2)

	// The fitted model predicts the simulated customers' futures: draw a
	// holdout of the same customers' next 26 weeks is not possible from
	// summaries, so compare the population forecast with a fresh simulation.
	fresh := simulateBGNBD(truth, 20000, 26, 26, 99)
	mean := 0.0
	for _, c := range fresh {
		mean += c.X / float64(len(fresh))
	}
	within(t, "E[X(26)] of a new customer", got.ExpectedPurchases(26), mean, 0.08)
}

func TestFitBGNBD_RejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		cs   []RFT
	}{
		{"one customer", []RFT{{X: 1, Tx: 1, T: 2}}},
		{"nobody came back", []RFT{{T: 2}, {T: 3}}},
		{"recency after age", []RFT{{X: 1, Tx: 3, T: 2}, {X: 1, Tx: 1, T: 2}}},
		{"fractional frequency", []RFT{{X: 1.5, Tx: 1, T: 2}, {X: 1, Tx: 1, T: 2}}},
		{"zero age", []RFT{{X: 0, T: 0}, {X: 1, Tx: 1, T: 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := FitBGNBD(tt.cs); err == nil {
				t.Fatal("want an error")
			}
		})
	}
}

// GG log-likelihood by hand: p=q=v=1, x=1, m=1:
// ln G(2) - ln G(1) - ln G(1) + 0 + 0 + 0 - 2 ln 2 = -2 ln 2.
// Expected spend (v + x m) p / (p x + q - 1) with p=2, q=3, v=10, x=4, m=5:
// 30 * 2 / 10 = 6; population mean p v / (q - 1) = 10.
func TestGammaGamma_HandComputed(t *testing.T) {
	near(t, "log-likelihood", GammaGamma{1, 1, 1}.LogLikelihood(Spend{X: 1, Mean: 1}), -2*math.Log(2), 1e-12)
	g := GammaGamma{P: 2, Q: 3, V: 10}
	near(t, "expected spend", g.ExpectedSpend(Spend{X: 4, Mean: 5}), 6, 1e-12)
	near(t, "population mean", g.ExpectedSpend(Spend{}), 10, 1e-12)
}

func TestFitGammaGamma_RecoversSimulatedParameters(t *testing.T) {
	truth := GammaGamma{P: 6, Q: 4, V: 15}
	src := rand.NewPCG(3, 4)
	rng := rand.New(src)
	var ss []Spend
	for i := 0; i < 10000; i++ {
		nu := distuv.Gamma{Alpha: truth.Q, Beta: truth.V, Src: src}.Rand()
		x := 1 + rng.IntN(8)
		z := distuv.Gamma{Alpha: truth.P, Beta: nu, Src: src}
		sum := 0.0
		for k := 0; k < x; k++ {
			sum += z.Rand()
		}
		ss = append(ss, Spend{X: float64(x), Mean: sum / float64(x)})
	}
	ss = append(ss, Spend{}) // a one-off customer is skipped
	got, fr, err := FitGammaGamma(ss)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fit %+v (%+v)", got, fr)
	within(t, "p", got.P, truth.P, 0.15)
	within(t, "q", got.Q, truth.Q, 0.15)
	within(t, "v", got.V, truth.V, 0.2)
	within(t, "population mean", got.PopulationMean(), truth.PopulationMean(), 0.03)
}

func TestCLV_DiscountsExpectedSpend(t *testing.T) {
	m := BGNBD{R: 0.243, Alpha: 4.414, A: 1.793, B: 2.426}
	g := GammaGamma{P: 6.25, Q: 3.74, V: 15.44}
	c, s := RFT{X: 2, Tx: 30.43, T: 38.86}, Spend{X: 2, Mean: 35}
	undiscounted := CLV(m, g, c, s, CLVConfig{Periods: 12, PeriodLength: 52.0 / 12})
	// Without discounting, CLV is expected purchases over the year times spend.
	near(t, "undiscounted CLV", undiscounted, m.ConditionalExpectedPurchases(52, c)*g.ExpectedSpend(s), 1e-9)
	discounted := CLV(m, g, c, s, CLVConfig{Periods: 12, PeriodLength: 52.0 / 12, DiscountRate: 0.01})
	if !(discounted < undiscounted && discounted > undiscounted/math.Pow(1.01, 12)) {
		t.Errorf("discounted CLV %v should lie between %v and %v", discounted, undiscounted/math.Pow(1.01, 12), undiscounted)
	}
}

// The fit's fast likelihood (gamma terms grouped by x) agrees with the
// plain sum of LogLikelihood.
func TestFits_LikelihoodAgreesWithPlainSum(t *testing.T) {
	cs := simulateBGNBD(BGNBD{R: 0.7, Alpha: 3, A: 1.2, B: 3}, 500, 10, 40, 11)
	m, fr, err := FitBGNBD(cs)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "bg/nbd", m.TotalLogLikelihood(cs), fr.LogLikelihood, 1e-8*math.Abs(fr.LogLikelihood))
	ss := []Spend{{1, 10}, {2, 12}, {3, 30}, {1, 8}, {5, 20}, {2, 15}, {0, 0}}
	g, fr, err := FitGammaGamma(ss)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, s := range ss[:6] {
		sum += g.LogLikelihood(s)
	}
	near(t, "gamma-gamma", sum, fr.LogLikelihood, 1e-8*math.Abs(sum))
}

// Customers who either never come back or buy at a steady rate forever:
// the dropout probability is 0 or 1, the Beta(a, b) limit a, b -> 0, and the
// fit says so.
func TestFitBGNBD_FlagsADegenerateFit(t *testing.T) {
	var cs []RFT
	for i := 0; i < 200; i++ {
		cs = append(cs, RFT{X: 0, T: 20})
		cs = append(cs, RFT{X: 10, Tx: 19.5, T: 20})
	}
	_, fr, err := FitBGNBD(cs)
	if err != nil {
		t.Fatal(err)
	}
	if !fr.AtBoundary {
		t.Errorf("fit %+v: want AtBoundary", fr)
	}
}
