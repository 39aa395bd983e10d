package analytics

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestQuintileScores(t *testing.T) {
	tests := []struct {
		name   string
		values []float64
		want   []int
	}{
		// Ten distinct values: mid-rank percentiles 0.05, 0.15, ... 0.95.
		{"ten distinct", []float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, []int{5, 5, 4, 4, 3, 3, 2, 2, 1, 1}},
		// Six ties of 1 have mid-rank percentile 3/10 -> 2; then 0.65 -> 4,
		// 0.75 -> 4, 0.85 -> 5, 0.95 -> 5.
		{"ties share a score", []float64{1, 1, 1, 1, 1, 1, 2, 3, 4, 5}, []int{2, 2, 2, 2, 2, 2, 4, 4, 5, 5}},
		{"all equal", []float64{3, 3, 3}, []int{3, 3, 3}},
		{"one", []float64{7}, []int{3}},
		{"none", nil, []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := QuintileScores(tt.values); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("QuintileScores(%v) = %v, want %v", tt.values, got, tt.want)
			}
		})
	}
}

func TestRFMSegment_CoversTheGrid(t *testing.T) {
	tests := []struct {
		r, f int
		want string
	}{
		{5, 5, SegChampions}, {5, 4, SegChampions}, {4, 5, SegLoyal}, {3, 4, SegLoyal},
		{5, 3, SegPotentialLoyalists}, {4, 2, SegPotentialLoyalists}, {5, 1, SegNewCustomers},
		{4, 1, SegPromising}, {3, 3, SegNeedAttention}, {3, 2, SegAboutToSleep}, {3, 1, SegAboutToSleep},
		{2, 4, SegAtRisk}, {1, 3, SegAtRisk}, {1, 5, SegCantLose}, {2, 5, SegCantLose},
		{1, 1, SegHibernating}, {2, 2, SegHibernating},
	}
	for _, tt := range tests {
		if got := RFMSegment(tt.r, tt.f); got != tt.want {
			t.Errorf("RFMSegment(%d, %d) = %q, want %q", tt.r, tt.f, got, tt.want)
		}
	}
	for r := 1; r <= 5; r++ {
		for f := 1; f <= 5; f++ {
			if RFMSegment(r, f) == "" {
				t.Errorf("RFMSegment(%d, %d) is unnamed", r, f)
			}
		}
	}
}

func TestScoreRFM(t *testing.T) {
	hs := []CustomerHistory{
		{"fresh-big", 1, 20, 5000},
		{"old-small", 300, 1, 10},
		{"mid", 60, 3, 200},
		{"recent-once", 2, 1, 50},
		{"lapsed-big", 250, 15, 4000},
	}
	got := ScoreRFM(hs)
	// Five customers: each value's own quintile (distinct values), except
	// frequency 1 twice (mid-rank 1/5 -> 2).
	want := []RFM{
		{"fresh-big", 5, 5, 5, SegChampions},
		{"old-small", 1, 2, 1, SegHibernating},
		{"mid", 3, 3, 3, SegNeedAttention},
		{"recent-once", 4, 2, 2, SegPotentialLoyalists},
		{"lapsed-big", 2, 4, 4, SegAtRisk},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ScoreRFM = %+v\nwant %+v", got, want)
	}
	if got[0].Code() != "555" {
		t.Errorf("code %q", got[0].Code())
	}
}

func TestStandardise(t *testing.T) {
	z, mean, sd := Standardise([][]float64{{1, 5}, {3, 5}})
	if !reflect.DeepEqual(mean, []float64{2, 5}) || !reflect.DeepEqual(sd, []float64{1, 1}) {
		t.Fatalf("mean %v sd %v", mean, sd)
	}
	if !reflect.DeepEqual(z, [][]float64{{-1, 0}, {1, 0}}) {
		t.Fatalf("z %v", z)
	}
}

// blobs draws n points around each centre with the given spread.
func blobs(centres [][]float64, n int, spread float64, seed uint64) ([][]float64, []int) {
	rng := rand.New(rand.NewPCG(seed, 2))
	var x [][]float64
	var truth []int
	for c, ctr := range centres {
		for i := 0; i < n; i++ {
			p := make([]float64, len(ctr))
			for j, v := range ctr {
				p[j] = v + spread*rng.NormFloat64()
			}
			x = append(x, p)
			truth = append(truth, c)
		}
	}
	return x, truth
}

func TestKMeans_HandComputed(t *testing.T) {
	// Two obvious pairs: centroids (0, 0.5) and (10, 0.5); inertia 4 * 0.25.
	x := [][]float64{{0, 0}, {0, 1}, {10, 0}, {10, 1}}
	res, err := KMeans(x, 2, 1, 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inertia != 1 {
		t.Errorf("inertia %v, want 1", res.Inertia)
	}
	if res.Labels[0] != res.Labels[1] || res.Labels[2] != res.Labels[3] || res.Labels[0] == res.Labels[2] {
		t.Errorf("labels %v", res.Labels)
	}
	// Equal sizes: numbered by centroid, so (0, 0.5) is cluster 0.
	if !reflect.DeepEqual(res.Centroids, [][]float64{{0, 0.5}, {10, 0.5}}) || res.Labels[0] != 0 {
		t.Errorf("centroids %v labels %v", res.Centroids, res.Labels)
	}
	// Silhouette by hand: for (0,0): a = 1, b = (10 + √101)/2; likewise
	// for every point by symmetry.
	b := (10 + sqrt(101)) / 2
	if s := Silhouette(x, res.Labels, 2); !closeTo(s, (b-1)/b, 1e-12) {
		t.Errorf("silhouette %v, want %v", s, (b-1)/b)
	}
	if _, err := KMeans(x, 5, 1, 1, 10); err == nil {
		t.Error("5 clusters of 4 points: want an error")
	}
}

func TestSegment_FindsTheBlobsDeterministically(t *testing.T) {
	x, truth := blobs([][]float64{{0, 0, 0}, {8, 0, 0}, {0, 8, 0}, {0, 0, 8}}, 150, 1, 3)
	seg, err := Segment(x, SegmentationConfig{KMin: 2, KMax: 7, Seed: 42, Restarts: 4, SilhouetteSample: 300})
	if err != nil {
		t.Fatal(err)
	}
	if seg.K != 4 {
		t.Fatalf("chose k = %d (silhouettes %v), want 4", seg.K, seg.Silhouettes)
	}
	// Every true blob maps to one cluster.
	of := map[int]int{}
	for i, l := range seg.Labels {
		if c, ok := of[truth[i]]; ok && c != l {
			t.Fatalf("blob %d split over clusters %d and %d", truth[i], c, l)
		}
		of[truth[i]] = l
	}
	if !reflect.DeepEqual(seg.Sizes, []int{150, 150, 150, 150}) {
		t.Errorf("sizes %v", seg.Sizes)
	}
	again, _ := Segment(x, SegmentationConfig{KMin: 2, KMax: 7, Seed: 42, Restarts: 4, SilhouetteSample: 300})
	if !reflect.DeepEqual(again, seg) {
		t.Error("same input and seed gave a different segmentation")
	}
	if _, err := Segment(x, SegmentationConfig{KMin: 1, KMax: 3}); err == nil {
		t.Error("k_min 1: want an error")
	}
}
