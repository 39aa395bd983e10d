package analytics

import (
	"math"
	"testing"
)

func TestRobustZ(t *testing.T) {
	tests := []struct {
		name          string
		x             float64
		history       []float64
		wantZ, wantMd float64
		ok            bool
	}{
		// median 10, |dev| = 0,1,1,2,2 -> MAD 1, scale 1.4826.
		{"hand computed", 13, []float64{8, 9, 10, 11, 12}, 3 / 1.4826, 10, true},
		{"outlier in history does not widen", 13, []float64{8, 9, 10, 11, 1000}, 3 / 1.4826, 10, true},
		{"flat history uses 10% of the median", 120, []float64{100, 100, 100, 100}, 2, 100, true},
		{"all zero history uses 1", 3, []float64{0, 0, 0}, 3, 0, true},
		{"too short", 5, []float64{1, 2}, 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, md, _, ok := RobustZ(tt.x, tt.history, 3)
			if ok != tt.ok || math.Abs(z-tt.wantZ) > 1e-9 || md != tt.wantMd {
				t.Fatalf("RobustZ = z %v median %v ok %v, want %v %v %v", z, md, ok, tt.wantZ, tt.wantMd, tt.ok)
			}
		})
	}
}
