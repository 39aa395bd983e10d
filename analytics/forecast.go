package analytics

import (
	"errors"
	"fmt"
	"math"
)

// Demand forecasting: Holt-Winters with additive weekly seasonality for
// products that sell most days, Croston with the Syntetos-Boylan
// approximation (SBA) for intermittent ones, chosen per product from the
// Syntetos-Boylan classification (ADI and CV², cut-offs 1.32 and 0.49).
//
// Holt-Winters here is R's stats::HoltWinters, additive, with trend:
// the same start values (a classical decomposition of the first two
// periods), the same recursion and the same loss (the sum of squared
// one-step errors from the second period on). The additive form is chosen
// because daily demand of a product has zero days, which the
// multiplicative form cannot divide by. R minimises the loss with
// L-BFGS-B from (0.3, 0.1, 0.1); FitHoltWinters uses Nelder-Mead from that
// point and a grid of others, keeping the best, so its loss is at most R's
// (checked against R's output in testdata/).

// Syntetos-Boylan classification cut-offs.
const (
	ADICutoff = 1.32
	CV2Cutoff = 0.49
)

// Demand classes of the Syntetos-Boylan scheme.
const (
	DemandSmooth       = "smooth"
	DemandErratic      = "erratic"
	DemandIntermittent = "intermittent"
	DemandLumpy        = "lumpy"
)

// Forecast methods.
const (
	MethodHoltWinters = "holt-winters"
	MethodCrostonSBA  = "croston-sba"
)

// HoltWinters is a fitted additive Holt-Winters model: smoothing
// parameters, the loss they reached, and the final level, trend and
// seasonal terms (Season[0] is the next period's).
type HoltWinters struct {
	Period             int       `json:"period"`
	Alpha, Beta, Gamma float64   `json:"-"`
	SSE                float64   `json:"sse"`
	Level              float64   `json:"level"`
	Trend              float64   `json:"trend"`
	Season             []float64 `json:"season"`
}

// Forecast returns the next h values.
func (m HoltWinters) Forecast(h int) []float64 {
	out := make([]float64, h)
	for i := range out {
		out[i] = m.Level + float64(i+1)*m.Trend + m.Season[i%m.Period]
	}
	return out
}

// hwStart returns R's start values: a classical additive decomposition of
// the first two periods gives the seasonal figure, and a straight line
// through its trend gives the level (intercept) and trend (slope).
func hwStart(x []float64, f int) (l0, b0 float64, s0 []float64) {
	wind := 2 * f
	// Centred moving average (stats::decompose): f terms for odd f, f+1
	// with half weights at the ends for even f.
	w := make([]float64, 0, f+1)
	if f%2 == 1 {
		for i := 0; i < f; i++ {
			w = append(w, 1/float64(f))
		}
	} else {
		w = append(w, 0.5/float64(f))
		for i := 1; i < f; i++ {
			w = append(w, 1/float64(f))
		}
		w = append(w, 0.5/float64(f))
	}
	half := len(w) / 2
	trend := make([]float64, wind)
	ok := make([]bool, wind)
	for t := half; t < wind-half; t++ {
		var s float64
		for k, wk := range w {
			s += wk * x[t-half+k]
		}
		trend[t], ok[t] = s, true
	}
	s0 = make([]float64, f)
	var figMean float64
	for i := 0; i < f; i++ {
		var s float64
		var n int
		for t := i; t < wind; t += f {
			if ok[t] {
				s += x[t] - trend[t]
				n++
			}
		}
		s0[i] = s / float64(n)
		figMean += s0[i] / float64(f)
	}
	for i := range s0 {
		s0[i] -= figMean
	}
	// Least squares line through the trend values against 1, 2, ...
	var dat []float64
	for t := 0; t < wind; t++ {
		if ok[t] {
			dat = append(dat, trend[t])
		}
	}
	n := float64(len(dat))
	var sx, sy, sxx, sxy float64
	for i, v := range dat {
		xi := float64(i + 1)
		sx += xi
		sy += v
		sxx += xi * xi
		sxy += xi * v
	}
	b0 = (n*sxy - sx*sy) / (n*sxx - sx*sx)
	l0 = (sy - b0*sx) / n
	return l0, b0, s0
}

// hwFilter runs R's HoltWinters recursion (C_HoltWinters, additive, with
// trend) from the start of the second period with the given parameters,
// clamped to [0, 1] as R clamps them.
func hwFilter(x []float64, f int, alpha, beta, gamma, l0, b0 float64, s0 []float64) HoltWinters {
	alpha, beta, gamma = clamp01(alpha), clamp01(beta), clamp01(gamma)
	n := len(x) - f
	level := make([]float64, n+1)
	trend := make([]float64, n+1)
	season := make([]float64, n+f)
	level[0], trend[0] = l0, b0
	copy(season, s0)
	var sse float64
	for i := f; i < len(x); i++ {
		i0 := i - f + 1
		s := i0 + f - 1
		stmp := season[s-f]
		xhat := level[i0-1] + trend[i0-1] + stmp
		res := x[i] - xhat
		sse += res * res
		level[i0] = alpha*(x[i]-stmp) + (1-alpha)*(level[i0-1]+trend[i0-1])
		trend[i0] = beta*(level[i0]-level[i0-1]) + (1-beta)*trend[i0-1]
		season[s] = gamma*(x[i]-level[i0]) + (1-gamma)*stmp
	}
	return HoltWinters{Period: f, Alpha: alpha, Beta: beta, Gamma: gamma, SSE: sse,
		Level: level[n], Trend: trend[n], Season: append([]float64(nil), season[n:n+f]...)}
}

// HoltWintersWith runs the model with fixed parameters (R's
// HoltWinters(x, alpha, beta, gamma)).
func HoltWintersWith(x []float64, period int, alpha, beta, gamma float64) (HoltWinters, error) {
	if err := hwCheck(x, period); err != nil {
		return HoltWinters{}, err
	}
	l0, b0, s0 := hwStart(x, period)
	return hwFilter(x, period, alpha, beta, gamma, l0, b0, s0), nil
}

func hwCheck(x []float64, period int) error {
	if period < 2 {
		return fmt.Errorf("holt-winters: period %d, want at least 2", period)
	}
	if len(x) < 2*period+1 {
		return fmt.Errorf("holt-winters: %d values, want more than two periods (%d)", len(x), 2*period)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("holt-winters: value %d is not finite", i)
		}
	}
	return nil
}

// FitHoltWinters fits alpha, beta and gamma in [0, 1] by minimising the
// sum of squared one-step errors, as R's HoltWinters does.
func FitHoltWinters(x []float64, period int) (HoltWinters, error) {
	if err := hwCheck(x, period); err != nil {
		return HoltWinters{}, err
	}
	l0, b0, s0 := hwStart(x, period)
	loss := func(p []float64) float64 {
		return hwFilter(x, period, p[0], p[1], p[2], l0, b0, s0).SSE
	}
	starts := [][]float64{{0.3, 0.1, 0.1}}
	for _, a := range []float64{0.05, 0.5, 0.9} {
		for _, b := range []float64{0.01, 0.3} {
			for _, g := range []float64{0.05, 0.5, 0.9} {
				starts = append(starts, []float64{a, b, g})
			}
		}
	}
	best, bestLoss := []float64(nil), math.Inf(1)
	for _, st := range starts {
		p, v := nelderMead01(loss, st, 600)
		if v < bestLoss {
			best, bestLoss = p, v
		}
	}
	// Polish the best with a restart (Nelder-Mead can stall on a face of
	// the box).
	if p, v := nelderMead01(loss, best, 600); v < bestLoss {
		best = p
	}
	return hwFilter(x, period, best[0], best[1], best[2], l0, b0, s0), nil
}

func clamp01(v float64) float64 { return math.Min(1, math.Max(0, v)) }

// nelderMead01 minimises f over [0,1]^n by Nelder-Mead with every vertex
// clamped into the box. It returns the best point and value.
func nelderMead01(f func([]float64) float64, start []float64, maxEval int) ([]float64, float64) {
	n := len(start)
	clampV := func(p []float64) []float64 {
		for i := range p {
			p[i] = clamp01(p[i])
		}
		return p
	}
	pts := make([][]float64, n+1)
	vals := make([]float64, n+1)
	pts[0] = clampV(append([]float64(nil), start...))
	for i := 0; i < n; i++ {
		p := append([]float64(nil), pts[0]...)
		step := 0.1
		if p[i]+step > 1 {
			step = -step
		}
		p[i] += step
		pts[i+1] = clampV(p)
	}
	evals := 0
	for i := range pts {
		vals[i] = f(pts[i])
		evals++
	}
	for evals < maxEval {
		// order
		for i := 1; i <= n; i++ {
			for j := i; j > 0 && vals[j] < vals[j-1]; j-- {
				vals[j], vals[j-1] = vals[j-1], vals[j]
				pts[j], pts[j-1] = pts[j-1], pts[j]
			}
		}
		if math.Abs(vals[n]-vals[0]) <= 1e-12*(math.Abs(vals[0])+1e-12) {
			var spread float64
			for i := 1; i <= n; i++ {
				for k := 0; k < n; k++ {
					spread = math.Max(spread, math.Abs(pts[i][k]-pts[0][k]))
				}
			}
			if spread < 1e-9 {
				break
			}
		}
		c := make([]float64, n)
		for i := 0; i < n; i++ {
			for k := 0; k < n; k++ {
				c[k] += pts[i][k] / float64(n)
			}
		}
		at := func(t float64) []float64 {
			p := make([]float64, n)
			for k := range p {
				p[k] = c[k] + t*(pts[n][k]-c[k])
			}
			return clampV(p)
		}
		r := at(-1)
		fr := f(r)
		evals++
		switch {
		case fr < vals[0]:
			e := at(-2)
			fe := f(e)
			evals++
			if fe < fr {
				pts[n], vals[n] = e, fe
			} else {
				pts[n], vals[n] = r, fr
			}
		case fr < vals[n-1]:
			pts[n], vals[n] = r, fr
		default:
			t := 0.5
			if fr < vals[n] {
				t = -0.5
			}
			cp := at(t)
			fc := f(cp)
			evals++
			if fc < math.Min(fr, vals[n]) {
				pts[n], vals[n] = cp, fc
			} else {
				for i := 1; i <= n; i++ {
					for k := 0; k < n; k++ {
						pts[i][k] = pts[0][k] + 0.5*(pts[i][k]-pts[0][k])
					}
					vals[i] = f(pts[i])
					evals++
				}
			}
		}
	}
	bi := 0
	for i := range vals {
		if vals[i] < vals[bi] {
			bi = i
		}
	}
	return pts[bi], vals[bi]
}

// Croston is a fitted Croston model: exponentially smoothed non-zero
// demand sizes and intervals between them, as R's forecast::croston
// computes them (simple exponential smoothing with the first value as
// the start, fixed alpha).
type Croston struct {
	Alpha    float64 `json:"alpha"`
	Size     float64 `json:"size"`
	Interval float64 `json:"interval"`
}

// DefaultCrostonAlpha is forecast::croston's default smoothing parameter.
const DefaultCrostonAlpha = 0.1

// FitCroston smooths the non-zero values of x and the intervals between
// them. A series without demand gives size 0 (a zero forecast).
func FitCroston(x []float64, alpha float64) (Croston, error) {
	if alpha <= 0 || alpha > 1 {
		return Croston{}, fmt.Errorf("croston: alpha %g, want (0, 1]", alpha)
	}
	var sizes, gaps []float64
	last := 0
	for i, v := range x {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return Croston{}, fmt.Errorf("croston: value %d is %g, want finite and non-negative", i, v)
		}
		if v > 0 {
			sizes = append(sizes, v)
			gaps = append(gaps, float64(i+1-last))
			last = i + 1
		}
	}
	c := Croston{Alpha: alpha}
	if len(sizes) == 0 {
		c.Interval = 1
		return c, nil
	}
	ses := func(v []float64) float64 {
		l := v[0]
		for _, y := range v[1:] {
			l = alpha*y + (1-alpha)*l
		}
		return l
	}
	c.Size, c.Interval = ses(sizes), ses(gaps)
	return c, nil
}

// Forecast is Croston's per-period demand: size over interval.
func (c Croston) Forecast() float64 { return c.Size / c.Interval }

// SBA is the Syntetos-Boylan approximation: Croston's forecast times
// (1 - alpha/2), which removes its positive bias.
func (c Croston) SBA() float64 { return (1 - c.Alpha/2) * c.Forecast() }

// DemandClass is a series' Syntetos-Boylan classification: ADI is the mean
// interval between non-zero values (counting the first from the series'
// start), CV2 the squared coefficient of variation of the non-zero values
// (sample standard deviation; 0 with fewer than two).
type DemandClass struct {
	ADI     float64 `json:"adi"`
	CV2     float64 `json:"cv2"`
	NonZero int     `json:"non_zero"`
	Class   string  `json:"class"`
}

// ClassifyDemand classifies x. A series without demand is reported as
// intermittent with ADI equal to its length plus one (finite, for storage).
func ClassifyDemand(x []float64) DemandClass {
	var nz []float64
	lastNZ := 0
	for i, v := range x {
		if v > 0 {
			nz = append(nz, v)
			lastNZ = i + 1
		}
	}
	d := DemandClass{NonZero: len(nz)}
	if len(nz) == 0 {
		d.ADI, d.Class = float64(len(x)+1), DemandIntermittent
		return d
	}
	d.ADI = float64(lastNZ) / float64(len(nz))
	if len(nz) > 1 {
		var m float64
		for _, v := range nz {
			m += v
		}
		m /= float64(len(nz))
		var ss float64
		for _, v := range nz {
			ss += (v - m) * (v - m)
		}
		sd := math.Sqrt(ss / float64(len(nz)-1))
		d.CV2 = (sd / m) * (sd / m)
	}
	switch {
	case d.ADI < ADICutoff && d.CV2 < CV2Cutoff:
		d.Class = DemandSmooth
	case d.ADI < ADICutoff:
		d.Class = DemandErratic
	case d.CV2 < CV2Cutoff:
		d.Class = DemandIntermittent
	default:
		d.Class = DemandLumpy
	}
	return d
}

// SeasonalNaive forecasts h values by repeating the last period of x.
func SeasonalNaive(x []float64, period, h int) []float64 {
	out := make([]float64, h)
	n := len(x)
	for i := range out {
		out[i] = x[n-period+i%period]
	}
	return out
}

// MASE is the mean absolute error of forecast against actual, scaled by
// the in-sample mean absolute error of the seasonal naive one-step
// forecast (|x_t - x_{t-period}| over the training series), as
// forecast::accuracy computes it for a seasonal series. ok is false when
// the scale is 0 (a series that repeats itself exactly, or is all zero).
func MASE(train, actual, forecast []float64, period int) (mase float64, ok bool) {
	if len(actual) != len(forecast) || len(actual) == 0 || len(train) <= period {
		return 0, false
	}
	var scale float64
	for t := period; t < len(train); t++ {
		scale += math.Abs(train[t] - train[t-period])
	}
	scale /= float64(len(train) - period)
	if scale == 0 {
		return 0, false
	}
	var mae float64
	for i := range actual {
		mae += math.Abs(actual[i] - forecast[i])
	}
	mae /= float64(len(actual))
	return mae / scale, true
}

// DemandConfig tunes ForecastDemand. Zero values take the defaults.
type DemandConfig struct {
	Period  int     // seasonal period in days (7)
	Horizon int     // days to forecast after the series (28)
	Holdout int     // last days held out to measure MASE (14)
	Alpha   float64 // Croston's smoothing parameter (DefaultCrostonAlpha)
}

func (c DemandConfig) withDefaults() DemandConfig {
	if c.Period <= 0 {
		c.Period = 7
	}
	if c.Horizon <= 0 {
		c.Horizon = 28
	}
	if c.Holdout <= 0 {
		c.Holdout = 14
	}
	if c.Alpha <= 0 {
		c.Alpha = DefaultCrostonAlpha
	}
	return c
}

// MinHoltWintersDays is the shortest training series (after the holdout)
// that Holt-Winters is fitted to: three periods, two to start from and one
// to fit on. Shorter regular series use Croston-SBA.
func MinHoltWintersDays(period int) int { return 3 * period }

// DemandForecast is one product's forecast and its accuracy.
type DemandForecast struct {
	Method string      `json:"method"`
	Class  DemandClass `json:"class"`
	// Forecast is one value per day of the horizon, never negative.
	Forecast []float64 `json:"forecast"`
	// MASE is the method's accuracy on the holdout (refitted on the
	// series before it), and SeasonalNaiveMASE the seasonal naive's on the
	// same holdout; HasMASE is false when the series is too short for a
	// holdout or its scale is 0.
	MASE              float64 `json:"mase"`
	SeasonalNaiveMASE float64 `json:"snaive_mase"`
	HasMASE           bool    `json:"has_mase"`
	// Params are the fitted model's parameters (HoltWinters or Croston).
	Params map[string]any `json:"params"`
}

// ForecastDemand classifies a daily demand series, forecasts it with
// Holt-Winters (smooth and erratic demand, enough history) or Croston-SBA
// (intermittent and lumpy demand, or short history), and measures the
// chosen method by MASE on the last cfg.Holdout days.
func ForecastDemand(x []float64, cfg DemandConfig) (DemandForecast, error) {
	cfg = cfg.withDefaults()
	if len(x) == 0 {
		return DemandForecast{}, errors.New("forecast demand: empty series")
	}
	class := ClassifyDemand(x)
	method := MethodCrostonSBA
	if class.ADI < ADICutoff && len(x)-cfg.Holdout >= MinHoltWintersDays(cfg.Period) {
		method = MethodHoltWinters
	}
	fit := func(train []float64, h int) ([]float64, map[string]any, error) {
		if method == MethodHoltWinters {
			m, err := FitHoltWinters(train, cfg.Period)
			if err != nil {
				return nil, nil, err
			}
			f := m.Forecast(h)
			for i := range f {
				f[i] = math.Max(0, f[i])
			}
			return f, map[string]any{"alpha": m.Alpha, "beta": m.Beta, "gamma": m.Gamma, "sse": m.SSE,
				"level": m.Level, "trend": m.Trend, "season": m.Season, "period": m.Period}, nil
		}
		c, err := FitCroston(train, cfg.Alpha)
		if err != nil {
			return nil, nil, err
		}
		f := make([]float64, h)
		for i := range f {
			f[i] = c.SBA()
		}
		return f, map[string]any{"alpha": c.Alpha, "size": c.Size, "interval": c.Interval}, nil
	}
	out := DemandForecast{Method: method, Class: class}
	if n := len(x) - cfg.Holdout; n > cfg.Period {
		train, test := x[:n], x[n:]
		f, _, err := fit(train, cfg.Holdout)
		if err != nil {
			return DemandForecast{}, fmt.Errorf("forecast demand: holdout fit: %w", err)
		}
		m, ok := MASE(train, test, f, cfg.Period)
		sn, ok2 := MASE(train, test, SeasonalNaive(train, cfg.Period, cfg.Holdout), cfg.Period)
		if ok && ok2 {
			out.MASE, out.SeasonalNaiveMASE, out.HasMASE = m, sn, true
		}
	}
	f, params, err := fit(x, cfg.Horizon)
	if err != nil {
		return DemandForecast{}, fmt.Errorf("forecast demand: %w", err)
	}
	out.Forecast, out.Params = f, params
	return out, nil
}
