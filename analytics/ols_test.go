package analytics

import (
	"errors"
	"math"
	"testing"
)

func TestOLS_HandComputed(t *testing.T) {
	// y on (1, x) with x = 0,1,2,3 and y = 1,3,2,5:
	// xbar 1.5, ybar 2.75, Sxy = 5.5, Sxx = 5, slope 1.1, intercept 1.1;
	// residuals -0.1, 0.8, -1.3, 0.6: RSS 2.7, TSS 8.75, R2 = 1 - 2.7/8.75;
	// se(slope) = sqrt(2.7/2 / 5), se(intercept) = sqrt(2.7/2 * (1/4 + 2.25/5)).
	x := [][]float64{{1, 0}, {1, 1}, {1, 2}, {1, 3}}
	y := []float64{1, 3, 2, 5}
	fit, err := OLS(x, y)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ got, want float64 }{
		{fit.Coef[0], 1.1}, {fit.Coef[1], 1.1}, {fit.RSS, 2.7}, {fit.R2, 1 - 2.7/8.75},
		{fit.StdErr[1], math.Sqrt(1.35 / 5)}, {fit.StdErr[0], math.Sqrt(1.35 * (0.25 + 2.25/5))},
	}
	for i, w := range want {
		if math.Abs(w.got-w.want) > 1e-12 {
			t.Errorf("value %d = %.15f, want %.15f", i, w.got, w.want)
		}
	}
}

func TestOLS_ThreeColumnsExact(t *testing.T) {
	// y = 2 - 3 a + 0.5 b exactly: coefficients back, RSS 0.
	var x [][]float64
	var y []float64
	for i := range 10 {
		a, b := float64(i), float64((i*7)%5)
		x = append(x, []float64{1, a, b})
		y = append(y, 2-3*a+0.5*b)
	}
	fit, err := OLS(x, y)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []float64{2, -3, 0.5} {
		if math.Abs(fit.Coef[i]-w) > 1e-9 {
			t.Fatalf("coef %d = %v, want %v", i, fit.Coef[i], w)
		}
	}
	if fit.RSS > 1e-18 || math.Abs(fit.R2-1) > 1e-12 {
		t.Fatalf("RSS %v R2 %v", fit.RSS, fit.R2)
	}
}

func TestOLS_CollinearAndShortInputs(t *testing.T) {
	x := [][]float64{{1, 2, 4}, {1, 3, 6}, {1, 5, 10}, {1, 7, 14}}
	if _, err := OLS(x, []float64{1, 2, 3, 4}); !errors.Is(err, ErrCollinear) {
		t.Fatalf("collinear columns: got %v", err)
	}
	if _, err := OLS([][]float64{{1, 0}, {1, 1}}, []float64{1, 2}); err == nil {
		t.Fatal("as many observations as coefficients: want an error")
	}
	if _, err := OLS([][]float64{{1, 0}, {1}}, []float64{1, 2}); err == nil {
		t.Fatal("ragged rows: want an error")
	}
}
