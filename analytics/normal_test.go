package analytics

import (
	"math"
	"testing"
)

// Published quantiles of the standard normal (as R's qnorm(p) prints them).
func TestNormalQuantile_KnownValues(t *testing.T) {
	tests := []struct {
		p, want float64
	}{
		{0.5, 0},
		{0.8413447460685429, 1}, // pnorm(1)
		{0.9, 1.2815515655446004},
		{0.95, 1.6448536269514722},
		{0.975, 1.959963984540054},
		{0.99, 2.3263478740408408},
		{0.999, 3.090232306167813},
		{0.05, -1.6448536269514722},
		{1e-10, -6.361340902404056}, // the far tail (r > 5 branch)
	}
	for _, tt := range tests {
		got, err := NormalQuantile(tt.p)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("NormalQuantile(%v) = %.15f, want %.15f", tt.p, got, tt.want)
		}
	}
}

func TestNormalQuantile_InvertsTheCDF(t *testing.T) {
	for p := 0.001; p < 1; p += 0.001 {
		z, err := NormalQuantile(p)
		if err != nil {
			t.Fatal(err)
		}
		if back := 0.5 * math.Erfc(-z/math.Sqrt2); math.Abs(back-p) > 1e-12 {
			t.Fatalf("Phi(NormalQuantile(%v)) = %v", p, back)
		}
	}
}

func TestNormalQuantile_RejectsOutOfRange(t *testing.T) {
	for _, p := range []float64{0, 1, -0.1, 1.5, math.NaN()} {
		if _, err := NormalQuantile(p); err == nil {
			t.Errorf("NormalQuantile(%v): want an error", p)
		}
	}
}
