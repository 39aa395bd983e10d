package analytics

import (
	"errors"
	"fmt"
	"math"
)

// ErrCollinear is returned by OLS when the columns of the design matrix are
// linearly dependent (or nearly so), so the coefficients are not identified.
var ErrCollinear = errors.New("collinear design: coefficients not identified")

// OLSFit is an ordinary least squares fit of y on the columns of X.
type OLSFit struct {
	Coef   []float64
	StdErr []float64 // from sigma^2 (X'X)^-1, sigma^2 = RSS / (n - k)
	RSS    float64
	R2     float64 // 1 - RSS/TSS around the mean of y (0 when y is constant)
	N, K   int
}

// OLS fits y = X b + e by least squares: the normal equations solved by a
// Cholesky factorisation of X'X with its columns scaled to unit diagonal, so
// the collinearity test (a pivot below 1e-10) does not depend on units.
// X is row-major, n rows of k columns; it needs n > k.
func OLS(x [][]float64, y []float64) (OLSFit, error) {
	n := len(y)
	if n == 0 || len(x) != n {
		return OLSFit{}, fmt.Errorf("ols: %d rows of X for %d values of y", len(x), n)
	}
	k := len(x[0])
	if k == 0 || n <= k {
		return OLSFit{}, fmt.Errorf("ols: %d observations for %d coefficients, want more observations", n, k)
	}
	xtx := make([][]float64, k)
	for i := range xtx {
		xtx[i] = make([]float64, k)
	}
	xty := make([]float64, k)
	for r, row := range x {
		if len(row) != k {
			return OLSFit{}, fmt.Errorf("ols: row %d has %d columns, want %d", r, len(row), k)
		}
		for i := range k {
			xty[i] += row[i] * y[r]
			for j := 0; j <= i; j++ {
				xtx[i][j] += row[i] * row[j]
			}
		}
	}
	scale := make([]float64, k)
	for i := range k {
		if xtx[i][i] <= 0 {
			return OLSFit{}, fmt.Errorf("ols: column %d is all zeros: %w", i, ErrCollinear)
		}
		scale[i] = 1 / math.Sqrt(xtx[i][i])
	}
	// a = D X'X D (lower triangle), factor a = L L'.
	l := make([][]float64, k)
	for i := range k {
		l[i] = make([]float64, k)
		for j := 0; j <= i; j++ {
			s := xtx[i][j] * scale[i] * scale[j]
			for m := range j {
				s -= l[i][m] * l[j][m]
			}
			if i == j {
				if s < 1e-10 {
					return OLSFit{}, fmt.Errorf("ols: column %d: %w", i, ErrCollinear)
				}
				l[i][i] = math.Sqrt(s)
			} else {
				l[i][j] = s / l[j][j]
			}
		}
	}
	// inv(a) = inv(L)' inv(L); b = D inv(a) D X'y.
	linv := make([][]float64, k)
	for i := range k {
		linv[i] = make([]float64, k)
		linv[i][i] = 1 / l[i][i]
		for j := range i {
			var s float64
			for m := j; m < i; m++ {
				s += l[i][m] * linv[m][j]
			}
			linv[i][j] = -s / l[i][i]
		}
	}
	ainv := make([][]float64, k)
	for i := range k {
		ainv[i] = make([]float64, k)
		for j := range k {
			var s float64
			for m := max(i, j); m < k; m++ {
				s += linv[m][i] * linv[m][j]
			}
			ainv[i][j] = s
		}
	}
	fit := OLSFit{Coef: make([]float64, k), StdErr: make([]float64, k), N: n, K: k}
	for i := range k {
		var s float64
		for j := range k {
			s += ainv[i][j] * scale[j] * xty[j]
		}
		fit.Coef[i] = scale[i] * s
	}
	var mean float64
	for _, v := range y {
		mean += v
	}
	mean /= float64(n)
	var tss float64
	for r, row := range x {
		pred := 0.0
		for i := range k {
			pred += row[i] * fit.Coef[i]
		}
		e := y[r] - pred
		fit.RSS += e * e
		tss += (y[r] - mean) * (y[r] - mean)
	}
	if tss > 0 {
		fit.R2 = 1 - fit.RSS/tss
	}
	sigma2 := fit.RSS / float64(n-k)
	for i := range k {
		fit.StdErr[i] = math.Sqrt(sigma2 * ainv[i][i] * scale[i] * scale[i])
	}
	return fit, nil
}
