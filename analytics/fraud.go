package analytics

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
)

// FraudFeatures are what the hot path knows about one order when it scores
// it, computed from the stored order facts by event time (store computes
// them; see store.FraudFeatures). Velocity counts are of the orders in [t-w, t) with the same key,
// excluding the order itself; a key the order lacks (no card, IP or device)
// counts 0.
type FraudFeatures struct {
	CustomerOrders1m  int64 `json:"customer_orders_1m"`
	CustomerOrders1h  int64 `json:"customer_orders_1h"`
	CustomerOrders24h int64 `json:"customer_orders_24h"`
	CardOrders1m      int64 `json:"card_orders_1m"`
	CardOrders1h      int64 `json:"card_orders_1h"`
	CardOrders24h     int64 `json:"card_orders_24h"`
	IPOrders1m        int64 `json:"ip_orders_1m"`
	IPOrders1h        int64 `json:"ip_orders_1h"`
	IPOrders24h       int64 `json:"ip_orders_24h"`
	DeviceOrders1m    int64 `json:"device_orders_1m"`
	DeviceOrders1h    int64 `json:"device_orders_1h"`
	DeviceOrders24h   int64 `json:"device_orders_24h"`
	// IPCards1h and IPCards24h count the distinct card fingerprints of the
	// IP's earlier orders in the window.
	IPCards1h  int64 `json:"ip_cards_1h"`
	IPCards24h int64 `json:"ip_cards_24h"`
	// AmountMinor is the order's total.
	AmountMinor int64 `json:"amount_minor"`
	// CustomerPriorOrders counts the customer's orders before this one, all
	// time.
	CustomerPriorOrders int64 `json:"customer_prior_orders"`
	// AmountRatio is the total over the customer's mean order total before
	// this order; 1 (neutral) without history.
	AmountRatio float64 `json:"amount_ratio"`
	// AmountZ is the total's z-score against the customer's earlier totals
	// when there are at least MinZHistory of them with a positive spread,
	// else 0.
	AmountZ float64 `json:"amount_z"`
	// CountryMismatch is 1 when billing and shipping countries are both
	// known and differ.
	CountryMismatch int64 `json:"country_mismatch"`
	// AccountAgeHours is the time since the customer was first seen (their
	// first order: the customers topic is not consumed), 0 on a first order.
	AccountAgeHours float64 `json:"account_age_hours"`
	// NewDevice is 1 when the order has a device id, the customer has
	// earlier orders with a device id, and none with this one.
	NewDevice int64 `json:"new_device"`
}

// MinZHistory is the number of earlier orders a customer needs before the
// amount's z-score is computed.
const MinZHistory = 5

// Values returns the features by their JSON names: what a logistic model's
// weights are keyed by.
func (f FraudFeatures) Values() map[string]float64 {
	return map[string]float64{
		"customer_orders_1m": float64(f.CustomerOrders1m), "customer_orders_1h": float64(f.CustomerOrders1h),
		"customer_orders_24h": float64(f.CustomerOrders24h),
		"card_orders_1m":      float64(f.CardOrders1m), "card_orders_1h": float64(f.CardOrders1h), "card_orders_24h": float64(f.CardOrders24h),
		"ip_orders_1m": float64(f.IPOrders1m), "ip_orders_1h": float64(f.IPOrders1h), "ip_orders_24h": float64(f.IPOrders24h),
		"device_orders_1m": float64(f.DeviceOrders1m), "device_orders_1h": float64(f.DeviceOrders1h),
		"device_orders_24h": float64(f.DeviceOrders24h),
		"ip_cards_1h":       float64(f.IPCards1h), "ip_cards_24h": float64(f.IPCards24h),
		"amount_minor": float64(f.AmountMinor), "customer_prior_orders": float64(f.CustomerPriorOrders),
		"amount_ratio": f.AmountRatio, "amount_z": f.AmountZ,
		"country_mismatch": float64(f.CountryMismatch), "account_age_hours": f.AccountAgeHours,
		"new_device": float64(f.NewDevice),
	}
}

// FraudInputs are the values a logistic model weighs, by name: every
// feature of Values under its own name; "log1p:<feature>", log(1 + v), for
// each feature that is never negative (counts, amounts, ratios, ages),
// which lets a linear model saturate on heavy-tailed counts; and
// "rule:<name>", 1 when that rule of rules-v1 fires and 0 otherwise, which
// lets it use the rules' thresholds. Models whose weights name only
// features score exactly as before these inputs existed.
func FraudInputs(f FraudFeatures) map[string]float64 {
	vals := f.Values()
	out := make(map[string]float64, 2*len(vals)+len(fraudRules))
	for n, v := range vals {
		out[n] = v
		if n != "amount_z" && n != "new_device" && n != "country_mismatch" { // signed or 0/1
			out["log1p:"+n] = math.Log1p(math.Max(0, v))
		}
	}
	for _, r := range fraudRules {
		if r.Fires(f) {
			out["rule:"+r.Name] = 1
		} else {
			out["rule:"+r.Name] = 0
		}
	}
	return out
}

// FraudModel scores an order's features from 0 (genuine) to 1 (fraud).
// Implementations are safe for concurrent use.
type FraudModel interface {
	Score(f FraudFeatures) float64
	// Version names the model, and is stored with every score it gives.
	Version() string
}

// RulesVersion is the version of FraudRules, stored with its scores.
const RulesVersion = "rules-v1"

// FraudRule is one documented rule of FraudRules: when it fires it adds its
// weight to the score.
type FraudRule struct {
	Name   string
	Weight float64
	Fires  func(FraudFeatures) bool
}

// fraudRules are the rules of rules-v1, from the simulator's and the
// industry's common patterns. Weights add up, and the score is capped at 1,
// so two strong signals together cross the default alert threshold of 0.8.
var fraudRules = []FraudRule{
	// Card testing: a bot tries many cards from one IP within minutes.
	{"ip_card_burst", 0.5, func(f FraudFeatures) bool { return f.IPCards1h >= 5 }},
	{"ip_velocity_1m", 0.3, func(f FraudFeatures) bool { return f.IPOrders1m >= 3 }},
	// Velocity: one IP or device places many orders within the hour.
	{"ip_velocity_1h", 0.2, func(f FraudFeatures) bool { return f.IPOrders1h >= 5 }},
	{"ip_many_cards_24h", 0.2, func(f FraudFeatures) bool { return f.IPCards24h >= 3 }},
	{"device_velocity_1h", 0.1, func(f FraudFeatures) bool { return f.DeviceOrders1h >= 5 }},
	// A customer or card ordering again and again within minutes.
	{"customer_velocity_1h", 0.15, func(f FraudFeatures) bool { return f.CustomerOrders1h >= 5 }},
	{"card_velocity_1h", 0.15, func(f FraudFeatures) bool { return f.CardOrders1h >= 5 }},
	// Account takeover: a known customer on a new device spending far
	// above their habit and shipping to another country than they pay from.
	{"new_device", 0.25, func(f FraudFeatures) bool { return f.NewDevice == 1 }},
	{"country_mismatch", 0.3, func(f FraudFeatures) bool { return f.CountryMismatch == 1 }},
	{"amount_ratio_3x", 0.3, func(f FraudFeatures) bool { return f.CustomerPriorOrders > 0 && f.AmountRatio >= 3 }},
	{"amount_z_3", 0.1, func(f FraudFeatures) bool { return f.AmountZ >= 3 }},
	// A brand-new account: weak alone, it adds to the others.
	{"new_account", 0.1, func(f FraudFeatures) bool { return f.CustomerPriorOrders == 0 }},
}

// FraudRules is the rule-based model used until a trained model is active:
// the capped sum of the weights of the rules that fire (see FiredRules).
type FraudRules struct{}

// Version implements FraudModel.
func (FraudRules) Version() string { return RulesVersion }

// Score implements FraudModel.
func (FraudRules) Score(f FraudFeatures) float64 {
	var s float64
	for _, r := range fraudRules {
		if r.Fires(f) {
			s += r.Weight
		}
	}
	return math.Min(1, math.Round(s*1e6)/1e6)
}

// FiredRules names the rules of FraudRules that fire on f, in rule order:
// the explanation of a rules score.
func FiredRules(f FraudFeatures) []string {
	var out []string
	for _, r := range fraudRules {
		if r.Fires(f) {
			out = append(out, r.Name)
		}
	}
	return out
}

// LogisticModel is a logistic regression over the model inputs by name
// (see FraudInputs: the features, "log1p:<feature>" and "rule:<rule>"):
// score = 1 / (1 + exp(-(Bias + sum of Weights[name] * value))). Inputs
// without a weight count 0; weights naming no input are an error at parse
// time.
type LogisticModel struct {
	Name    string             `json:"-"`
	Bias    float64            `json:"bias"`
	Weights map[string]float64 `json:"weights"`
}

// Version implements FraudModel.
func (m LogisticModel) Version() string { return m.Name }

// Score implements FraudModel.
func (m LogisticModel) Score(f FraudFeatures) float64 {
	vals := FraudInputs(f)
	names := make([]string, 0, len(m.Weights))
	for n := range m.Weights {
		names = append(names, n)
	}
	sort.Strings(names) // a fixed summation order: the same score every time
	z := m.Bias
	for _, n := range names {
		z += m.Weights[n] * vals[n]
	}
	return 1 / (1 + math.Exp(-z))
}

// Model kinds of the registry.
const KindLogistic = "logistic"

// ParseFraudModel builds the model a registry row describes: its version,
// kind and params.
func ParseFraudModel(version, kind string, params []byte) (FraudModel, error) {
	if version == "" {
		return nil, errors.New("fraud model: empty version")
	}
	switch kind {
	case KindLogistic:
		m := LogisticModel{Name: version}
		if err := json.Unmarshal(params, &m); err != nil {
			return nil, fmt.Errorf("fraud model %s: params: %w", version, err)
		}
		known := FraudInputs(FraudFeatures{})
		for n, w := range m.Weights {
			if _, ok := known[n]; !ok {
				return nil, fmt.Errorf("fraud model %s: weight for unknown feature %q", version, n)
			}
			if math.IsNaN(w) || math.IsInf(w, 0) {
				return nil, fmt.Errorf("fraud model %s: weight of %s is not finite", version, n)
			}
		}
		if math.IsNaN(m.Bias) || math.IsInf(m.Bias, 0) {
			return nil, fmt.Errorf("fraud model %s: bias is not finite", version)
		}
		return m, nil
	default:
		return nil, fmt.Errorf("fraud model %s: unknown kind %q", version, kind)
	}
}
