package analytics

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Standardise returns the columns of x scaled to mean 0 and standard
// deviation 1 (population), with the means and deviations used. A constant
// column is centred and left unscaled (its deviation is reported as 1).
func Standardise(x [][]float64) (z [][]float64, mean, sd []float64) {
	if len(x) == 0 {
		return nil, nil, nil
	}
	d := len(x[0])
	mean, sd = make([]float64, d), make([]float64, d)
	for _, row := range x {
		for j, v := range row {
			mean[j] += v
		}
	}
	n := float64(len(x))
	for j := range mean {
		mean[j] /= n
	}
	for _, row := range x {
		for j, v := range row {
			sd[j] += (v - mean[j]) * (v - mean[j])
		}
	}
	for j := range sd {
		sd[j] = math.Sqrt(sd[j] / n)
		if sd[j] < 1e-12 {
			sd[j] = 1
		}
	}
	z = make([][]float64, len(x))
	for i, row := range x {
		z[i] = make([]float64, d)
		for j, v := range row {
			z[i][j] = (v - mean[j]) / sd[j]
		}
	}
	return z, mean, sd
}

// KMeansResult is one clustering: Labels[i] is the cluster of point i.
// Clusters are numbered by decreasing size (ties by centroid), so the same
// partition always gets the same numbers.
type KMeansResult struct {
	K          int
	Centroids  [][]float64
	Labels     []int
	Sizes      []int
	Inertia    float64 // sum of squared distances to the own centroid
	Iterations int
}

func sqDist(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		d := a[i] - b[i]
		s += d * d
	}
	return s
}

// KMeans clusters x into k clusters with Lloyd's algorithm from k-means++
// seeds (Arthur and Vassilvitskii 2007), restarts times, keeping the run of
// least inertia. The same x, k and seed give the same result.
func KMeans(x [][]float64, k int, seed uint64, restarts, maxIter int) (KMeansResult, error) {
	if k < 1 {
		return KMeansResult{}, fmt.Errorf("k-means: k must be at least 1, got %d", k)
	}
	if len(x) < k {
		return KMeansResult{}, fmt.Errorf("k-means: %d points cannot make %d clusters", len(x), k)
	}
	if restarts < 1 {
		restarts = 1
	}
	if maxIter < 1 {
		maxIter = 300
	}
	rng := rand.New(rand.NewPCG(seed, 0x6b6d65616e73))
	best := KMeansResult{Inertia: math.Inf(1)}
	for r := 0; r < restarts; r++ {
		res := lloyd(x, plusPlus(x, k, rng), maxIter)
		if res.Inertia < best.Inertia {
			best = res
		}
	}
	return canonical(x, best), nil
}

// plusPlus picks k initial centroids: the first uniformly, each next one
// with probability proportional to its squared distance to the nearest
// centroid chosen so far.
func plusPlus(x [][]float64, k int, rng *rand.Rand) [][]float64 {
	cs := [][]float64{append([]float64(nil), x[rng.IntN(len(x))]...)}
	d := make([]float64, len(x))
	for i := range x {
		d[i] = sqDist(x[i], cs[0])
	}
	for len(cs) < k {
		total := 0.0
		for _, v := range d {
			total += v
		}
		next := 0
		if total > 0 {
			u := rng.Float64() * total
			for i, v := range d {
				u -= v
				if u < 0 {
					next = i
					break
				}
				next = i
			}
		} else {
			next = rng.IntN(len(x))
		}
		c := append([]float64(nil), x[next]...)
		cs = append(cs, c)
		for i := range x {
			if v := sqDist(x[i], c); v < d[i] {
				d[i] = v
			}
		}
	}
	return cs
}

func lloyd(x [][]float64, cs [][]float64, maxIter int) KMeansResult {
	k, dim := len(cs), len(x[0])
	labels := make([]int, len(x))
	for i := range labels {
		labels[i] = -1
	}
	it := 0
	for ; it < maxIter; it++ {
		changed := false
		for i, p := range x {
			bi, bd := 0, math.Inf(1)
			for c := range cs {
				if d := sqDist(p, cs[c]); d < bd {
					bi, bd = c, d
				}
			}
			if labels[i] != bi {
				labels[i], changed = bi, true
			}
		}
		if !changed {
			break
		}
		sums := make([][]float64, k)
		counts := make([]int, k)
		for c := range sums {
			sums[c] = make([]float64, dim)
		}
		for i, p := range x {
			counts[labels[i]]++
			for j, v := range p {
				sums[labels[i]][j] += v
			}
		}
		for c := range cs {
			if counts[c] == 0 {
				// An empty cluster takes the point farthest from its centroid.
				far, fd := 0, -1.0
				for i, p := range x {
					if d := sqDist(p, cs[labels[i]]); d > fd {
						far, fd = i, d
					}
				}
				cs[c] = append([]float64(nil), x[far]...)
				labels[far] = c
				continue
			}
			for j := range sums[c] {
				cs[c][j] = sums[c][j] / float64(counts[c])
			}
		}
	}
	res := KMeansResult{K: k, Centroids: cs, Labels: labels, Iterations: it}
	for i, p := range x {
		res.Inertia += sqDist(p, cs[labels[i]])
	}
	return res
}

// canonical renumbers the clusters by decreasing size, ties by centroid.
func canonical(x [][]float64, r KMeansResult) KMeansResult {
	sizes := make([]int, r.K)
	for _, l := range r.Labels {
		sizes[l]++
	}
	order := make([]int, r.K)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		if sizes[order[a]] != sizes[order[b]] {
			return sizes[order[a]] > sizes[order[b]]
		}
		ca, cb := r.Centroids[order[a]], r.Centroids[order[b]]
		for j := range ca {
			if ca[j] != cb[j] {
				return ca[j] < cb[j]
			}
		}
		return false
	})
	newOf := make([]int, r.K)
	out := KMeansResult{K: r.K, Inertia: r.Inertia, Iterations: r.Iterations, Labels: make([]int, len(r.Labels)), Sizes: make([]int, r.K)}
	for n, old := range order {
		newOf[old] = n
		out.Centroids = append(out.Centroids, r.Centroids[old])
		out.Sizes[n] = sizes[old]
	}
	for i, l := range r.Labels {
		out.Labels[i] = newOf[l]
	}
	return out
}

// Silhouette is the mean silhouette coefficient of a clustering (Rousseeuw
// 1987): for each point, (b - a) / max(a, b) with a its mean distance to
// its own cluster and b to the nearest other cluster; 0 for a point alone
// in its cluster. It is O(n^2): pass a sample for large n.
func Silhouette(x [][]float64, labels []int, k int) float64 {
	if len(x) < 2 || k < 2 {
		return 0
	}
	sizes := make([]int, k)
	for _, l := range labels {
		sizes[l]++
	}
	total := 0.0
	sum := make([]float64, k)
	for i, p := range x {
		for c := range sum {
			sum[c] = 0
		}
		for j, q := range x {
			if i != j {
				sum[labels[j]] += math.Sqrt(sqDist(p, q))
			}
		}
		own := labels[i]
		if sizes[own] <= 1 {
			continue
		}
		a := sum[own] / float64(sizes[own]-1)
		b := math.Inf(1)
		for c := range sum {
			if c != own && sizes[c] > 0 {
				b = math.Min(b, sum[c]/float64(sizes[c]))
			}
		}
		if math.IsInf(b, 1) {
			continue
		}
		if m := math.Max(a, b); m > 0 {
			total += (b - a) / m
		}
	}
	return total / float64(len(x))
}

// SegmentationConfig chooses k and runs k-means.
type SegmentationConfig struct {
	KMin, KMax int
	Seed       uint64
	Restarts   int
	MaxIter    int
	// SilhouetteSample bounds the points the silhouette is computed on
	// (an evenly spaced, deterministic sample).
	SilhouetteSample int
}

// DefaultSegmentationConfig is what the CustomerFeatures workflow uses.
var DefaultSegmentationConfig = SegmentationConfig{KMin: 2, KMax: 8, Seed: 1, Restarts: 5, MaxIter: 300, SilhouetteSample: 2000}

// Segmentation is a clustering of standardised features with the k chosen.
type Segmentation struct {
	KMeansResult
	// Silhouettes[i] is the mean silhouette for k = KMin + i.
	Silhouettes []float64
	Silhouette  float64
	Mean, SD    []float64 // the standardisation of the raw features
}

// Segment standardises x, clusters it for every k in [KMin, KMax] and
// keeps the k of the highest mean silhouette (the smaller k on a tie).
func Segment(x [][]float64, cfg SegmentationConfig) (Segmentation, error) {
	if cfg.KMin < 2 || cfg.KMax < cfg.KMin {
		return Segmentation{}, fmt.Errorf("segmentation: want 2 <= k_min <= k_max, got %d and %d", cfg.KMin, cfg.KMax)
	}
	if len(x) < cfg.KMin+1 {
		return Segmentation{}, errors.New("segmentation: too few customers to cluster")
	}
	z, mean, sd := Standardise(x)
	sample := z
	step := 1
	if cfg.SilhouetteSample > 0 && len(z) > cfg.SilhouetteSample {
		step = (len(z) + cfg.SilhouetteSample - 1) / cfg.SilhouetteSample
	}
	var sampleIdx []int
	for i := 0; i < len(z); i += step {
		sampleIdx = append(sampleIdx, i)
	}
	if step > 1 {
		sample = make([][]float64, len(sampleIdx))
		for n, i := range sampleIdx {
			sample[n] = z[i]
		}
	}
	out := Segmentation{Silhouette: math.Inf(-1), Mean: mean, SD: sd}
	kmax := cfg.KMax
	if kmax > len(x)-1 {
		kmax = len(x) - 1
	}
	for k := cfg.KMin; k <= kmax; k++ {
		res, err := KMeans(z, k, cfg.Seed, cfg.Restarts, cfg.MaxIter)
		if err != nil {
			return Segmentation{}, err
		}
		labels := make([]int, len(sampleIdx))
		for n, i := range sampleIdx {
			labels[n] = res.Labels[i]
		}
		s := Silhouette(sample, labels, k)
		out.Silhouettes = append(out.Silhouettes, s)
		if s > out.Silhouette {
			out.Silhouette, out.KMeansResult = s, res
		}
	}
	return out, nil
}
