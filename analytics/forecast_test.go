package analytics

import (
	"encoding/json"
	"math"
	"os"
	"sort"
	"testing"
)

// forecastReference is testdata/forecast_reference.json, written by
// testdata/forecast_reference.R.
type forecastReference struct {
	RVersion    string `json:"r_version"`
	HoltWinters map[string]struct {
		X                 []float64 `json:"x"`
		Alpha             []float64 `json:"alpha"`
		Beta              []float64 `json:"beta"`
		Gamma             []float64 `json:"gamma"`
		SSE               []float64 `json:"sse"`
		Coefficients      []float64 `json:"coefficients"`
		Forecast          []float64 `json:"forecast"`
		FixedSSE          []float64 `json:"fixed_sse"`
		FixedCoefficients []float64 `json:"fixed_coefficients"`
		FixedForecast     []float64 `json:"fixed_forecast"`
		HoldoutForecast   []float64 `json:"holdout_forecast"`
		HoldoutSSE        []float64 `json:"holdout_sse"`
		HoldoutMASE       []float64 `json:"holdout_mase"`
		SnaiveMASE        []float64 `json:"snaive_mase"`
	} `json:"holt_winters"`
	Croston map[string]struct {
		X         []float64 `json:"x"`
		Croston01 []float64 `json:"croston_0.1"`
		SBA01     []float64 `json:"sba_0.1"`
		Croston02 []float64 `json:"croston_0.2"`
		SBA02     []float64 `json:"sba_0.2"`
	} `json:"croston"`
}

func loadForecastReference(t *testing.T) forecastReference {
	t.Helper()
	b, err := os.ReadFile("testdata/forecast_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref forecastReference
	if err := json.Unmarshal(b, &ref); err != nil {
		t.Fatal(err)
	}
	if len(ref.HoltWinters) == 0 || len(ref.Croston) == 0 {
		t.Fatal("reference file holds no series")
	}
	return ref
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func approxEq(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

func coefficients(m HoltWinters) []float64 {
	return append([]float64{m.Level, m.Trend}, m.Season...)
}

// TestHoltWinters_FixedParametersMatchR checks the start values and the
// recursion: with R's parameters given, the loss, the final level, trend
// and seasonal terms and the forecasts agree with R's to 1e-9.
func TestHoltWinters_FixedParametersMatchR(t *testing.T) {
	ref := loadForecastReference(t)
	for _, name := range sortedKeys(ref.HoltWinters) {
		r := ref.HoltWinters[name]
		t.Run(name, func(t *testing.T) {
			m, err := HoltWintersWith(r.X, 7, 0.4, 0.05, 0.3)
			if err != nil {
				t.Fatal(err)
			}
			if !approxEq(m.SSE, r.FixedSSE[0], 1e-9) {
				t.Errorf("SSE: got %.12g, R %.12g", m.SSE, r.FixedSSE[0])
			}
			for i, c := range coefficients(m) {
				if !approxEq(c, r.FixedCoefficients[i], 1e-9) {
					t.Errorf("coefficient %d: got %.12g, R %.12g", i, c, r.FixedCoefficients[i])
				}
			}
			for i, f := range m.Forecast(14) {
				if !approxEq(f, r.FixedForecast[i], 1e-9) {
					t.Errorf("forecast %d: got %.12g, R %.12g", i+1, f, r.FixedForecast[i])
				}
			}
			// R's fitted parameters through our recursion give R's loss.
			mr, _ := HoltWintersWith(r.X, 7, r.Alpha[0], r.Beta[0], r.Gamma[0])
			if !approxEq(mr.SSE, r.SSE[0], 1e-9) {
				t.Errorf("SSE at R's optimum: got %.12g, R %.12g", mr.SSE, r.SSE[0])
			}
		})
	}
}

// TestFitHoltWinters_AgreesWithR fits the parameters and requires a loss
// no worse than R's L-BFGS-B optimum (within 0.1%), and forecasts within
// 2% of the series' scale of R's: where the loss surface is flat the
// parameters may differ while the fit does not.
func TestFitHoltWinters_AgreesWithR(t *testing.T) {
	ref := loadForecastReference(t)
	for _, name := range sortedKeys(ref.HoltWinters) {
		r := ref.HoltWinters[name]
		t.Run(name, func(t *testing.T) {
			m, err := FitHoltWinters(r.X, 7)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("alpha %.4f beta %.4f gamma %.4f SSE %.4f; R: %.4f %.4f %.4f SSE %.4f",
				m.Alpha, m.Beta, m.Gamma, m.SSE, r.Alpha[0], r.Beta[0], r.Gamma[0], r.SSE[0])
			if m.SSE > r.SSE[0]*1.001 {
				t.Errorf("SSE %.6g worse than R's %.6g", m.SSE, r.SSE[0])
			}
			var scale float64
			for _, v := range r.X {
				scale += math.Abs(v) / float64(len(r.X))
			}
			for i, f := range m.Forecast(14) {
				if math.Abs(f-r.Forecast[i]) > 0.02*scale {
					t.Errorf("forecast %d: got %.4f, R %.4f (scale %.2f)", i+1, f, r.Forecast[i], scale)
				}
			}
		})
	}
}

// TestMASE_MatchesRAccuracy fits on all but the last 14 days and compares
// the holdout MASE of Holt-Winters and of the seasonal naive forecast with
// forecast::accuracy's.
func TestMASE_MatchesRAccuracy(t *testing.T) {
	ref := loadForecastReference(t)
	for _, name := range sortedKeys(ref.HoltWinters) {
		r := ref.HoltWinters[name]
		t.Run(name, func(t *testing.T) {
			n := len(r.X) - 14
			train, test := r.X[:n], r.X[n:]
			sn, ok := MASE(train, test, SeasonalNaive(train, 7, 14), 7)
			if !ok || !approxEq(sn, r.SnaiveMASE[0], 1e-9) {
				t.Errorf("seasonal naive MASE: got %.10g (%v), R %.10g", sn, ok, r.SnaiveMASE[0])
			}
			// R's holdout forecast scored by our MASE: the metric alone.
			mr, _ := MASE(train, test, r.HoldoutForecast, 7)
			if !approxEq(mr, r.HoldoutMASE[0], 1e-9) {
				t.Errorf("MASE of R's forecast: got %.10g, R %.10g", mr, r.HoldoutMASE[0])
			}
			// Our own fit on the training part: the whole pipeline.
			m, err := FitHoltWinters(train, 7)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := MASE(train, test, m.Forecast(14), 7)
			t.Logf("holdout MASE %.4f (R %.4f), seasonal naive %.4f", got, r.HoldoutMASE[0], r.SnaiveMASE[0])
			if math.Abs(got-r.HoldoutMASE[0]) > 0.01 {
				t.Errorf("holdout MASE: got %.4f, R %.4f", got, r.HoldoutMASE[0])
			}
		})
	}
}

func TestCroston_MatchesR(t *testing.T) {
	ref := loadForecastReference(t)
	for _, name := range sortedKeys(ref.Croston) {
		r := ref.Croston[name]
		t.Run(name, func(t *testing.T) {
			for _, c := range []struct {
				alpha, croston, sba float64
			}{{0.1, r.Croston01[0], r.SBA01[0]}, {0.2, r.Croston02[0], r.SBA02[0]}} {
				m, err := FitCroston(r.X, c.alpha)
				if err != nil {
					t.Fatal(err)
				}
				if !approxEq(m.Forecast(), c.croston, 1e-12) || !approxEq(m.SBA(), c.sba, 1e-12) {
					t.Errorf("alpha %g: croston %.12g sba %.12g, R %.12g %.12g", c.alpha, m.Forecast(), m.SBA(), c.croston, c.sba)
				}
			}
		})
	}
}

func TestCroston_HandComputed(t *testing.T) {
	// Non-zero sizes 4, 2 at days 2 and 5: intervals 2, 3.
	// size = 0.5*2 + 0.5*4 = 3; interval = 0.5*3 + 0.5*2 = 2.5.
	m, err := FitCroston([]float64{0, 4, 0, 0, 2}, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	if m.Size != 3 || m.Interval != 2.5 || m.Forecast() != 1.2 || !approxEq(m.SBA(), 0.9, 1e-15) {
		t.Fatalf("got %+v forecast %g sba %g", m, m.Forecast(), m.SBA())
	}
	if _, err := FitCroston([]float64{1, -1}, 0.1); err == nil {
		t.Fatal("want an error for negative demand")
	}
	z, _ := FitCroston([]float64{0, 0, 0}, 0.1)
	if z.SBA() != 0 {
		t.Fatalf("no demand: got %g", z.SBA())
	}
}

func TestClassifyDemand(t *testing.T) {
	tests := []struct {
		name string
		x    []float64
		want string
		adi  float64
	}{
		{"every day, steady", []float64{5, 6, 5, 6, 5, 6}, DemandSmooth, 1},
		{"every day, wild", []float64{1, 20, 1, 30, 2, 1}, DemandErratic, 1},
		{"every third day, steady", []float64{0, 0, 5, 0, 0, 5, 0, 0, 6}, DemandIntermittent, 3},
		{"rare and wild", []float64{0, 0, 1, 0, 0, 40, 0, 0, 2}, DemandLumpy, 3},
		{"never", []float64{0, 0, 0}, DemandIntermittent, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ClassifyDemand(tt.x)
			if got.Class != tt.want || got.ADI != tt.adi {
				t.Fatalf("got %+v, want %s with ADI %g", got, tt.want, tt.adi)
			}
		})
	}
}

func TestForecastDemand_ChoosesMethodByClass(t *testing.T) {
	ref := loadForecastReference(t)
	regular := ref.HoltWinters["counts_weekly"].X
	got, err := ForecastDemand(regular, DemandConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != MethodHoltWinters || len(got.Forecast) != 28 || !got.HasMASE {
		t.Fatalf("regular seller: got method %s, %d days, has MASE %v", got.Method, len(got.Forecast), got.HasMASE)
	}
	// A regular weekly seller: Holt-Winters beats the mean error of the
	// in-sample seasonal naive.
	if got.MASE >= 1 {
		t.Errorf("regular seller MASE %.3f, want below 1", got.MASE)
	}
	for _, v := range got.Forecast {
		if v < 0 {
			t.Fatalf("negative forecast %g", v)
		}
	}
	sparse := ref.Croston["lumpy"].X
	gs, err := ForecastDemand(sparse, DemandConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := FitCroston(sparse, DefaultCrostonAlpha)
	if gs.Method != MethodCrostonSBA || gs.Forecast[0] != c.SBA() || gs.Forecast[27] != c.SBA() {
		t.Fatalf("intermittent: got %s %v, want croston-sba %g", gs.Method, gs.Forecast[:2], c.SBA())
	}
	// Too short for Holt-Winters after the holdout: Croston-SBA even for
	// a daily seller.
	short, _ := ForecastDemand(regular[:30], DemandConfig{})
	if short.Method != MethodCrostonSBA {
		t.Fatalf("short regular series: got %s", short.Method)
	}
}

func TestHoltWinters_RejectsShortOrBadSeries(t *testing.T) {
	if _, err := FitHoltWinters(make([]float64, 14), 7); err == nil {
		t.Fatal("want an error for two periods only")
	}
	x := make([]float64, 30)
	x[3] = math.NaN()
	if _, err := FitHoltWinters(x, 7); err == nil {
		t.Fatal("want an error for NaN")
	}
}
