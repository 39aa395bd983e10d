package analytics

import (
	"errors"
	"math"
	"sort"
)

// Interaction is one user's signal on one item: a purchase or a view.
// ShopPulse's users are customers, or sessions for anonymous views.
type Interaction struct {
	User, Item string
	Purchase   bool
}

// CFConfig sets the item-to-item model.
type CFConfig struct {
	// ViewWeight is a view's weight in the user-item matrix; a purchase
	// weighs 1 (a user's cell takes the larger of its signals).
	ViewWeight float64
	// Neighbours is how many similar items each item keeps for scoring.
	Neighbours int
	// MaxItemsPerUser caps the items of one user counted in co-occurrence
	// (the most recent are not known here, so the first by item id): a
	// crawler that viewed everything would otherwise cost O(items^2) and
	// make every pair similar.
	MaxItemsPerUser int
}

// DefaultCFConfig is what the Recommendations workflow uses.
var DefaultCFConfig = CFConfig{ViewWeight: 0.3, Neighbours: 50, MaxItemsPerUser: 200}

// Scored is an item and a score.
type Scored struct {
	Item  string
	Score float64
}

// ItemCF is an item-to-item collaborative filter (Linden, Smith and York
// 2003): two items are similar when the same users bought or viewed them,
// measured by the cosine of their columns in the weighted user-item matrix.
type ItemCF struct {
	// Similar lists each item's most similar items, best first (ties by
	// item id).
	Similar map[string][]Scored
	// Popular lists the items by purchases in the training data, most first.
	Popular []Scored
	Users   int
}

// matrix is the weighted user-item matrix, users and items sorted.
type matrix struct {
	users []string
	items []string
	rows  [][]cell // per user, by item index
}

type cell struct {
	item int
	w    float64
}

func buildMatrix(in []Interaction, cfg CFConfig) matrix {
	w := map[string]map[string]float64{}
	itemSet := map[string]bool{}
	for _, it := range in {
		if it.User == "" || it.Item == "" {
			continue
		}
		v := cfg.ViewWeight
		if it.Purchase {
			v = 1
		}
		if w[it.User] == nil {
			w[it.User] = map[string]float64{}
		}
		if v > w[it.User][it.Item] {
			w[it.User][it.Item] = v
		}
		itemSet[it.Item] = true
	}
	var m matrix
	for i := range itemSet {
		m.items = append(m.items, i)
	}
	sort.Strings(m.items)
	idx := make(map[string]int, len(m.items))
	for n, i := range m.items {
		idx[i] = n
	}
	for u := range w {
		m.users = append(m.users, u)
	}
	sort.Strings(m.users)
	for _, u := range m.users {
		row := make([]cell, 0, len(w[u]))
		for i, v := range w[u] {
			if v > 0 {
				row = append(row, cell{idx[i], v})
			}
		}
		sort.Slice(row, func(a, b int) bool { return row[a].item < row[b].item })
		if cfg.MaxItemsPerUser > 0 && len(row) > cfg.MaxItemsPerUser {
			row = row[:cfg.MaxItemsPerUser]
		}
		m.rows = append(m.rows, row)
	}
	return m
}

// TrainItemCF computes every item's nearest neighbours by cosine similarity
// and the popularity ranking.
func TrainItemCF(in []Interaction, cfg CFConfig) ItemCF {
	if cfg.Neighbours <= 0 {
		cfg.Neighbours = DefaultCFConfig.Neighbours
	}
	m := buildMatrix(in, cfg)
	n := len(m.items)
	norm := make([]float64, n)
	dot := map[[2]int]float64{}
	for _, row := range m.rows {
		for a, ca := range row {
			norm[ca.item] += ca.w * ca.w
			for _, cb := range row[a+1:] {
				dot[[2]int{ca.item, cb.item}] += ca.w * cb.w
			}
		}
	}
	nb := make([][]Scored, n)
	for k, d := range dot {
		s := d / math.Sqrt(norm[k[0]]*norm[k[1]])
		nb[k[0]] = append(nb[k[0]], Scored{m.items[k[1]], s})
		nb[k[1]] = append(nb[k[1]], Scored{m.items[k[0]], s})
	}
	model := ItemCF{Similar: make(map[string][]Scored, n), Users: len(m.users)}
	for i, l := range nb {
		sortScored(l)
		if len(l) > cfg.Neighbours {
			l = l[:cfg.Neighbours]
		}
		if len(l) > 0 {
			model.Similar[m.items[i]] = l
		}
	}
	bought := map[string]float64{}
	for _, it := range in {
		if it.Purchase && it.Item != "" {
			bought[it.Item]++
		}
	}
	for i, c := range bought {
		model.Popular = append(model.Popular, Scored{i, c})
	}
	sortScored(model.Popular)
	return model
}

func sortScored(l []Scored) {
	sort.Slice(l, func(a, b int) bool {
		if l[a].Score != l[b].Score {
			return l[a].Score > l[b].Score
		}
		return l[a].Item < l[b].Item
	})
}

// Recommendation is one recommended item; Source is "similar" for the
// collaborative filter's picks and "popular" for the popularity fill.
type Recommendation struct {
	Item   string
	Score  float64
	Source string
}

// Recommend returns up to k items for a user with this history (item ->
// weight, as in the training matrix), never one in exclude (what they
// bought). Items are scored by the sum over the history of weight times
// similarity; when fewer than k score above zero, the most popular items
// fill the list (score 0, source "popular").
func (m ItemCF) Recommend(history map[string]float64, exclude map[string]bool, k int) []Recommendation {
	score := map[string]float64{}
	hist := make([]string, 0, len(history))
	for i := range history {
		hist = append(hist, i)
	}
	sort.Strings(hist)
	for _, i := range hist {
		for _, s := range m.Similar[i] {
			if !exclude[s.Item] {
				score[s.Item] += history[i] * s.Score
			}
		}
	}
	cand := make([]Scored, 0, len(score))
	for i, s := range score {
		if s > 0 {
			cand = append(cand, Scored{i, s})
		}
	}
	sortScored(cand)
	out := make([]Recommendation, 0, k)
	seen := map[string]bool{}
	for _, c := range cand {
		if len(out) == k {
			break
		}
		out = append(out, Recommendation{c.Item, c.Score, "similar"})
		seen[c.Item] = true
	}
	for _, p := range m.Popular {
		if len(out) == k {
			break
		}
		if !seen[p.Item] && !exclude[p.Item] {
			out = append(out, Recommendation{p.Item, 0, "popular"})
		}
	}
	return out
}

// PopularFor is the popularity baseline: the k most bought items not in
// exclude.
func (m ItemCF) PopularFor(exclude map[string]bool, k int) []string {
	var out []string
	for _, p := range m.Popular {
		if len(out) == k {
			break
		}
		if !exclude[p.Item] {
			out = append(out, p.Item)
		}
	}
	return out
}

// Histories turns interactions into each user's item weights and bought
// items, for Recommend.
func Histories(in []Interaction, cfg CFConfig) (hist map[string]map[string]float64, bought map[string]map[string]bool) {
	hist, bought = map[string]map[string]float64{}, map[string]map[string]bool{}
	for _, it := range in {
		if it.User == "" || it.Item == "" {
			continue
		}
		v := cfg.ViewWeight
		if it.Purchase {
			v = 1
			if bought[it.User] == nil {
				bought[it.User] = map[string]bool{}
			}
			bought[it.User][it.Item] = true
		}
		if hist[it.User] == nil {
			hist[it.User] = map[string]float64{}
		}
		if v > hist[it.User][it.Item] {
			hist[it.User][it.Item] = v
		}
	}
	return hist, bought
}

// HoldoutResult compares the filter with the popularity baseline on a
// time-based holdout.
type HoldoutResult struct {
	// Users evaluated: those with training history who bought, in the
	// holdout, an item they had not bought before.
	Users int
	// HitRate is the share of them with at least one such item among their
	// top K recommendations; PopularityHitRate the same for the K most
	// popular items they had not bought.
	HitRate, PopularityHitRate float64
	K                          int
}

// EvaluateHoldout trains on train (interactions before a cut-off) and
// measures hit rate at k on the purchases of test (after it).
func EvaluateHoldout(train, test []Interaction, cfg CFConfig, k int) (HoldoutResult, error) {
	if k <= 0 {
		return HoldoutResult{}, errors.New("holdout: k must be positive")
	}
	model := TrainItemCF(train, cfg)
	hist, bought := Histories(train, cfg)
	want := map[string]map[string]bool{}
	for _, it := range test {
		if !it.Purchase || hist[it.User] == nil || bought[it.User][it.Item] {
			continue
		}
		if want[it.User] == nil {
			want[it.User] = map[string]bool{}
		}
		want[it.User][it.Item] = true
	}
	users := make([]string, 0, len(want))
	for u := range want {
		users = append(users, u)
	}
	sort.Strings(users)
	res := HoldoutResult{Users: len(users), K: k}
	if len(users) == 0 {
		return res, nil
	}
	hits, popHits := 0, 0
	for _, u := range users {
		for _, r := range model.Recommend(hist[u], bought[u], k) {
			if want[u][r.Item] {
				hits++
				break
			}
		}
		for _, i := range model.PopularFor(bought[u], k) {
			if want[u][i] {
				popHits++
				break
			}
		}
	}
	res.HitRate = float64(hits) / float64(len(users))
	res.PopularityHitRate = float64(popHits) / float64(len(users))
	return res, nil
}
