package analytics

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"
)

var pricingStart = time.Date(2026, 8, 3, 0, 0, 0, 0, time.UTC) // a Monday

// demandSeries is n days of q = 1000 * p^e * lift^promo * dow(day) * exp(noise),
// with the list price repriced every 10 days and a promotion (25% off)
// on days 20-24 and 45-49.
func demandSeries(n int, e, lift, noise float64, seed uint64) []PriceObservation {
	rng := rand.New(rand.NewPCG(seed, 1))
	dow := [7]float64{1.2, 0.9, 0.95, 1, 1, 1.05, 1.3} // Sunday first
	var obs []PriceObservation
	for d := range n {
		day := pricingStart.AddDate(0, 0, d)
		list := 1000 * (1 + 0.03*float64((d/10)%4))
		promo := (d >= 20 && d < 25) || (d >= 45 && d < 50)
		p := list
		if promo {
			p *= 0.75
		}
		q := 1000 * math.Pow(p/1000, e) * dow[day.Weekday()] * math.Exp(noise*rng.NormFloat64())
		if promo {
			q *= lift
		}
		obs = append(obs, PriceObservation{Day: day, Quantity: q, Price: p})
	}
	FlagPromotions(obs, 0.1, 7)
	return obs
}

func TestFitElasticity_RecoversExactParameters(t *testing.T) {
	obs := demandSeries(70, -2, 1.3, 0, 1)
	fit, err := FitElasticity(obs, ElasticityConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(fit.Elasticity+2) > 1e-9 || math.Abs(fit.PromoEffect-math.Log(1.3)) > 1e-9 || math.Abs(fit.R2-1) > 1e-9 {
		t.Fatalf("fit %+v, want elasticity -2, promo effect ln 1.3, R2 1", fit)
	}
	if !reflect.DeepEqual(fit.Controls, []string{ControlPromo, ControlDayOfWeek}) || fit.N != 70 {
		t.Fatalf("controls %v n %d", fit.Controls, fit.N)
	}
}

func TestFitElasticity_RecoversFromNoisyData(t *testing.T) {
	// 200 simulated series at 20% noise: the estimate is within 3 standard
	// errors of the truth in at least 98% of them, and unbiased on average
	// (the mean within 3 standard errors of a mean of 200).
	var sum, sumSE float64
	within := 0
	const runs = 200
	for s := range uint64(runs) {
		fit, err := FitElasticity(demandSeries(90, -1.6, 1.2, 0.2, s), ElasticityConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(fit.Elasticity+1.6) <= 3*fit.StdErr {
			within++
		}
		sum += fit.Elasticity
		sumSE += fit.StdErr
	}
	if within < runs*98/100 {
		t.Fatalf("%d of %d estimates within 3 SE", within, runs)
	}
	if mean, se := sum/runs, sumSE/runs/math.Sqrt(runs); math.Abs(mean+1.6) > 3*se {
		t.Fatalf("mean estimate %v, want -1.6 within %v", mean, 3*se)
	}
}

func TestFitElasticity_DropsControlsTheDataCannotCarry(t *testing.T) {
	// Price moves only on promotion: the promo dummy is ln(price) in disguise
	// and is dropped; the weekday controls stay.
	var obs []PriceObservation
	for d := range 40 {
		day := pricingStart.AddDate(0, 0, d)
		p := 1000.0
		if d%9 < 3 {
			p = 800
		}
		obs = append(obs, PriceObservation{Day: day, Price: p, Quantity: 50 * math.Pow(p/1000, -1.5)})
	}
	FlagPromotions(obs, 0.1, 7)
	fit, err := FitElasticity(obs, ElasticityConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fit.Controls, []string{ControlDayOfWeek}) || math.Abs(fit.Elasticity+1.5) > 1e-9 {
		t.Fatalf("fit %+v", fit)
	}
	// Ten days: too few for weekday dummies, the promo dummy is collinear: none.
	fit, err = FitElasticity(obs[:10], ElasticityConfig{MinObservations: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(fit.Controls) != 0 || math.Abs(fit.Elasticity+1.5) > 1e-9 {
		t.Fatalf("short fit %+v", fit)
	}
}

func TestFitElasticity_RefusesWhatItCannotFit(t *testing.T) {
	flat := make([]PriceObservation, 30)
	for i := range flat {
		flat[i] = PriceObservation{Day: pricingStart.AddDate(0, 0, i), Quantity: float64(5 + i%3), Price: 999}
	}
	if _, err := FitElasticity(flat, ElasticityConfig{}); !errors.Is(err, ErrNoPriceVariation) {
		t.Fatalf("flat price: %v", err)
	}
	if _, err := FitElasticity(flat[:5], ElasticityConfig{}); err == nil {
		t.Fatal("5 days: want an error")
	}
	bad := demandSeries(30, -2, 1, 0, 1)
	bad[3].Quantity = 0
	if _, err := FitElasticity(bad, ElasticityConfig{}); err == nil {
		t.Fatal("zero quantity: want an error")
	}
}

func TestRecommendPrice(t *testing.T) {
	g := PriceGuardrails{MinMargin: 0.1, MaxStep: 0.1, MaxAboveCompetitor: 0.05}
	tests := []struct {
		name    string
		in      PriceInputs
		want    int64
		binding []string
	}{
		{"at the optimum (2x cost at e=-2)", PriceInputs{CurrentMinor: 1000, CostMinor: 500, Elasticity: -2}, 1000, []string{}},
		{"optimum 600*2.5/1.5 = 1000", PriceInputs{CurrentMinor: 1000, CostMinor: 600, Elasticity: -2.5}, 1000, []string{}},
		{"optimum 800 below the step floor 900", PriceInputs{CurrentMinor: 1000, CostMinor: 600, Elasticity: -4}, 900, []string{BindMaxStepDown}},
		{"optimum 950 within the step", PriceInputs{CurrentMinor: 1000, CostMinor: 570, Elasticity: -2.5}, 950, []string{}},
		{"inelastic: up by the step", PriceInputs{CurrentMinor: 1000, CostMinor: 400, Elasticity: -0.5}, 1100, []string{BindMaxStepUp}},
		{"inelastic, capped 5% above the competitor", PriceInputs{CurrentMinor: 1000, CostMinor: 400, CompetitorMinor: 1000, Elasticity: -0.5}, 1050, []string{BindCompetitor}},
		{"optimum under the margin floor ceil(950/0.9) = 1056", PriceInputs{CurrentMinor: 1000, CostMinor: 950, Elasticity: -20}, 1056, []string{BindMinMargin}},
		{"margin floor 1250 beyond the step: 1100, unmet", PriceInputs{CurrentMinor: 1000, CostMinor: 1125, Elasticity: -3}, 1100, []string{BindMaxStepUp, BindMinMarginUnmet}},
		{"competitor far below: the cap wins over the step", PriceInputs{CurrentMinor: 1000, CostMinor: 300, CompetitorMinor: 700, Elasticity: -3}, 735, []string{BindCompetitor, BindMaxStepDown}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := RecommendPrice(tt.in, g)
			if err != nil {
				t.Fatal(err)
			}
			if got.PriceMinor != tt.want || !slices.Equal(got.Binding, tt.binding) {
				t.Fatalf("got %d %v, want %d %v (optimum %v)", got.PriceMinor, got.Binding, tt.want, tt.binding, got.Optimum)
			}
			if tt.in.CompetitorMinor > 0 && float64(got.PriceMinor) > float64(tt.in.CompetitorMinor)*1.05 {
				t.Fatalf("above the competitor cap: %d", got.PriceMinor)
			}
		})
	}
}

func TestRecommendPrice_RejectsBadInput(t *testing.T) {
	g := PriceGuardrails{MinMargin: 0.1, MaxStep: 0.1, MaxAboveCompetitor: 0.05}
	if _, err := RecommendPrice(PriceInputs{CurrentMinor: 1000, CostMinor: 500, Elasticity: 0.3}, g); err == nil {
		t.Fatal("positive elasticity: want an error")
	}
	if _, err := RecommendPrice(PriceInputs{CurrentMinor: 0, CostMinor: 500, Elasticity: -2}, g); err == nil {
		t.Fatal("zero price: want an error")
	}
	if _, err := RecommendPrice(PriceInputs{CurrentMinor: 1000, CostMinor: 500, Elasticity: -2}, PriceGuardrails{MaxStep: 1.5}); err == nil {
		t.Fatal("step 150%: want an error")
	}
}
