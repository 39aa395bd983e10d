package analytics

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// FraudExample is one labelled order for the fraud model's training: its
// features as the hot path stored them, and whether it was fraud.
type FraudExample struct {
	Features FraudFeatures
	Fraud    bool
}

// LogisticConfig tunes TrainLogistic. Zero values take the defaults.
type LogisticConfig struct {
	// L2 is the ridge penalty on the standardised weights (not the bias):
	// the loss is the mean negative log-likelihood plus L2/2 * |w|^2.
	// Default DefaultLogisticL2; negative means none.
	L2 float64
	// MaxIter bounds the Newton steps (default 50).
	MaxIter int
	// Tol stops when the largest change of a standardised weight is below
	// it (default 1e-9).
	Tol float64
	// Inputs are the names (of FraudInputs) the model weighs; default all.
	Inputs []string
}

// DefaultLogisticL2 is the default ridge penalty: small against the mean
// log-likelihood, enough to keep weights finite when a feature separates
// the classes perfectly (as velocity features often do on fraud bursts).
const DefaultLogisticL2 = 1e-3

// FraudInputNames are the names of FraudInputs, sorted: what a trained
// model may weigh.
func FraudInputNames() []string {
	vals := FraudInputs(FraudFeatures{})
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// TrainLogistic fits an L2-regularised logistic regression to the examples
// by Newton's method (iteratively reweighted least squares) on standardised
// features, then folds the standardisation back into the weights, so the
// model scores raw features exactly as LogisticModel does on the hot path:
// w_raw = w_std / sd, bias_raw = bias_std - sum(w_std * mean / sd). A
// feature constant in the training data gets weight 0. The loss is convex,
// so the result does not depend on a starting point: the same examples
// give the same model.
func TrainLogistic(name string, ex []FraudExample, cfg LogisticConfig) (LogisticModel, error) {
	if len(ex) == 0 {
		return LogisticModel{}, errors.New("train logistic: no examples")
	}
	var pos int
	for _, e := range ex {
		if e.Fraud {
			pos++
		}
	}
	if pos == 0 || pos == len(ex) {
		return LogisticModel{}, fmt.Errorf("train logistic: need both classes, got %d fraud of %d", pos, len(ex))
	}
	if cfg.L2 == 0 {
		cfg.L2 = DefaultLogisticL2
	}
	if cfg.L2 < 0 {
		cfg.L2 = 0
	}
	if cfg.MaxIter <= 0 {
		cfg.MaxIter = 50
	}
	if cfg.Tol <= 0 {
		cfg.Tol = 1e-9
	}
	names := cfg.Inputs
	if len(names) == 0 {
		names = FraudInputNames()
	}
	known := FraudInputs(FraudFeatures{})
	for _, n := range names {
		if _, ok := known[n]; !ok {
			return LogisticModel{}, fmt.Errorf("train logistic: unknown input %q", n)
		}
	}
	X, y := designMatrix(ex, names)
	n, p := len(X), len(names)

	// Standardise; constant columns are dropped (weight 0).
	mean, sd := make([]float64, p), make([]float64, p)
	for j := 0; j < p; j++ {
		var s float64
		for i := 0; i < n; i++ {
			s += X[i][j]
		}
		mean[j] = s / float64(n)
		var v float64
		for i := 0; i < n; i++ {
			d := X[i][j] - mean[j]
			v += d * d
		}
		sd[j] = math.Sqrt(v / float64(n))
	}
	var cols []int
	for j := 0; j < p; j++ {
		if sd[j] > 1e-12 {
			cols = append(cols, j)
		}
	}
	k := len(cols) + 1 // bias first
	Z := make([][]float64, n)
	for i := range Z {
		row := make([]float64, k)
		row[0] = 1
		for c, j := range cols {
			row[c+1] = (X[i][j] - mean[j]) / sd[j]
		}
		Z[i] = row
	}
	beta := make([]float64, k)
	rate := float64(pos) / float64(n)
	beta[0] = math.Log(rate / (1 - rate))
	converged := false
	for it := 0; it < cfg.MaxIter; it++ {
		grad := make([]float64, k)
		H := make([][]float64, k)
		for a := range H {
			H[a] = make([]float64, k)
		}
		for i := 0; i < n; i++ {
			var z float64
			for a := 0; a < k; a++ {
				z += beta[a] * Z[i][a]
			}
			pi := sigmoid(z)
			w := pi * (1 - pi)
			r := pi - y[i]
			for a := 0; a < k; a++ {
				grad[a] += r * Z[i][a] / float64(n)
				za := Z[i][a] * w / float64(n)
				for b := a; b < k; b++ {
					H[a][b] += za * Z[i][b]
				}
			}
		}
		for a := 1; a < k; a++ {
			grad[a] += cfg.L2 * beta[a]
			H[a][a] += cfg.L2
		}
		for a := 0; a < k; a++ {
			for b := 0; b < a; b++ {
				H[a][b] = H[b][a]
			}
			H[a][a] += 1e-12 // keeps the solve defined when L2 is 0 and a column is degenerate
		}
		step, err := solveSPD(H, grad)
		if err != nil {
			return LogisticModel{}, fmt.Errorf("train logistic: newton step %d: %w", it, err)
		}
		// Backtracking: a full Newton step can overshoot where the
		// scores saturate; halve it until the penalised loss falls.
		cur := penalisedLoss(Z, y, beta, cfg.L2)
		var slope float64
		for a := 0; a < k; a++ {
			slope += grad[a] * step[a]
		}
		t := 1.0
		next := make([]float64, k)
		for ; t > 1e-10; t /= 2 {
			for a := 0; a < k; a++ {
				next[a] = beta[a] - t*step[a]
			}
			if penalisedLoss(Z, y, next, cfg.L2) <= cur-1e-4*t*slope {
				break
			}
		}
		var maxd float64
		for a := 0; a < k; a++ {
			maxd = math.Max(maxd, math.Abs(next[a]-beta[a]))
			beta[a] = next[a]
		}
		if maxd < cfg.Tol {
			converged = true
			break
		}
	}
	for _, b := range beta {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return LogisticModel{}, errors.New("train logistic: diverged (non-finite weights)")
		}
	}
	_ = converged // Newton on a convex, ridge-penalised loss: MaxIter steps are as good as it gets
	m := LogisticModel{Name: name, Bias: beta[0], Weights: make(map[string]float64, p)}
	for _, nm := range names {
		m.Weights[nm] = 0
	}
	for c, j := range cols {
		w := beta[c+1] / sd[j]
		m.Weights[names[j]] = w
		m.Bias -= w * mean[j]
	}
	return m, nil
}

// penalisedLoss is the mean negative log-likelihood plus l2/2 * |w|^2
// (the bias, beta[0], unpenalised).
func penalisedLoss(Z [][]float64, y, beta []float64, l2 float64) float64 {
	var ll float64
	for i, row := range Z {
		var z float64
		for a, b := range beta {
			z += b * row[a]
		}
		// log(1 + e^z) - y z, computed without overflow.
		if z > 0 {
			ll += z + math.Log1p(math.Exp(-z)) - y[i]*z
		} else {
			ll += math.Log1p(math.Exp(z)) - y[i]*z
		}
	}
	ll /= float64(len(Z))
	for _, b := range beta[1:] {
		ll += l2 / 2 * b * b
	}
	return ll
}

func designMatrix(ex []FraudExample, names []string) ([][]float64, []float64) {
	X := make([][]float64, len(ex))
	y := make([]float64, len(ex))
	for i, e := range ex {
		vals := FraudInputs(e.Features)
		row := make([]float64, len(names))
		for j, nm := range names {
			row[j] = vals[nm]
		}
		X[i] = row
		if e.Fraud {
			y[i] = 1
		}
	}
	return X, y
}

func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// solveSPD solves A x = b for a symmetric positive definite A by Cholesky
// decomposition. A and b are not modified.
func solveSPD(A [][]float64, b []float64) ([]float64, error) {
	n := len(A)
	L := make([][]float64, n)
	for i := range L {
		L[i] = make([]float64, n)
	}
	for i := 0; i < n; i++ {
		for j := 0; j <= i; j++ {
			s := A[i][j]
			for k := 0; k < j; k++ {
				s -= L[i][k] * L[j][k]
			}
			if i == j {
				if s <= 0 || math.IsNaN(s) {
					return nil, fmt.Errorf("matrix not positive definite at %d", i)
				}
				L[i][i] = math.Sqrt(s)
			} else {
				L[i][j] = s / L[j][j]
			}
		}
	}
	z := make([]float64, n)
	for i := 0; i < n; i++ {
		s := b[i]
		for k := 0; k < i; k++ {
			s -= L[i][k] * z[k]
		}
		z[i] = s / L[i][i]
	}
	x := make([]float64, n)
	for i := n - 1; i >= 0; i-- {
		s := z[i]
		for k := i + 1; k < n; k++ {
			s -= L[k][i] * x[k]
		}
		x[i] = s / L[i][i]
	}
	return x, nil
}

// ClassifierMetrics are a fraud model's figures on a set of labelled
// orders.
type ClassifierMetrics struct {
	N        int `json:"n"`
	Positive int `json:"positive"`
	// AUC is the area under the ROC curve: the probability that a random
	// fraud order scores above a random genuine one, ties counting half.
	// NaN without both classes: callers check before storing it.
	AUC float64 `json:"auc"`
	// Threshold is the alert threshold the counts below are taken at: an
	// order scoring at or above it is flagged, as on the hot path.
	Threshold float64 `json:"threshold"`
	Flagged   int     `json:"flagged"`
	TruePos   int     `json:"true_positives"`
	// Precision is TruePos/Flagged (0 when nothing is flagged); Recall is
	// TruePos/Positive.
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	// LogLoss is the mean negative log-likelihood (scores clamped to
	// [1e-15, 1-1e-15]).
	LogLoss float64 `json:"log_loss"`
}

// EvaluateFraudModel scores the examples with m and measures it.
func EvaluateFraudModel(m FraudModel, ex []FraudExample, threshold float64) ClassifierMetrics {
	scores := make([]float64, len(ex))
	labels := make([]bool, len(ex))
	for i, e := range ex {
		scores[i] = m.Score(e.Features)
		labels[i] = e.Fraud
	}
	return ScoreMetrics(scores, labels, threshold)
}

// ScoreMetrics measures scores against labels at a threshold.
func ScoreMetrics(scores []float64, labels []bool, threshold float64) ClassifierMetrics {
	m := ClassifierMetrics{N: len(scores), Threshold: threshold, AUC: ROCAUC(scores, labels)}
	var ll float64
	for i, s := range scores {
		if labels[i] {
			m.Positive++
		}
		if s >= threshold {
			m.Flagged++
			if labels[i] {
				m.TruePos++
			}
		}
		p := math.Min(math.Max(s, 1e-15), 1-1e-15)
		if labels[i] {
			ll -= math.Log(p)
		} else {
			ll -= math.Log(1 - p)
		}
	}
	if m.Flagged > 0 {
		m.Precision = float64(m.TruePos) / float64(m.Flagged)
	}
	if m.Positive > 0 {
		m.Recall = float64(m.TruePos) / float64(m.Positive)
	}
	if m.N > 0 {
		m.LogLoss = ll / float64(m.N)
	}
	return m
}

// ROCAUC is the area under the ROC curve by the Mann-Whitney statistic
// with average ranks for ties. NaN without both classes.
func ROCAUC(scores []float64, labels []bool) float64 {
	n := len(scores)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var pos, neg, rankSum float64
	for i := 0; i < n; {
		j := i
		for j < n && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for k := i; k < j; k++ {
			if labels[idx[k]] {
				rankSum += avg
			}
		}
		i = j
	}
	for _, l := range labels {
		if l {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		return math.NaN()
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg)
}
