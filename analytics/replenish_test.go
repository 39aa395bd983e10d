package analytics

import (
	"math"
	"testing"
)

func TestDailyDemandStats_HandComputed(t *testing.T) {
	// 2, 4, 4, 4, 5, 5, 7, 9: mean 5, sum of squares 32, sample variance 32/7.
	got := DailyDemandStats([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	if got.Days != 8 || got.Mean != 5 || math.Abs(got.Sigma-math.Sqrt(32.0/7)) > 1e-12 {
		t.Fatalf("got %+v", got)
	}
	if one := DailyDemandStats([]float64{3}); one.Mean != 3 || one.Sigma != 0 {
		t.Fatalf("one day: %+v", one)
	}
	if none := DailyDemandStats(nil); none != (DemandStats{}) {
		t.Fatalf("no days: %+v", none)
	}
}

func TestPlanReorder(t *testing.T) {
	z95 := 1.6448536269514722
	tests := []struct {
		name            string
		policy          ReorderPolicy
		demand          DemandStats
		onHand, onOrder int64
		wantROP, wantS  int64
		wantQty         int64
		wantSafety      float64
	}{
		{
			// mean 10/day, sigma 3, lead 4 days, 95%: 40 + 1.6449*3*2 = 49.87 -> 50;
			// order-up-to 50 + 10*7 = 120; at 30 on hand order 90.
			name:   "below the reorder point orders up to the level",
			policy: ReorderPolicy{ServiceLevel: 0.95, LeadTimeDays: 4, CoverDays: 7},
			demand: DemandStats{Days: 28, Mean: 10, Sigma: 3}, onHand: 30,
			wantROP: 50, wantS: 120, wantQty: 90, wantSafety: z95 * 6,
		},
		{
			name:   "stock on order counts toward the position",
			policy: ReorderPolicy{ServiceLevel: 0.95, LeadTimeDays: 4, CoverDays: 7},
			demand: DemandStats{Days: 28, Mean: 10, Sigma: 3}, onHand: 30, onOrder: 25,
			wantROP: 50, wantS: 120, wantQty: 0, wantSafety: z95 * 6,
		},
		{
			name:   "exactly at the reorder point reorders",
			policy: ReorderPolicy{ServiceLevel: 0.95, LeadTimeDays: 4, CoverDays: 7},
			demand: DemandStats{Days: 28, Mean: 10, Sigma: 3}, onHand: 50,
			wantROP: 50, wantS: 120, wantQty: 70, wantSafety: z95 * 6,
		},
		{
			// 50% service level: z = 0, no safety stock; 2.5*9 = 22.5 -> 23.
			name:   "median service level has no safety stock",
			policy: ReorderPolicy{ServiceLevel: 0.5, LeadTimeDays: 9, CoverDays: 2},
			demand: DemandStats{Days: 10, Mean: 2.5, Sigma: 4}, onHand: 0,
			wantROP: 23, wantS: 28, wantQty: 28, wantSafety: 0,
		},
		{
			// 99%: 2.3263*2*sqrt(16) = 18.61; 16 + 18.61 = 34.61 -> 35.
			name:   "higher service level, more safety stock",
			policy: ReorderPolicy{ServiceLevel: 0.99, LeadTimeDays: 16, CoverDays: 0},
			demand: DemandStats{Days: 10, Mean: 1, Sigma: 2}, onHand: 36,
			wantROP: 35, wantS: 35, wantQty: 0, wantSafety: 2.3263478740408408 * 8,
		},
		{
			name:   "no demand never reorders",
			policy: ReorderPolicy{ServiceLevel: 0.95, LeadTimeDays: 7, CoverDays: 14},
			demand: DemandStats{Days: 28}, onHand: 0,
			wantROP: 0, wantS: 0, wantQty: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PlanReorder(tt.policy, tt.demand, tt.onHand, tt.onOrder)
			if err != nil {
				t.Fatal(err)
			}
			if got.ReorderPoint != tt.wantROP || got.OrderUpTo != tt.wantS || got.Quantity != tt.wantQty {
				t.Fatalf("rop %d S %d qty %d, want %d %d %d (%+v)", got.ReorderPoint, got.OrderUpTo, got.Quantity, tt.wantROP, tt.wantS, tt.wantQty, got)
			}
			if got.Reorder != (tt.wantQty > 0) {
				t.Fatalf("reorder %v with quantity %d", got.Reorder, got.Quantity)
			}
			if math.Abs(got.SafetyStock-tt.wantSafety) > 1e-9 {
				t.Fatalf("safety stock %v, want %v", got.SafetyStock, tt.wantSafety)
			}
		})
	}
}

func TestPlanReorder_RejectsBadPolicy(t *testing.T) {
	d := DemandStats{Days: 5, Mean: 1, Sigma: 1}
	for name, p := range map[string]ReorderPolicy{
		"service level 1":    {ServiceLevel: 1, LeadTimeDays: 3},
		"service level 0.4":  {ServiceLevel: 0.4, LeadTimeDays: 3},
		"negative lead time": {ServiceLevel: 0.9, LeadTimeDays: -1},
		"NaN cover":          {ServiceLevel: 0.9, LeadTimeDays: 1, CoverDays: math.NaN()},
	} {
		if _, err := PlanReorder(p, d, 0, 0); err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
