package ingest

import (
	"math"
	"strconv"

	"github.com/shoppulse/shoppulse/events"
)

// Customers, sessions walking the funnel, orders and what follows them
// (payments, cancellations, refunds, chargebacks).

type shopSegment uint8

const (
	segBrowser shopSegment = iota // visits, rarely buys
	segRegular
	segLoyal   // visits often, buys favourites
	segBig     // big baskets, trade quantities
	segChurner // a regular whose visits decay and stop
)

var shopSegments = [...]struct {
	name     string
	share    int
	activity uint64  // relative visit rate
	cart     float64 // chance a session that views products adds to cart
	packs    []int64
	packWts  []int
	moreAdds float64 // chance of one more cart add, repeated
}{
	segBrowser: {"browser", 40, 3, 0.06, []int64{1, 2}, []int{85, 15}, 0.2},
	segRegular: {"regular", 30, 4, 0.16, []int64{1, 2, 3}, []int{70, 22, 8}, 0.35},
	segLoyal:   {"loyal", 12, 9, 0.24, []int64{1, 2, 3, 6}, []int{55, 25, 12, 8}, 0.45},
	segBig:     {"big_spender", 5, 5, 0.24, []int64{1, 6, 12, 24}, []int{25, 35, 25, 15}, 0.6},
	segChurner: {"churner", 13, 5, 0.16, []int64{1, 2, 3}, []int{70, 22, 8}, 0.35},
}

// Known customers visit at a rate set by their activity: visitsPerActivity
// sessions a day per unit, so a regular (4) comes about five times a month
// and a loyal buyer (9) about eleven. The rest of the traffic, at least
// minAnonymousShare of it, is visitors the shop does not know; those who buy
// register and join the customers. So a busy shop's customer base grows
// until it carries its traffic, and each customer's purchase frequency stays
// realistic (which RFM, churn and lifetime value models need).
const (
	visitsPerActivity = 0.04
	minAnonymousShare = 0.35
	anonymousCart     = 0.12
)

var shopDevices = [...]struct {
	name   string
	weight int
	uas    []string
}{
	{"mobile", 52, []string{
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/137.0.0.0 Mobile Safari/537.36",
	}},
	{"desktop", 33, []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0",
	}},
	{"tablet", 7, []string{
		"Mozilla/5.0 (iPad; CPU OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1",
	}},
	{"app", 8, []string{"ShopPulseApp/4.2 (iOS 18.5)", "ShopPulseApp/4.2 (Android 15)"}},
}

var shopDeviceWts = func() []int {
	var w []int
	for _, d := range shopDevices {
		w = append(w, d.weight)
	}
	return w
}()

var shopReferrers = [...]struct {
	url    string
	weight int
}{
	{"", 30}, {"https://www.google.com/", 35}, {"https://www.bing.com/", 4},
	{"https://www.facebook.com/", 8}, {"https://www.instagram.com/", 7},
	{"https://mail.example.com/newsletter", 8}, {"https://ads.example.net/click", 8},
}

var shopReferrerWts = func() []int {
	var w []int
	for _, r := range shopReferrers {
		w = append(w, r.weight)
	}
	return w
}()

var shopPayMethods = [...]struct {
	name   string
	weight int
}{{"card", 72}, {"paypal", 16}, {"wallet", 6}, {"bank_transfer", 3}, {"gift_card", 3}}

var shopPayWts = func() []int {
	var w []int
	for _, m := range shopPayMethods {
		w = append(w, m.weight)
	}
	return w
}()

var shopCountryWts = func() []int {
	var w []int
	for _, c := range simCountries {
		w = append(w, c.weight)
	}
	return w
}()

var shopSegWts = func() []int {
	var w []int
	for _, g := range shopSegments {
		w = append(w, g.share)
	}
	return w
}()

// shopCustomer is kept small (ids, devices, IP and card are derived from
// the index on demand): a long history fill grows the population.
type shopCustomer struct {
	seg        shopSegment
	country    string
	registered bool
	erased     bool
	fraudster  bool
	consent    bool
	device     [2]uint8 // indexes into shopDevices: usual, occasional
	pay        uint8
	pref       int   // preferred warehouse
	churnAt    int64 // churners: when visits start to decay
	orders     int32
	favs       []int32
}

func (s *Shop) buildCustomers() {
	s.customers = make([]shopCustomer, 0, s.cfg.Customers+s.cfg.Customers/4)
	for range s.cfg.Customers {
		s.newCustomer(shopSegment(s.pickW(shopSegWts)))
	}
}

func (s *Shop) newCustomer(seg shopSegment) int {
	c := shopCustomer{
		seg:     seg,
		country: simCountries[s.pickW(shopCountryWts)].code,
		consent: s.chance(0.6),
		pay:     uint8(s.pickW(shopPayWts)),
		pref:    s.rng.IntN(s.cfg.Warehouses),
	}
	for k := range c.device {
		c.device[k] = uint8(s.pickW(shopDeviceWts))
	}
	if seg == segChurner {
		c.churnAt = s.now + s.between(3*usDay, 60*usDay)
	}
	if seg == segLoyal {
		for range s.between(3, 8) {
			c.favs = append(c.favs, s.byRank[s.pickCum(s.rankCum)])
		}
	}
	s.customers = append(s.customers, c)
	return len(s.customers) - 1
}

// custHash derives a customer's stable attributes from the seed and index.
func (s *Shop) custHash(ci int, what uint64) uint64 {
	return splitmix64(s.seedMix ^ splitmix64(uint64(ci)<<8|what))
}

func (s *Shop) custID(ci int) string {
	return "cust-" + s.tag + "-" + strconv.FormatUint(uint64(ci)+1, 36)
}

func (s *Shop) custDeviceID(ci, k int) string {
	return "dev-" + strconv.FormatUint(s.custHash(ci, 1+uint64(k)), 16)
}

func (s *Shop) custCard(ci int) string {
	return "card-" + strconv.FormatUint(s.custHash(ci, 3), 16)
}

// custIP is the customer's home address.
func (s *Shop) custIP(ci int) string {
	h := s.custHash(ci, 4)
	a := 23 + h%200
	if a == 127 {
		a = 128
	}
	return strconv.FormatUint(a, 10) + "." + strconv.FormatUint(h>>8&0xff, 10) + "." +
		strconv.FormatUint(h>>16&0xff, 10) + "." + strconv.FormatUint(1+(h>>24)%254, 10)
}

func (s *Shop) randomIP() string {
	a := s.between(23, 222)
	if a == 127 {
		a = 128
	}
	return strconv.FormatInt(a, 10) + "." + strconv.FormatInt(s.between(0, 255), 10) + "." +
		strconv.FormatInt(s.between(0, 255), 10) + "." + strconv.FormatInt(s.between(1, 254), 10)
}

// fraudIP is an address in a hosting range, where most fraud comes from.
func (s *Shop) fraudIP() string {
	return "185.220." + strconv.FormatInt(s.between(100, 103), 10) + "." + strconv.FormatInt(s.between(1, 254), 10)
}

// rebuildCustomerWeights refreshes the visit weights once a day: churners
// fade with a half-life of a week after their churn time and stop after four.
func (s *Shop) rebuildCustomerWeights() {
	s.custCum = s.custCum[:0]
	var sum uint64
	for i := range s.customers {
		c := &s.customers[i]
		w := shopSegments[c.seg].activity * 1000
		switch {
		case c.erased || c.fraudster:
			w = 0
		case c.churnAt > 0 && s.now > c.churnAt:
			age := float64(s.now-c.churnAt) / float64(7*usDay)
			if age > 4 {
				w = 0
			} else {
				w = uint64(float64(w) * math.Pow(0.5, age))
			}
		}
		sum += w
		s.custCum = append(s.custCum, sum)
	}
}

func (s *Shop) randomRegistered() int {
	for range 32 {
		i := s.rng.IntN(len(s.customers))
		if c := &s.customers[i]; c.registered && !c.erased && !c.fraudster {
			return i
		}
	}
	return -1
}

func (s *Shop) erase(ci int) events.Event {
	c := &s.customers[ci]
	if c.erased {
		return nil
	}
	c.erased = true
	s.regCount--
	return &events.ErasureRequested{
		Header:      s.head(events.TypeErasureRequested, s.now),
		CustomerID:  s.custID(ci),
		RequestedBy: "customer",
	}
}

func (s *Shop) register(ci int, at int64) *events.CustomerRegistered {
	c := &s.customers[ci]
	c.registered = true
	s.regCount++
	id := s.custID(ci)
	return &events.CustomerRegistered{
		Header:           s.head(events.TypeCustomerRegistered, at),
		CustomerID:       id,
		Email:            id + "@mail.example",
		Country:          c.country,
		MarketingConsent: c.consent,
	}
}

// ---- sessions ----

type sessStage uint8

const (
	stLand sessStage = iota
	stBrowse
	stAdd
	stCartDone
	stRegister
	stCheckout
	stOrder
	stEnd
)

type cartLine struct {
	p   int
	qty int64
}

type shopSession struct {
	cust     int // -1: anonymous
	fraud    string
	stage    sessStage
	cl       events.Clickstream
	wantCart bool
	checkout bool
	order    bool
	searched bool
	views    int
	adds     int // cart adds wanted
	cat      int // category of interest, -1 none
	pending  int // product to add
	cart     []cartLine
	events   uint64
	ship     string // account takeover: the fraudster's shipping country
}

// startSession starts a session; rate is the current arrival rate of all
// sessions per second.
func (s *Shop) startSession(rate float64) {
	s.sessStarted++
	s.stats.Sessions++
	ss := &shopSession{cust: -1, cat: -1}
	ss.cl.SessionID = s.id("ses")
	ss.cl.Referrer = shopReferrers[s.pickW(shopReferrerWts)].url
	cartP := anonymousCart
	known := 0.0
	if n := len(s.custCum); n > 0 {
		units := float64(s.custCum[n-1]) / 1000
		known = min(1-minAnonymousShare, units*visitsPerActivity/86400*season(s.now)/rate)
	}
	if s.chance(known) {
		ci := s.pickCum(s.custCum)
		c := &s.customers[ci]
		ss.cust = ci
		cartP = shopSegments[c.seg].cart
		k := 0
		if s.chance(0.15) {
			k = 1
		}
		d := shopDevices[c.device[k]]
		ss.cl.Device, ss.cl.DeviceID = d.name, s.custDeviceID(ci, k)
		ss.cl.UserAgent = d.uas[int(splitmix64(uint64(ci))%uint64(len(d.uas)))]
		ss.cl.IP = s.custIP(ci)
		if k == 1 || s.chance(0.2) {
			ss.cl.IP = s.randomIP() // mobile network, work, travel
		}
		if c.registered && s.chance(0.8) {
			ss.cl.CustomerID = s.custID(ci)
		}
	} else {
		d := shopDevices[s.pickW(shopDeviceWts)]
		ss.cl.Device, ss.cl.DeviceID = d.name, s.hexID("dev")
		ss.cl.UserAgent = d.uas[s.rng.IntN(len(d.uas))]
		ss.cl.IP = s.randomIP()
	}
	s.plan(ss, cartP)
	s.push(shopItem{at: s.now, kind: kStep, sess: ss})
}

// plan draws the session's intent: how far down the funnel it means to go.
func (s *Shop) plan(ss *shopSession, cartP float64) {
	ss.wantCart = s.chance(cartP)
	ss.checkout = s.chance(0.57)
	ss.order = s.chance(0.72)
	ss.adds = 1
	more := 0.3
	if ss.cust >= 0 {
		more = shopSegments[s.customers[ss.cust].seg].moreAdds
	}
	for ss.adds < 8 && s.chance(more) {
		ss.adds++
	}
}

// endSession marks the session over; Next counts its events once the last
// step's event is out.
func (s *Shop) endSession(ss *shopSession) { ss.stage = stEnd }

// next schedules the session's next step after a think time.
func (s *Shop) next(ss *shopSession, st sessStage, mean int64) {
	ss.stage = st
	s.push(shopItem{at: s.now + s.expDur(mean, 2*usSecond, 20*usMinute), kind: kStep, sess: ss})
}

func (s *Shop) click(ss *shopSession, page string) events.Clickstream {
	c := ss.cl
	c.Page = page
	return c
}

// pickProduct is what a visitor looks at: a favourite, a product of the
// category they searched, or a popular one.
func (s *Shop) pickProduct(ss *shopSession) int {
	if ss.fraud != "" {
		return int(s.expensive[s.rng.IntN(len(s.expensive))])
	}
	if ss.cust >= 0 {
		if favs := s.customers[ss.cust].favs; len(favs) > 0 && s.chance(0.5) {
			return int(favs[s.rng.IntN(len(favs))])
		}
	}
	if ss.cat >= 0 && len(s.catProds[ss.cat]) > 0 && s.chance(0.7) {
		return int(s.catProds[ss.cat][s.pickCum(s.catCum[ss.cat])])
	}
	return int(s.byRank[s.pickCum(s.rankCum)])
}

// addChance is the chance one product view leads to a cart add, for a
// session that means to add: higher when the price is below the list price
// (by the product's elasticity), lower when a competitor is much cheaper.
func (s *Shop) addChance(pi int) float64 {
	p := &s.products[pi]
	m := math.Pow(float64(p.price)/float64(p.base), -p.elasticity)
	cheapest := p.comp[0]
	for _, c := range p.comp[1:] {
		cheapest = min(cheapest, c)
	}
	if float64(p.price) > 1.1*float64(cheapest) {
		m *= 0.75
	}
	return min(1, 0.6*m)
}

// step runs one step of a session and returns its event, or nil when the
// step made none (a failed cart add, the end).
func (s *Shop) step(ss *shopSession) events.Event {
	switch ss.stage {
	case stLand:
		page := "/"
		switch s.rng.IntN(4) {
		case 1:
			page = "/c/" + simCategories[s.rng.IntN(len(simCategories))].name
		case 2:
			page = "/sale"
		}
		ev := &events.PageView{Header: s.head(events.TypePageView, s.now), Clickstream: s.click(ss, page)}
		if ss.fraud != "" || s.chance(0.655) {
			ss.views = 1
			for ss.views < 12 && s.chance(0.55) {
				ss.views++
			}
			s.next(ss, stBrowse, 20*usSecond)
		} else {
			s.endSession(ss)
		}
		return ev

	case stBrowse:
		if !ss.searched && ss.fraud == "" && s.chance(0.2) {
			ss.searched = true
			ss.cat = s.rng.IntN(len(simCategories))
			q := simCategories[ss.cat].name
			s.next(ss, stBrowse, 15*usSecond)
			return &events.Search{Header: s.head(events.TypeSearch, s.now), Clickstream: s.click(ss, "/search"),
				Query: q, Results: len(s.catProds[ss.cat])}
		}
		if ss.fraud == "" && s.chance(0.12) {
			s.next(ss, stBrowse, 20*usSecond)
			c := ss.cat
			if c < 0 {
				c = s.rng.IntN(len(simCategories))
			}
			return &events.PageView{Header: s.head(events.TypePageView, s.now),
				Clickstream: s.click(ss, "/c/"+simCategories[c].name)}
		}
		pi := s.pickProduct(ss)
		p := &s.products[pi]
		ss.views--
		ev := &events.ProductView{Header: s.head(events.TypeProductView, s.now), Clickstream: s.click(ss, "/p/"+p.id),
			ProductID: p.id, Category: simCategories[p.category].name, PriceMinor: p.price, Currency: simCurrency}
		switch {
		case ss.wantCart && len(ss.cart) < ss.adds && (ss.fraud != "" || s.chance(s.addChance(pi))):
			ss.pending = pi
			s.next(ss, stAdd, 25*usSecond)
		case ss.views > 0:
			s.next(ss, stBrowse, 30*usSecond)
		case len(ss.cart) > 0:
			s.next(ss, stCartDone, 30*usSecond)
		default:
			s.endSession(ss)
		}
		return ev

	case stAdd:
		pi := ss.pending
		qty := int64(1)
		if ss.cust >= 0 && ss.fraud == "" {
			g := shopSegments[s.customers[ss.cust].seg]
			qty = g.packs[s.pickW(g.packWts)]
		}
		var ev events.Event
		if s.available(pi) >= qty {
			p := &s.products[pi]
			ss.cart = append(ss.cart, cartLine{p: pi, qty: qty})
			ev = &events.CartChange{Header: s.head(events.TypeAddToCart, s.now), Clickstream: s.click(ss, "/p/"+p.id),
				ProductID: p.id, Quantity: qty, PriceMinor: p.price, Currency: simCurrency}
		} else {
			s.stats.FailedCartAdds++ // out of stock: the button is greyed out
			ss.views++
		}
		switch {
		case ss.views > 0 && (len(ss.cart) < ss.adds || s.chance(0.3)):
			s.next(ss, stBrowse, 30*usSecond)
		case len(ss.cart) > 0:
			s.next(ss, stCartDone, 40*usSecond)
		default:
			s.endSession(ss)
		}
		return ev

	case stCartDone:
		var ev events.Event
		if ss.fraud == "" && s.chance(0.15) {
			i := s.rng.IntN(len(ss.cart))
			l := ss.cart[i]
			p := &s.products[l.p]
			ss.cart = append(ss.cart[:i], ss.cart[i+1:]...)
			ev = &events.CartChange{Header: s.head(events.TypeRemoveFromCart, s.now), Clickstream: s.click(ss, "/cart"),
				ProductID: p.id, Quantity: l.qty, PriceMinor: p.price, Currency: simCurrency}
		}
		if len(ss.cart) == 0 || !(ss.checkout || ss.fraud != "") {
			s.endSession(ss)
			return ev
		}
		if ss.cust < 0 || !s.customers[ss.cust].registered {
			s.next(ss, stRegister, 40*usSecond)
		} else {
			ss.cl.CustomerID = s.custID(ss.cust) // logs in to check out
			s.next(ss, stCheckout, 20*usSecond)
		}
		return ev

	case stRegister:
		if ss.cust < 0 {
			ss.cust = s.newCustomer(segRegular)
		}
		ev := s.register(ss.cust, s.now)
		ss.cl.CustomerID = ev.CustomerID
		s.next(ss, stCheckout, 30*usSecond)
		return ev

	case stCheckout:
		var total, items int64
		for _, l := range ss.cart {
			total += s.products[l.p].price * l.qty
			items += l.qty
		}
		ev := &events.CheckoutStarted{Header: s.head(events.TypeCheckoutStarted, s.now), Clickstream: s.click(ss, "/checkout"),
			CartMinor: total, Currency: simCurrency, Items: items}
		if ss.order || ss.fraud != "" {
			s.next(ss, stOrder, 60*usSecond)
		} else {
			s.endSession(ss)
		}
		return ev

	case stOrder:
		c := &s.customers[ss.cust]
		spec := orderSpec{
			at: s.now, session: ss.cl.SessionID, cust: ss.cust, lines: ss.cart, client: ss.cl.Client, fraud: ss.fraud,
			method: shopPayMethods[c.pay].name, card: s.custCard(ss.cust), billing: c.country, shipping: c.country, failP: 0.03,
		}
		if ss.fraud != "" {
			spec.method, spec.shipping, spec.failP = "card", ss.ship, 0.05
		}
		if s.placeOrder(spec) {
			s.stats.SessionOrders++
		}
		s.endSession(ss)
		return nil
	}
	return nil
}

// ---- orders ----

type orderSpec struct {
	at       int64
	session  string // the clickstream session the order is placed in; "" none
	cust     int
	lines    []cartLine
	client   events.Client
	method   string
	card     string
	billing  string
	shipping string
	fraud    string // the fraud pattern; "" is a genuine order
	failP    float64
	failCode string
}

var euVAT = map[string]bool{"GB": true, "IE": true, "DE": true, "FR": true, "NL": true, "BE": true, "ES": true,
	"IT": true, "SE": true, "DK": true, "PT": true, "PL": true, "AT": true}

type alloc struct {
	idx int // stock index
	qty int64
}

// placeOrder takes the stock, emits the order and schedules its payment and
// what follows. It returns false when nothing in the cart was in stock.
func (s *Shop) placeOrder(o orderSpec) bool {
	c := &s.customers[o.cust]
	cid := s.custID(o.cust)
	w := s.cfg.Warehouses
	lines := make([]events.OrderLine, 0, len(o.lines))
	allocs := make([]alloc, 0, len(o.lines))
	var sum, promoSum int64
	for _, l := range o.lines {
		wh, q := s.take(l.p, l.qty, c.pref)
		if q == 0 {
			continue
		}
		p := &s.products[l.p]
		lines = append(lines, events.OrderLine{ProductID: p.id, Category: simCategories[p.category].name,
			Quantity: q, UnitPriceMinor: p.price})
		allocs = append(allocs, alloc{idx: l.p*w + wh, qty: q})
		sum += q * p.price
		if p.promo {
			promoSum += q * p.price
		}
	}
	if len(lines) == 0 {
		return false
	}
	discount := promoSum / 10 // the promotion's extra 10% code on sale items
	tax := int64(0)
	if euVAT[o.shipping] {
		tax = (sum - discount) * 20 / 100
	}
	shipping := int64(0)
	switch {
	case o.shipping != "GB":
		shipping = 999
	case sum-discount < 5000:
		shipping = 399
	}
	total := sum - discount + tax + shipping
	channel := "web"
	if o.client.Device == "app" {
		channel = "app"
	}
	card := ""
	if o.method == "card" {
		card = o.card
	}
	orderID := s.id("ord")
	h := s.head(events.TypeOrderPlaced, o.at)
	h.SchemaVersion = 2
	s.emitAt(o.at, &events.OrderPlaced{
		Header: h, OrderID: orderID, CustomerID: cid, Country: c.country, Currency: simCurrency, Channel: channel,
		Lines: lines, TotalMinor: total, DiscountMinor: discount, TaxMinor: tax, ShippingMinor: shipping,
		PaymentMethod: o.method, CardFingerprint: card, BillingCountry: o.billing, ShippingCountry: o.shipping,
		IP: o.client.IP, Device: o.client.Device, DeviceID: o.client.DeviceID, SessionID: o.session,
	})
	payAt := o.at + s.between(1*usSecond, 8*usSecond)
	payID := s.id("pay")
	pay := &events.Payment{Header: s.head(events.TypePaymentAuthorized, payAt), PaymentID: payID, OrderID: orderID,
		CustomerID: cid, AmountMinor: total, Currency: simCurrency, Method: o.method, CardFingerprint: card}
	if s.chance(o.failP) {
		pay.Type = events.TypePaymentFailed
		pay.FailureCode = o.failCode
		if pay.FailureCode == "" {
			pay.FailureCode = [...]string{"card_declined", "insufficient_funds", "expired_card", "incorrect_cvc"}[s.rng.IntN(4)]
		}
		s.emitAt(payAt, pay)
		cancelAt := payAt + s.between(30*usSecond, 3*usMinute)
		s.emitAt(cancelAt, &events.OrderCancelled{Header: s.head(events.TypeOrderCancelled, cancelAt), OrderID: orderID,
			CustomerID: cid, Reason: "payment_failed", AmountMinor: total, Currency: simCurrency})
		for _, a := range allocs {
			s.push(shopItem{at: cancelAt, kind: kRestock, a: int64(a.idx), n: a.qty})
		}
		return true
	}
	s.emitAt(payAt, pay)
	for i, a := range allocs {
		s.emitAt(payAt, &events.InventoryAdjusted{Header: s.head(events.TypeInventoryAdjusted, payAt),
			ProductID: lines[i].ProductID, WarehouseID: s.warehouses[a.idx%w], Delta: -a.qty, Reason: "sale"})
	}
	if o.fraud != "" {
		s.fraudOrders[orderID] = o.fraud
		cbAt := payAt + s.between(3*usDay, 30*usDay)
		s.emitAt(cbAt, &events.Chargeback{Header: s.head(events.TypeChargeback, cbAt), ChargebackID: s.id("cb"),
			OrderID: orderID, PaymentID: payID, CustomerID: cid, AmountMinor: total, Currency: simCurrency, Reason: "fraud"})
		return true
	}
	if c.orders == 0 {
		s.buyers = append(s.buyers, int32(o.cust))
	}
	c.orders++
	switch {
	case s.chance(0.02): // cancelled before dispatch: refunded, stock back
		at := payAt + s.between(10*usMinute, 6*usHour)
		s.emitAt(at, &events.OrderCancelled{Header: s.head(events.TypeOrderCancelled, at), OrderID: orderID,
			CustomerID: cid, Reason: "customer_request", AmountMinor: total, Currency: simCurrency})
		s.emitAt(at+usMinute, &events.Refund{Header: s.head(events.TypeRefund, at+usMinute), RefundID: s.id("ref"),
			OrderID: orderID, CustomerID: cid, AmountMinor: total, Currency: simCurrency, Reason: "cancelled"})
		for i, a := range allocs {
			s.returnStock(at, a, lines[i].ProductID)
		}
	case s.chance(0.06): // a line returned days later
		at := payAt + s.between(3*usDay, 25*usDay)
		i := s.rng.IntN(len(lines))
		reason := "returned"
		if s.chance(0.2) {
			reason = "damaged"
		}
		s.emitAt(at, &events.Refund{Header: s.head(events.TypeRefund, at), RefundID: s.id("ref"), OrderID: orderID,
			CustomerID: cid, AmountMinor: lines[i].Quantity * lines[i].UnitPriceMinor, Currency: simCurrency, Reason: reason})
		if reason == "returned" {
			s.returnStock(at+usHour, allocs[i], lines[i].ProductID)
		}
	}
	// Fraud follows genuine traffic: episodes start within hours of it.
	switch x := s.rng.Float64(); {
	case x < 0.005:
		s.push(shopItem{at: payAt + s.rng.Int64N(6*usHour), kind: kFraud, a: fraudATO})
	case x < 0.005+0.0012:
		s.push(shopItem{at: payAt + s.rng.Int64N(6*usHour), kind: kFraud, a: fraudVelocity})
	case x < 0.005+0.0012+0.0006:
		s.push(shopItem{at: payAt + s.rng.Int64N(6*usHour), kind: kFraud, a: fraudCardTesting})
	}
	return true
}

func (s *Shop) returnStock(at int64, a alloc, productID string) {
	w := s.cfg.Warehouses
	ev := &events.InventoryAdjusted{Header: s.head(events.TypeInventoryAdjusted, at), ProductID: productID,
		WarehouseID: s.warehouses[a.idx%w], Delta: a.qty, Reason: "return"}
	s.push(shopItem{at: at, kind: kStockIn, ev: ev, a: int64(a.idx), n: a.qty})
}
