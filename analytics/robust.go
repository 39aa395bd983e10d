package analytics

import (
	"math"
	"slices"
)

// RobustZ scores x against a history by its median and median absolute
// deviation (scaled by 1.4826 to match a normal's standard deviation), so a
// few outliers in the history do not hide a new one. When the MAD is zero
// (a flat history) the scale falls back to 10% of the median, then to 1. ok
// is false with fewer than minHistory values.
func RobustZ(x float64, history []float64, minHistory int) (z, median, scale float64, ok bool) {
	if len(history) < minHistory || len(history) == 0 {
		return 0, 0, 0, false
	}
	h := slices.Clone(history)
	slices.Sort(h)
	median = medianSorted(h)
	dev := make([]float64, len(h))
	for i, v := range h {
		dev[i] = math.Abs(v - median)
	}
	slices.Sort(dev)
	scale = 1.4826 * medianSorted(dev)
	if scale == 0 {
		scale = 0.1 * math.Abs(median)
	}
	if scale == 0 {
		scale = 1
	}
	return (x - median) / scale, median, scale, true
}

func medianSorted(s []float64) float64 {
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
