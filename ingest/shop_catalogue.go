package ingest

import (
	"math"
	"slices"
	"strconv"

	"github.com/shoppulse/shoppulse/events"
)

// The shop's catalogue, stock, prices and market: everything not driven by a
// visitor's session.

const shopCompetitors = 3

var shopCompetitorNames = [shopCompetitors]string{"megamart", "shopzilla", "valuebox"}

type shopProduct struct {
	id       string
	category int
	base     int64 // list price
	price    int64 // current own price
	cost     int64 // unit cost from the supplier
	// elasticity is the price elasticity of the product's cart adds: a
	// price at ratio r of the list price multiplies the chance of an add by
	// r^-elasticity, so a pricing model has something real to find.
	elasticity float64
	supplier   int
	rop, upTo  int64 // per warehouse: reorder point and order-up-to level
	comp       [shopCompetitors]int64
	compOut    [shopCompetitors]bool
	promo      bool
}

type shopSupplier struct {
	id       string
	leadDays int
	// lateP is the chance a delivery comes late (half to one and a half
	// lead times more): the cause of most stockouts.
	lateP float64
}

// eventsPerOrder is a rough count of events per authorized order at the
// model's conversion rate, used only to size initial stock and reorder
// points from EventsPerSecond.
const eventsPerOrder = 150.0

func (s *Shop) buildCatalogue() {
	n, w := s.cfg.Products, s.cfg.Warehouses
	for i := range w {
		s.warehouses = append(s.warehouses, "wh-"+strconv.Itoa(i+1))
	}
	nsup := max(3, n/25)
	for i := range nsup {
		s.suppliers = append(s.suppliers, shopSupplier{
			id:       "sup-" + s.tag + "-" + strconv.Itoa(i+1),
			leadDays: int(s.between(2, 21)),
			lateP:    0.1 + 0.3*s.rng.Float64(),
		})
	}
	var catWts []int
	for _, c := range simCategories {
		catWts = append(catWts, c.weight)
	}
	s.products = make([]shopProduct, n)
	for i := range s.products {
		ci := s.pickW(catWts)
		c := simCategories[ci]
		price := pricePoints[c.lo+s.rng.IntN(c.hi-c.lo+1)]
		margin := s.between(30, 65) // percent of the price
		p := shopProduct{
			id:         "sku-" + s.tag + "-" + leftPad(i+1, 6),
			category:   ci,
			base:       price,
			price:      price,
			cost:       max(1, price*(100-margin)/100),
			elasticity: 0.6 + 2.4*s.rng.Float64(),
			supplier:   s.rng.IntN(nsup),
		}
		for k := range p.comp {
			p.comp[k] = max(1, price*s.between(85, 115)/100)
		}
		s.products[i] = p
	}
	// Popularity is a long tail unrelated to the id: weight W/(rank+2).
	perm := s.rng.Perm(n)
	s.byRank = make([]int32, n)
	s.rankCum = make([]uint64, n)
	share := make([]float64, n)
	const wt = 1 << 40
	var sum uint64
	for r, pi := range perm {
		s.byRank[r] = int32(pi)
		sum += wt / uint64(r+2)
		s.rankCum[r] = sum
	}
	for r, pi := range perm {
		share[pi] = float64(wt/uint64(r+2)) / float64(sum)
	}
	s.catProds = make([][]int32, len(simCategories))
	s.catCum = make([][]uint64, len(simCategories))
	for r, pi := range s.byRank {
		c := s.products[pi].category
		var prev uint64
		if k := len(s.catCum[c]); k > 0 {
			prev = s.catCum[c][k-1]
		}
		s.catProds[c] = append(s.catProds[c], pi)
		s.catCum[c] = append(s.catCum[c], prev+wt/uint64(r+2))
	}
	byPrice := make([]int32, n)
	for i := range byPrice {
		byPrice[i] = int32(i)
	}
	// Insertion-free: a stable sort by price keeps determinism.
	sortByPrice(byPrice, s.products)
	dec := max(1, n/10)
	s.cheap = byPrice[:dec]
	s.expensive = byPrice[n-dec:]

	// Stock: reorder points from the expected demand over the lead time.
	ordersPerDay := s.cfg.EventsPerSecond * 86400 / eventsPerOrder
	const unitsPerOrder = 3.0
	s.stock = make([]int64, n*w)
	s.onOrder = make([]bool, n*w)
	for i := range s.products {
		p := &s.products[i]
		daily := ordersPerDay * unitsPerOrder * share[i] / float64(w)
		lead := float64(s.suppliers[p.supplier].leadDays)
		safety := 3 * s.rng.Float64() // days
		cycle := 7 + 14*s.rng.Float64()
		p.rop = max(3, int64(math.Ceil(daily*(lead+safety))))
		p.upTo = p.rop + max(8, int64(math.Ceil(daily*cycle)))
		for wh := range w {
			q := max(1, p.upTo*s.between(50, 100)/100)
			s.stock[i*w+wh] = q
			// The opening stock is a receipt at the start, so stock is
			// computable from the inventory topic alone.
			s.emitAt(s.start, s.receipt(s.start, i, wh, q))
			s.stats.Receipts++
		}
	}
}

func leftPad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func sortByPrice(idx []int32, ps []shopProduct) {
	slices.SortStableFunc(idx, func(a, b int32) int {
		switch {
		case ps[a].base < ps[b].base:
			return -1
		case ps[a].base > ps[b].base:
			return 1
		}
		return 0
	})
}

func (s *Shop) receipt(at int64, pi, wh int, qty int64) *events.InventoryAdjusted {
	p := &s.products[pi]
	sup := s.suppliers[p.supplier]
	return &events.InventoryAdjusted{
		Header:        s.head(events.TypeInventoryAdjusted, at),
		ProductID:     p.id,
		WarehouseID:   s.warehouses[wh],
		Delta:         qty,
		Reason:        "receipt",
		SupplierID:    sup.id,
		LeadTimeDays:  sup.leadDays,
		UnitCostMinor: p.cost,
		Currency:      simCurrency,
	}
}

// available is the product's stock over all warehouses.
func (s *Shop) available(pi int) int64 {
	w := s.cfg.Warehouses
	var n int64
	for _, q := range s.stock[pi*w : pi*w+w] {
		n += q
	}
	return n
}

// take removes qty units of a product from the first warehouse, in the
// customer's order of preference, that has them all; else as many as the
// fullest warehouse has. It returns the warehouse and units taken (0: none).
func (s *Shop) take(pi int, qty int64, pref int) (int, int64) {
	w := s.cfg.Warehouses
	best, bestQ := -1, int64(0)
	for k := range w {
		wh := (pref + k) % w
		q := s.stock[pi*w+wh]
		if q >= qty {
			best, bestQ = wh, qty
			break
		}
		if q > bestQ {
			best, bestQ = wh, q
		}
	}
	if best < 0 || bestQ == 0 {
		return -1, 0
	}
	s.stock[pi*w+best] -= bestQ
	s.afterDecrease(pi, best)
	return best, bestQ
}

// afterDecrease reorders from the supplier when stock fell to the reorder
// point: the receipt arrives the lead time later, sometimes late.
func (s *Shop) afterDecrease(pi, wh int) {
	w := s.cfg.Warehouses
	i := pi*w + wh
	q := s.stock[i]
	if q == 0 {
		s.stats.Stockouts++
	}
	p := &s.products[pi]
	if q > p.rop || s.onOrder[i] {
		return
	}
	s.onOrder[i] = true
	sup := s.suppliers[p.supplier]
	lead := int64(sup.leadDays) * usDay
	if s.chance(sup.lateP) {
		lead += lead * s.between(50, 150) / 100
	}
	at := s.now + lead + s.between(-4, 4)*usHour
	qty := p.upTo - q
	ev := s.receipt(at, pi, wh, qty)
	s.push(shopItem{at: at, kind: kStockIn, ev: ev, a: int64(i), n: qty})
}

func (s *Shop) stockIn(it shopItem) events.Event {
	s.stock[it.a] += it.n
	if e, ok := it.ev.(*events.InventoryAdjusted); ok && e.Reason == "receipt" {
		s.onOrder[it.a] = false
		s.stats.Receipts++
		// Stock that sold below the reorder point while the order was on
		// its way may need another order at once.
		pi, wh := int(it.a)/s.cfg.Warehouses, int(it.a)%s.cfg.Warehouses
		if s.stock[it.a] <= s.products[pi].rop {
			s.afterDecrease(pi, wh)
		}
	}
	return it.ev
}

// stockOut is shrinkage (damage, theft), never below zero.
func (s *Shop) stockOut(it shopItem) events.Event {
	q := min(it.n, s.stock[it.a])
	if q <= 0 {
		return nil
	}
	s.stock[it.a] -= q
	w := s.cfg.Warehouses
	pi, wh := int(it.a)/w, int(it.a)%w
	s.afterDecrease(pi, wh)
	return &events.InventoryAdjusted{
		Header:      s.head(events.TypeInventoryAdjusted, s.now),
		ProductID:   s.products[pi].id,
		WarehouseID: s.warehouses[wh],
		Delta:       -q,
		Reason:      "shrinkage",
	}
}

func (s *Shop) priceEvent(at int64, pi int, newPrice int64, reason string) *events.PriceChanged {
	return &events.PriceChanged{
		Header:        s.head(events.TypePriceChanged, at),
		ProductID:     s.products[pi].id,
		OldPriceMinor: 0, // set when applied
		NewPriceMinor: newPrice,
		Currency:      simCurrency,
		Reason:        reason,
	}
}

func (s *Shop) applyPrice(it shopItem) events.Event {
	e := it.ev.(*events.PriceChanged)
	p := &s.products[it.a]
	e.OldPriceMinor = p.price
	p.price = e.NewPriceMinor
	switch e.Reason {
	case "promotion":
		p.promo = true
	case "promotion_end":
		p.promo = false
	}
	return e
}

// retail rounds a price in pence down to end in 5 or 9.
func retail(p int64) int64 {
	if p < 20 {
		return max(p, 1)
	}
	base := p - p%10
	if p%10 >= 5 {
		return base + 5
	}
	return base - 1
}

// daily plans the simulated day that starts now: customer weights,
// promotions, repricing, competitor prices, shrinkage, consent changes and
// erasure requests, each at its own time of the day.
func (s *Shop) daily() {
	day := s.now - (s.now % usDay)
	next := day + usDay
	s.push(shopItem{at: next, kind: kDaily})
	span := next - s.now
	at := func() int64 { return s.now + s.rng.Int64N(span) }

	s.rebuildCustomerWeights()

	// Promotions: a category on sale for 2 to 4 days, about one week in two.
	if s.promoCat < 0 && s.now >= s.promoUntil && s.chance(0.15) {
		c := s.rng.IntN(len(simCategories))
		startAt := day + 8*usHour
		if startAt < s.now {
			startAt = s.now
		}
		endAt := startAt + s.between(2, 4)*usDay
		cut := s.between(10, 30)
		for _, pi := range s.catProds[c] {
			p := &s.products[pi]
			newP := retail(p.base * (100 - cut) / 100)
			s.push(shopItem{at: startAt, kind: kPrice, a: int64(pi), ev: s.priceEvent(startAt, int(pi), newP, "promotion")})
			s.push(shopItem{at: endAt, kind: kPrice, a: int64(pi), ev: s.priceEvent(endAt, int(pi), p.base, "promotion_end")})
		}
		s.promoCat, s.promoUntil = c, endAt
	} else if s.promoCat >= 0 && s.now >= s.promoUntil {
		s.promoCat = -1
	}

	for pi := range s.products {
		p := &s.products[pi]
		// Repricing: rare own moves of the list price, never in a promotion.
		if s.promoCat != p.category && s.chance(0.01) {
			p.base = retail(max(20, p.base*s.between(92, 108)/100))
			t := at()
			s.push(shopItem{at: t, kind: kPrice, a: int64(pi), ev: s.priceEvent(t, pi, p.base, "repricing")})
		}
		// Competitors: a mean-reverting random walk around the list price.
		for k := range p.comp {
			if s.now != s.start && !s.chance(0.3) {
				continue
			}
			target := float64(p.base) * (0.85 + 0.1*float64(k))
			move := 1 + 0.04*s.rng.NormFloat64() + 0.2*(target/float64(p.comp[k])-1)
			p.comp[k] = max(1, retail(int64(float64(p.comp[k])*move)))
			p.compOut[k] = s.chance(0.05)
			t := at()
			if s.now == s.start {
				t = s.now + s.rng.Int64N(min(span, usHour))
			}
			s.emitAt(t, &events.CompetitorPrice{
				Header:     s.head(events.TypeCompetitorPrice, t),
				ProductID:  p.id,
				Competitor: shopCompetitorNames[k],
				PriceMinor: p.comp[k],
				Currency:   simCurrency,
				InStock:    !p.compOut[k],
			})
		}
	}
	// Shrinkage: about 1% of stock positions lose a unit or two a day.
	n := len(s.stock)
	for range s.poisson(float64(n) * 0.01) {
		s.push(shopItem{at: at(), kind: kStockOut, a: int64(s.rng.IntN(n)), n: s.between(1, 2)})
	}
	// Consent changes and erasure requests among registered customers.
	if s.regCount > 0 {
		for range s.poisson(float64(s.regCount) * 0.004) {
			ci := s.randomRegistered()
			if ci < 0 {
				break
			}
			c := &s.customers[ci]
			c.consent = !c.consent
			consent := c.consent
			t := at()
			s.emitAt(t, &events.CustomerUpdated{
				Header:           s.head(events.TypeCustomerUpdated, t),
				CustomerID:       s.custID(ci),
				MarketingConsent: &consent,
			})
		}
		for range s.poisson(float64(s.regCount) * 0.0002) {
			if ci := s.randomRegistered(); ci >= 0 {
				s.push(shopItem{at: at(), kind: kErase, a: int64(ci)})
			}
		}
	}
}

// poisson draws a Poisson count (Knuth for small means, normal above).
func (s *Shop) poisson(mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean > 30 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*s.rng.NormFloat64())))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= s.rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
