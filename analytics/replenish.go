package analytics

import (
	"fmt"
	"math"
)

// ReorderPolicy is how a reorder point and order quantity are chosen.
type ReorderPolicy struct {
	// ServiceLevel is the chance of not running out during a lead time
	// (cycle service level), 0.5 <= level < 1: safety stock is
	// z * sigma * sqrt(lead time) with z the normal quantile of it.
	ServiceLevel float64
	// LeadTimeDays is the supplier's lead time.
	LeadTimeDays float64
	// CoverDays is how many days of mean demand an order covers beyond the
	// reorder point: the order-up-to level is reorder point + mean * CoverDays.
	CoverDays float64
}

// DemandStats are the mean and sample standard deviation of daily demand.
type DemandStats struct {
	Days  int
	Mean  float64
	Sigma float64
}

// DailyDemandStats summarises a daily demand series, one value per day
// including days without demand (zeros). Sigma is the sample standard
// deviation (n-1); it is 0 for fewer than two days.
func DailyDemandStats(daily []float64) DemandStats {
	n := len(daily)
	if n == 0 {
		return DemandStats{}
	}
	var sum float64
	for _, v := range daily {
		sum += v
	}
	mean := sum / float64(n)
	if n < 2 {
		return DemandStats{Days: n, Mean: mean}
	}
	var ss float64
	for _, v := range daily {
		ss += (v - mean) * (v - mean)
	}
	return DemandStats{Days: n, Mean: mean, Sigma: math.Sqrt(ss / float64(n-1))}
}

// ReorderPlan is a reorder point and what to order at a stock level.
type ReorderPlan struct {
	Z               float64 `json:"z"`
	MeanDaily       float64 `json:"mean_daily"`
	SigmaDaily      float64 `json:"sigma_daily"`
	LeadTimeDays    float64 `json:"lead_time_days"`
	LeadTimeDemand  float64 `json:"lead_time_demand"` // mean demand over the lead time
	SafetyStock     float64 `json:"safety_stock"`     // z * sigma * sqrt(lead time)
	ReorderPoint    int64   `json:"reorder_point"`    // ceil(lead time demand + safety stock)
	OrderUpTo       int64   `json:"order_up_to"`      // ceil(reorder point + mean * cover days)
	Position        int64   `json:"position"`         // on hand + on order
	Reorder         bool    `json:"reorder"`          // position at or below the reorder point
	Quantity        int64   `json:"quantity"`         // order-up-to minus position when Reorder, else 0
	ServiceLevel    float64 `json:"service_level"`
	CoverDays       float64 `json:"cover_days"`
	DemandDays      int     `json:"demand_days"`
	DemandHistoryOK bool    `json:"demand_history_ok"` // at least two days of history
}

// PlanReorder computes the reorder point (mean demand over the lead time
// plus safety stock z * sigma * sqrt(lead time), with daily demand taken as
// independent from day to day) and, when the stock position (on hand plus
// on order) is at or below it, the quantity that brings the position up to
// the order-up-to level. Units are whole: the reorder point and order-up-to
// level are rounded up.
func PlanReorder(p ReorderPolicy, d DemandStats, onHand, onOrder int64) (ReorderPlan, error) {
	if !(p.ServiceLevel >= 0.5 && p.ServiceLevel < 1) {
		return ReorderPlan{}, fmt.Errorf("reorder plan: service level %v, want 0.5 <= level < 1", p.ServiceLevel)
	}
	if !(p.LeadTimeDays >= 0) || math.IsInf(p.LeadTimeDays, 0) {
		return ReorderPlan{}, fmt.Errorf("reorder plan: lead time %v days, want 0 or more", p.LeadTimeDays)
	}
	if !(p.CoverDays >= 0) || math.IsInf(p.CoverDays, 0) {
		return ReorderPlan{}, fmt.Errorf("reorder plan: cover %v days, want 0 or more", p.CoverDays)
	}
	if d.Mean < 0 || d.Sigma < 0 || math.IsNaN(d.Mean) || math.IsNaN(d.Sigma) {
		return ReorderPlan{}, fmt.Errorf("reorder plan: demand mean %v and sigma %v, want 0 or more", d.Mean, d.Sigma)
	}
	z, err := NormalQuantile(p.ServiceLevel)
	if err != nil {
		return ReorderPlan{}, err
	}
	plan := ReorderPlan{
		Z: z, MeanDaily: d.Mean, SigmaDaily: d.Sigma, LeadTimeDays: p.LeadTimeDays,
		LeadTimeDemand: d.Mean * p.LeadTimeDays,
		SafetyStock:    z * d.Sigma * math.Sqrt(p.LeadTimeDays),
		ServiceLevel:   p.ServiceLevel, CoverDays: p.CoverDays,
		DemandDays: d.Days, DemandHistoryOK: d.Days >= 2,
		Position: onHand + onOrder,
	}
	plan.ReorderPoint = ceilUnits(plan.LeadTimeDemand + plan.SafetyStock)
	plan.OrderUpTo = ceilUnits(float64(plan.ReorderPoint) + d.Mean*p.CoverDays)
	// Without demand there is nothing to protect: never reorder at a
	// reorder point of zero with zero demand unless stock is negative.
	plan.Reorder = plan.Position <= plan.ReorderPoint && (d.Mean > 0 || plan.Position < 0)
	if plan.Reorder {
		plan.Quantity = max(plan.OrderUpTo-plan.Position, 0)
		if plan.Quantity == 0 {
			plan.Reorder = false
		}
	}
	return plan, nil
}

// ceilUnits rounds up to whole units, tolerating float noise just above an
// integer (3.0000000001 is 3).
func ceilUnits(x float64) int64 {
	return int64(math.Ceil(x - 1e-9))
}
