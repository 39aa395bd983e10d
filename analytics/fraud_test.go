package analytics

import (
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// genuine is a returning customer's ordinary order.
var genuine = FraudFeatures{
	CustomerOrders24h: 1, CardOrders24h: 1, IPOrders24h: 1, DeviceOrders24h: 1, IPCards24h: 1,
	AmountMinor: 4200, CustomerPriorOrders: 6, AmountRatio: 1.05, AmountZ: 0.2, AccountAgeHours: 900,
}

func TestFraudRules(t *testing.T) {
	cases := []struct {
		name      string
		f         FraudFeatures
		want      float64
		wantRules []string
	}{
		{"a returning customer's ordinary order scores 0", genuine, 0, nil},
		{"a first order scores only the new-account weight",
			FraudFeatures{AmountMinor: 3000, AmountRatio: 1}, 0.1, []string{"new_account"}},
		{"card testing: many cards and orders from one IP within minutes",
			FraudFeatures{IPOrders1m: 3, IPOrders1h: 12, IPOrders24h: 12, IPCards1h: 12, IPCards24h: 12,
				DeviceOrders1h: 12, CustomerOrders1h: 12, CustomerPriorOrders: 12, AmountRatio: 1},
			1, []string{"ip_card_burst", "ip_velocity_1m", "ip_velocity_1h", "ip_many_cards_24h", "device_velocity_1h", "customer_velocity_1h"}},
		{"account takeover: new device, country mismatch, three times the usual amount",
			FraudFeatures{NewDevice: 1, CountryMismatch: 1, CustomerPriorOrders: 8, AmountRatio: 4.5, AmountZ: 6, AccountAgeHours: 2000},
			0.95, []string{"new_device", "country_mismatch", "amount_ratio_3x", "amount_z_3"}},
		{"a known customer on a new device alone stays low",
			FraudFeatures{NewDevice: 1, CustomerPriorOrders: 3, AmountRatio: 1.1}, 0.25, []string{"new_device"}},
		{"ratio rule needs history: a first order's ratio is neutral anyway",
			FraudFeatures{AmountRatio: 10}, 0.1, []string{"new_account"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := (FraudRules{}).Score(c.f); math.Abs(got-c.want) > 1e-9 {
				t.Errorf("score: want %v, got %v", c.want, got)
			}
			if got := FiredRules(c.f); !reflect.DeepEqual(got, c.wantRules) {
				t.Errorf("rules: want %v, got %v", c.wantRules, got)
			}
		})
	}
	if v := (FraudRules{}).Version(); v != "rules-v1" {
		t.Errorf("version: %q", v)
	}
}

func TestLogisticModel(t *testing.T) {
	m := LogisticModel{Name: "lr-1", Bias: -2, Weights: map[string]float64{"country_mismatch": 1.5, "ip_cards_1h": 0.5, "amount_ratio": 0.25}}
	cases := []struct {
		name string
		f    FraudFeatures
		z    float64
	}{
		{"zero features give the bias", FraudFeatures{}, -2},
		{"weights apply by feature name", FraudFeatures{CountryMismatch: 1, IPCards1h: 4, AmountRatio: 2}, -2 + 1.5 + 2 + 0.5},
		{"unweighted features count nothing", FraudFeatures{CardOrders24h: 100, AmountRatio: 1}, -2 + 0.25},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := 1 / (1 + math.Exp(-c.z))
			if got := m.Score(c.f); math.Abs(got-want) > 1e-12 {
				t.Fatalf("want %v, got %v", want, got)
			}
		})
	}
	if m.Version() != "lr-1" {
		t.Fatalf("version %q", m.Version())
	}
}

func TestParseFraudModel(t *testing.T) {
	cases := []struct {
		name, version, kind, params string
		wantErr                     string
	}{
		{"a logistic model", "lr-7", KindLogistic, `{"bias": -3, "weights": {"new_device": 1.2, "ip_cards_1h": 0.4}}`, ""},
		{"an unknown feature", "lr-8", KindLogistic, `{"bias": 0, "weights": {"shoe_size": 1}}`, "unknown feature"},
		{"an unknown kind", "gbm-1", "gbm", `{}`, "unknown kind"},
		{"broken params", "lr-9", KindLogistic, `{"bias": "x"}`, "params"},
		{"no version", "", KindLogistic, `{}`, "empty version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ParseFraudModel(c.version, c.kind, []byte(c.params))
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("want error containing %q, got %v", c.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Version() != c.version {
				t.Fatalf("version %q", m.Version())
			}
			want := 1 / (1 + math.Exp(-(-3 + 1.2)))
			if got := m.Score(FraudFeatures{NewDevice: 1}); math.Abs(got-want) > 1e-12 {
				t.Fatalf("score: want %v, got %v", want, got)
			}
		})
	}
}

// TestFraudFeatureNames keeps Values in step with the JSON names, which are
// the keys stored in fraud_scores.features and used by model weights.
func TestFraudFeatureNames(t *testing.T) {
	b, err := json.Marshal(FraudFeatures{})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var fromJSON, fromValues []string
	for k := range m {
		fromJSON = append(fromJSON, k)
	}
	for k := range (FraudFeatures{}).Values() {
		fromValues = append(fromValues, k)
	}
	sort.Strings(fromJSON)
	sort.Strings(fromValues)
	if !reflect.DeepEqual(fromJSON, fromValues) {
		t.Fatalf("JSON names %v\nValues names %v", fromJSON, fromValues)
	}
}
