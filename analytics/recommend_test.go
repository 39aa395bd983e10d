package analytics

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// Purchases u1 {A,B}, u2 {A,B,C}, u3 {C}: columns A = B = (1,1,0) and
// C = (0,1,1), so cos(A,B) = 1 and cos(A,C) = cos(B,C) = 1/(√2·√2) = 1/2.
// u4 views A (weight 0.3) and buys D: A = (1,1,0,0.3), cos(A,D) =
// 0.3 / √2.09 ≈ 0.2075 and cos(A,B) = 2/√(2·2.09).
func TestItemCF_CosineHandComputed(t *testing.T) {
	in := []Interaction{
		{"u1", "A", true}, {"u1", "B", true},
		{"u2", "A", true}, {"u2", "B", true}, {"u2", "C", true},
		{"u3", "C", true},
	}
	m := TrainItemCF(in, CFConfig{ViewWeight: 0.3, Neighbours: 10})
	want := map[string][]Scored{
		"A": {{"B", 1}, {"C", 0.5}},
		"B": {{"A", 1}, {"C", 0.5}},
		"C": {{"A", 0.5}, {"B", 0.5}},
	}
	for item, w := range want {
		got := m.Similar[item]
		if len(got) != len(w) {
			t.Fatalf("similar to %s = %v, want %v", item, got, w)
		}
		for i := range w {
			if got[i].Item != w[i].Item || !closeTo(got[i].Score, w[i].Score, 1e-12) {
				t.Errorf("similar to %s = %v, want %v", item, got, w)
			}
		}
	}

	in = append(in, Interaction{"u4", "A", false}, Interaction{"u4", "D", true}, Interaction{"u4", "A", false})
	m = TrainItemCF(in, CFConfig{ViewWeight: 0.3, Neighbours: 10})
	if got := m.Similar["A"][0]; got.Item != "B" || !closeTo(got.Score, 2/sqrt(2*2.09), 1e-12) {
		t.Errorf("cos(A,B) with u4's view = %v", got)
	}
	if got := m.Similar["D"]; len(got) != 1 || got[0].Item != "A" || !closeTo(got[0].Score, 0.3/sqrt(2.09), 1e-12) {
		t.Errorf("similar to D = %v, want A at %v", got, 0.3/sqrt(2.09))
	}

	// u3 bought C: B scores cos(B,C) = 1/2, A now cos(A,C) = 1/(√2.09·√2),
	// C is excluded, and the popularity fill adds D.
	hist, bought := Histories(in, CFConfig{ViewWeight: 0.3})
	got := m.Recommend(hist["u3"], bought["u3"], 3)
	wantRecs := []Recommendation{{"B", 0.5, "similar"}, {"A", 1 / sqrt(2.09*2), "similar"}, {"D", 0, "popular"}}
	if len(got) != len(wantRecs) {
		t.Fatalf("recommendations for u3 = %v, want %v", got, wantRecs)
	}
	for i := range got {
		if got[i].Item != wantRecs[i].Item || got[i].Source != wantRecs[i].Source || !closeTo(got[i].Score, wantRecs[i].Score, 1e-12) {
			t.Errorf("recommendations for u3 = %v, want %v", got, wantRecs)
		}
	}
}

func closeTo(a, b, tol float64) bool { return a-b <= tol && b-a <= tol }

// A shop of taste groups: each user buys mostly in one group of items, and a
// few items are popular with everyone. After the cut-off each user buys one
// more item of their group: the collaborative filter finds it far more often
// than the global bestsellers do.
func TestEvaluateHoldout_BeatsPopularityOnTasteGroups(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const groups, perGroup, users = 10, 20, 3000
	item := func(g, i int) string { return fmt.Sprintf("g%02d-i%02d", g, i) }
	var train, test []Interaction
	for u := 0; u < users; u++ {
		user := fmt.Sprintf("u%04d", u)
		g := u % groups
		perm := rng.Perm(perGroup)
		for _, i := range perm[:4] {
			train = append(train, Interaction{user, item(g, i), true})
		}
		for _, i := range perm[4:8] {
			train = append(train, Interaction{user, item(g, i), false})
		}
		if rng.IntN(2) == 0 { // a global bestseller
			train = append(train, Interaction{user, "best-" + fmt.Sprint(rng.IntN(3)), true})
		}
		test = append(test, Interaction{user, item(g, perm[8]), true})
	}
	res, err := EvaluateHoldout(train, test, DefaultCFConfig, 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hit rate@10 %.3f, popularity %.3f over %d users", res.HitRate, res.PopularityHitRate, res.Users)
	if res.Users != users {
		t.Errorf("evaluated %d users, want %d", res.Users, users)
	}
	if res.HitRate < 0.4 || res.HitRate < 2*res.PopularityHitRate {
		t.Errorf("hit rate %.3f should be well above popularity's %.3f", res.HitRate, res.PopularityHitRate)
	}
	again, _ := EvaluateHoldout(train, test, DefaultCFConfig, 10)
	if again != res {
		t.Errorf("same input, different result: %+v then %+v", res, again)
	}
}

func sqrt(v float64) float64 { return math.Sqrt(v) }
