package analytics

import (
	"fmt"
	"math"
	"sort"
)

// CustomerHistory is one customer's purchases up to an as-of time, in the
// units the caller chose (ShopPulse uses days and minor currency units).
type CustomerHistory struct {
	CustomerID string
	// RecencyDays is the time from the last purchase to the as-of time.
	RecencyDays float64
	// Frequency is the number of purchases (orders) in the window.
	Frequency int
	// Monetary is the total spend in the window.
	Monetary float64
}

// RFM is a customer's RFM scores and named segment.
type RFM struct {
	CustomerID string
	// R, F and M are quintile scores from 1 (worst) to 5 (best): R is high
	// for a recent last purchase, F for many purchases, M for a high spend.
	R, F, M int
	Segment string
}

// Code is the scores as a three-digit string such as "545".
func (r RFM) Code() string { return fmt.Sprintf("%d%d%d", r.R, r.F, r.M) }

// Segment names of the RFM map.
const (
	SegChampions          = "Champions"
	SegLoyal              = "Loyal"
	SegPotentialLoyalists = "Potential loyalists"
	SegNewCustomers       = "New customers"
	SegPromising          = "Promising"
	SegNeedAttention      = "Need attention"
	SegAboutToSleep       = "About to sleep"
	SegAtRisk             = "At risk"
	SegCantLose           = "Can't lose them"
	SegHibernating        = "Hibernating"
)

// RFMSegment names the segment of an (R, F) score pair. It is the widely
// used R x F grid (monetary refines but does not move a customer between
// segments), and covers every pair exactly once:
//
//	R \ F   1                2                3                4         5
//	5       New customers    Potential loyal. Potential loyal. Champions Champions
//	4       Promising        Potential loyal. Potential loyal. Loyal     Loyal
//	3       About to sleep   About to sleep   Need attention   Loyal     Loyal
//	2       Hibernating      Hibernating      At risk          At risk   Can't lose them
//	1       Hibernating      Hibernating      At risk          At risk   Can't lose them
func RFMSegment(r, f int) string {
	switch {
	case r <= 2 && f <= 2:
		return SegHibernating
	case r <= 2 && f <= 4:
		return SegAtRisk
	case r <= 2:
		return SegCantLose
	case r == 3 && f <= 2:
		return SegAboutToSleep
	case r == 3 && f == 3:
		return SegNeedAttention
	case r == 5 && f >= 4:
		return SegChampions
	case f >= 4:
		return SegLoyal
	case f == 1 && r == 4:
		return SegPromising
	case f == 1:
		return SegNewCustomers
	default:
		return SegPotentialLoyalists
	}
}

// QuintileScores gives each value a score from 1 to 5 by its mid-rank
// percentile: p = (number below + half the number equal) / n, score =
// floor(5p) + 1. Equal values share a score, so a mass of ties (most
// customers buy once) lands in one quintile rather than being split
// arbitrarily. Higher values score higher.
func QuintileScores(values []float64) []int {
	n := len(values)
	scores := make([]int, n)
	if n == 0 {
		return scores
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return values[idx[a]] < values[idx[b]] })
	for lo := 0; lo < n; {
		hi := lo
		for hi < n && values[idx[hi]] == values[idx[lo]] {
			hi++
		}
		p := (float64(lo) + float64(hi-lo)/2) / float64(n)
		s := int(math.Floor(5*p)) + 1
		if s > 5 {
			s = 5
		}
		for k := lo; k < hi; k++ {
			scores[idx[k]] = s
		}
		lo = hi
	}
	return scores
}

// ScoreRFM scores every customer against the others: quintiles of recency
// (more recent scores higher), frequency and monetary value, and the named
// segment of RFMSegment. The result is in the input's order.
func ScoreRFM(hs []CustomerHistory) []RFM {
	rec := make([]float64, len(hs))
	freq := make([]float64, len(hs))
	mon := make([]float64, len(hs))
	for i, h := range hs {
		rec[i] = -h.RecencyDays
		freq[i] = float64(h.Frequency)
		mon[i] = h.Monetary
	}
	r, f, m := QuintileScores(rec), QuintileScores(freq), QuintileScores(mon)
	out := make([]RFM, len(hs))
	for i, h := range hs {
		out[i] = RFM{CustomerID: h.CustomerID, R: r[i], F: f[i], M: m[i], Segment: RFMSegment(r[i], f[i])}
	}
	return out
}
