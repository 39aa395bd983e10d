package analytics

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// TestTrainLogistic_MatchesRGlm fits without penalty on the data set of
// testdata/logistic_reference.R and requires R's glm coefficients to 1e-6.
func TestTrainLogistic_MatchesRGlm(t *testing.T) {
	b, err := os.ReadFile("testdata/logistic_reference.json")
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		IP, Ratio, Mismatch, Fraud []float64
		Coef                       []float64 `json:"coefficients"`
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for k, dst := range map[string]*[]float64{"ip_orders_1h": &ref.IP, "amount_ratio": &ref.Ratio,
		"country_mismatch": &ref.Mismatch, "fraud": &ref.Fraud, "coefficients": &ref.Coef} {
		if err := json.Unmarshal(raw[k], dst); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	ex := make([]FraudExample, len(ref.Fraud))
	for i := range ex {
		ex[i] = FraudExample{Features: FraudFeatures{IPOrders1h: int64(ref.IP[i]), AmountRatio: ref.Ratio[i],
			CountryMismatch: int64(ref.Mismatch[i])}, Fraud: ref.Fraud[i] == 1}
	}
	m, err := TrainLogistic("glm", ex, LogisticConfig{L2: -1, Inputs: []string{"amount_ratio", "country_mismatch", "ip_orders_1h"}})
	if err != nil {
		t.Fatal(err)
	}
	got := []float64{m.Bias, m.Weights["ip_orders_1h"], m.Weights["amount_ratio"], m.Weights["country_mismatch"]}
	for i := range got {
		if math.Abs(got[i]-ref.Coef[i]) > 1e-6 {
			t.Errorf("coefficient %d: got %.9f, R %.9f", i, got[i], ref.Coef[i])
		}
	}
	// Constant features weigh nothing.
	if m.Weights["card_orders_24h"] != 0 {
		t.Errorf("constant feature weight %g", m.Weights["card_orders_24h"])
	}
	// The model round-trips through the registry's params format.
	params, _ := json.Marshal(m)
	parsed, err := ParseFraudModel("glm", KindLogistic, params)
	if err != nil {
		t.Fatal(err)
	}
	if s1, s2 := parsed.Score(ex[0].Features), m.Score(ex[0].Features); s1 != s2 {
		t.Fatalf("parsed model scores %g, trained %g", s1, s2)
	}
}

// TestTrainLogistic_RecoversSimulatedWeights draws labels from known
// weights and requires them back, and a ridge penalty to shrink them.
func TestTrainLogistic_RecoversSimulatedWeights(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[string]float64{"ip_cards_1h": 0.9, "new_device": 1.4, "amount_z": 0.5}
	const bias = -3.5
	ex := make([]FraudExample, 40000)
	for i := range ex {
		f := FraudFeatures{IPCards1h: int64(rng.IntN(5)), NewDevice: int64(rng.IntN(2)), AmountZ: rng.NormFloat64()}
		z := bias + want["ip_cards_1h"]*float64(f.IPCards1h) + want["new_device"]*float64(f.NewDevice) + want["amount_z"]*f.AmountZ
		ex[i] = FraudExample{Features: f, Fraud: rng.Float64() < 1/(1+math.Exp(-z))}
	}
	inputs := []string{"ip_cards_1h", "new_device", "amount_z"}
	m, err := TrainLogistic("sim", ex, LogisticConfig{L2: -1, Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	for n, w := range want {
		if math.Abs(m.Weights[n]-w) > 0.1 {
			t.Errorf("%s: got %.3f, want %.3f", n, m.Weights[n], w)
		}
	}
	if math.Abs(m.Bias-bias) > 0.2 {
		t.Errorf("bias: got %.3f, want %.3f", m.Bias, bias)
	}
	ridge, err := TrainLogistic("ridge", ex, LogisticConfig{L2: 0.1, Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(ridge.Weights["new_device"]) >= math.Abs(m.Weights["new_device"]) {
		t.Errorf("ridge did not shrink: %.3f vs %.3f", ridge.Weights["new_device"], m.Weights["new_device"])
	}
}

// TestTrainLogistic_SeparableDataStaysFinite: a feature that separates the
// classes perfectly drives unpenalised weights to infinity; the default
// ridge keeps them finite and the ranking right.
func TestTrainLogistic_SeparableDataStaysFinite(t *testing.T) {
	var ex []FraudExample
	for i := 0; i < 200; i++ {
		ex = append(ex, FraudExample{Features: FraudFeatures{IPCards1h: int64(i % 3)}})
		ex = append(ex, FraudExample{Features: FraudFeatures{IPCards1h: int64(6 + i%4)}, Fraud: true})
	}
	m, err := TrainLogistic("sep", ex, LogisticConfig{})
	if err != nil {
		t.Fatal(err)
	}
	met := EvaluateFraudModel(m, ex, 0.8)
	if met.AUC != 1 || met.Precision != 1 || met.Recall != 1 {
		t.Fatalf("separable: %+v", met)
	}
	if _, err := TrainLogistic("one", ex[:1], LogisticConfig{}); err == nil {
		t.Fatal("want an error with one class")
	}
}

func TestROCAUC_HandComputed(t *testing.T) {
	tests := []struct {
		name   string
		scores []float64
		labels []bool
		want   float64
	}{
		{"perfect", []float64{0.1, 0.2, 0.8, 0.9}, []bool{false, false, true, true}, 1},
		{"inverted", []float64{0.9, 0.8, 0.2, 0.1}, []bool{false, false, true, true}, 0},
		// pairs (pos, neg): (0.6 vs 0.5) win, (0.6 vs 0.7) lose,
		// (0.4 vs 0.5) lose, (0.4 vs 0.7) lose: 1/4.
		{"one of four", []float64{0.5, 0.7, 0.6, 0.4}, []bool{false, false, true, true}, 0.25},
		// all tied: 1/2.
		{"ties", []float64{0.3, 0.3, 0.3}, []bool{true, false, false}, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ROCAUC(tt.scores, tt.labels); math.Abs(got-tt.want) > 1e-12 {
				t.Fatalf("got %g, want %g", got, tt.want)
			}
		})
	}
	if !math.IsNaN(ROCAUC([]float64{1, 2}, []bool{true, true})) {
		t.Fatal("one class: want NaN")
	}
}

func TestScoreMetrics_PrecisionRecallAtThreshold(t *testing.T) {
	scores := []float64{0.95, 0.85, 0.8, 0.5, 0.1}
	labels := []bool{true, false, true, true, false}
	m := ScoreMetrics(scores, labels, 0.8)
	// flagged: 0.95, 0.85, 0.8 (at the threshold counts); 2 of them fraud;
	// 3 fraud in all.
	if m.Flagged != 3 || m.TruePos != 2 || math.Abs(m.Precision-2.0/3) > 1e-12 || math.Abs(m.Recall-2.0/3) > 1e-12 {
		t.Fatalf("got %+v", m)
	}
}

// TestFraudInputs_DerivedInputsScoreOnTheHotPath: a model may weigh
// log1p of a feature and the firing of a rules-v1 rule; parsing accepts
// those names and rejects unknown ones, and the score is the logistic of
// the hand-computed sum.
func TestFraudInputs_DerivedInputsScoreOnTheHotPath(t *testing.T) {
	f := FraudFeatures{IPCards1h: 6, IPOrders1h: 3, CountryMismatch: 1}
	in := FraudInputs(f)
	if in["log1p:ip_orders_1h"] != math.Log(4) || in["rule:ip_card_burst"] != 1 || in["rule:new_device"] != 0 || in["ip_cards_1h"] != 6 {
		t.Fatalf("inputs: %v", in)
	}
	if _, ok := in["log1p:amount_z"]; ok {
		t.Fatal("log1p of a signed feature")
	}
	params := []byte(`{"bias": -2, "weights": {"log1p:ip_orders_1h": 0.5, "rule:ip_card_burst": 1.5, "country_mismatch": 0.25}}`)
	m, err := ParseFraudModel("lr-derived", KindLogistic, params)
	if err != nil {
		t.Fatal(err)
	}
	z := -2 + 0.5*math.Log(4) + 1.5 + 0.25
	if got, want := m.Score(f), 1/(1+math.Exp(-z)); math.Abs(got-want) > 1e-15 {
		t.Fatalf("score %g, want %g", got, want)
	}
	if _, err := ParseFraudModel("bad", KindLogistic, []byte(`{"bias": 0, "weights": {"rule:nope": 1}}`)); err == nil {
		t.Fatal("want an error for an unknown rule")
	}
	if _, err := TrainLogistic("bad", []FraudExample{{}, {Fraud: true}}, LogisticConfig{Inputs: []string{"nope"}}); err == nil {
		t.Fatal("want an error for an unknown input")
	}
}
