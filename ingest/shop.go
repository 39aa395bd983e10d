package ingest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

// Defaults and bounds of a ShopConfig.
const (
	DefaultShopEventsPerSecond = 20.0
	DefaultShopCustomers       = 5000
	DefaultShopProducts        = 300
	DefaultShopWarehouses      = 2
	DefaultShopID              = "shop-1"
	MaxShopWarehouses          = 64
	MaxShopEventsPerSecond     = 1e6
	// ShopSource is the source of every event the shop simulator makes.
	ShopSource = "shoppulse-sim"
)

// DefaultShopStart is the simulated clock's origin when ShopConfig.Start is
// zero: a Monday, so a golden stream does not depend on today's date.
var DefaultShopStart = time.Date(2026, 8, 3, 0, 0, 0, 0, time.UTC)

// ShopConfig sizes and paces a simulated shop. Zero values take the defaults.
type ShopConfig struct {
	Seed int64
	// Start is the simulated time of the first event (truncated to the
	// microsecond). A real-time run passes time.Now().
	Start time.Time
	// Days stops the stream after this many simulated days; 0 is endless.
	Days int
	// EventsPerSecond is the mean event rate, in simulated time, averaged
	// over a week: session arrivals are scaled to hit it, and the daily and
	// weekly seasonality move the rate around it.
	EventsPerSecond float64
	// Customers is the initial population of (not yet registered)
	// customers; anonymous visitors who buy add to it, so the population
	// grows with the traffic (about 700 new customers a simulated day
	// per event/s of EventsPerSecond).
	Customers  int
	Products   int
	Warehouses int
	ShopID     string
}

func (c ShopConfig) withDefaults() ShopConfig {
	if c.Start.IsZero() {
		c.Start = DefaultShopStart
	}
	if c.EventsPerSecond == 0 {
		c.EventsPerSecond = DefaultShopEventsPerSecond
	}
	if c.Customers == 0 {
		c.Customers = DefaultShopCustomers
	}
	if c.Products == 0 {
		c.Products = DefaultShopProducts
	}
	if c.Warehouses == 0 {
		c.Warehouses = DefaultShopWarehouses
	}
	if c.ShopID == "" {
		c.ShopID = DefaultShopID
	}
	return c
}

// Validate reports a config NewShop would reject.
func (c ShopConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("shop config: "+format, args...)) }
	if c.Days < 0 {
		bad("days: want 0 (endless) or more, got %d", c.Days)
	}
	if !(c.EventsPerSecond > 0 && c.EventsPerSecond <= MaxShopEventsPerSecond) {
		bad("events per second: want more than 0, at most %g, got %v", MaxShopEventsPerSecond, c.EventsPerSecond)
	}
	if c.Customers < 1 || c.Customers > MaxSimCustomers {
		bad("customers: want 1 to %d, got %d", MaxSimCustomers, c.Customers)
	}
	if c.Products < 10 || c.Products > MaxSimProducts {
		bad("products: want 10 to %d, got %d", MaxSimProducts, c.Products)
	}
	if c.Warehouses < 1 || c.Warehouses > MaxShopWarehouses {
		bad("warehouses: want 1 to %d, got %d", MaxShopWarehouses, c.Warehouses)
	}
	if len(c.ShopID) > events.MaxIDLength || hasCtl(c.ShopID) {
		bad("shop id: want at most %d bytes without control characters", events.MaxIDLength)
	}
	if c.Start.Year() < events.MinEventYear {
		bad("start: want a time after the year %d, got %s", events.MinEventYear, c.Start.Format(time.RFC3339))
	}
	return errors.Join(errs...)
}

func hasCtl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// ShopStats counts what a Shop has emitted so far; tests and the generate
// command report it.
type ShopStats struct {
	Events           int64
	Sessions         int64
	SessionOrders    int64 // orders placed at the end of a session's checkout
	Orders           int64 // order_placed, including fraud and failed payments
	AuthorizedOrders int64
	FraudOrders      int64 // authorized fraudulent orders: each gets a chargeback
	PaymentsFailed   int64
	Chargebacks      int64
	Refunds          int64
	Cancellations    int64
	Registrations    int64
	Stockouts        int64 // a product/warehouse reaching 0
	Receipts         int64
	FailedCartAdds   int64 // cart adds refused for lack of stock
}

// Time is kept in microseconds since the Unix epoch: the precision
// PostgreSQL keeps, and integer, so ordering never depends on rounding.
const (
	usSecond = int64(1_000_000)
	usMinute = 60 * usSecond
	usHour   = 60 * usMinute
	usDay    = 24 * usHour
)

// Shop is a deterministic simulated shop that emits every type of the event
// catalogue in event-time order from its own simulated clock. It is a
// discrete-event simulation: future work (a session's next step, a payment,
// a supplier's delivery, a chargeback weeks later) waits in a priority queue
// keyed by (time, push sequence), so Next returns events in non-decreasing
// event time and ties break the same way on every run. Not safe for
// concurrent use.
//
// The model, in short (figures measured at 1 event/s over a week; see the
// tests):
//
//   - Catalogue: products in the simulator's categories with retail price
//     points, a unit cost (30-65% margin), a Zipf-like popularity, a price
//     elasticity, a supplier with a lead time of 2-21 days (some deliveries
//     late) and stock per warehouse. The opening stock is a receipt at Start.
//     Stock at or below the reorder point orders up to a level sized from
//     EventsPerSecond; the receipt arrives the lead time later. Sales,
//     shrinkage and returns are inventory_adjusted events too, so stock per
//     product and warehouse is the sum of the inventory topic's deltas and
//     never negative. An out-of-stock product can be viewed but not added
//     to a cart.
//   - Customers: browsers, regulars, loyal buyers (favourite products), big
//     spenders (trade quantities) and churners whose visits halve every week
//     after a churn date and stop after four. Known customers visit at a
//     rate set by their segment (a regular about five times a month), so
//     purchase frequencies stay realistic (about 0.6-0.7 orders per customer
//     a month); the rest of the traffic, at least 35%, is anonymous visitors,
//     who register when they buy and join the customers. Customers register
//     (customer_registered) before anything names them, change their
//     marketing consent now and then, and rarely ask for erasure.
//   - Sessions walk the funnel: landing page_view (65% go on to view
//     products), searches and category pages, product views, add_to_cart
//     (about 9% of viewing sessions, more when a product is on promotion,
//     less when a competitor is cheaper), remove_from_cart, checkout_started
//     (about 50% of carts), order_placed (about 72% of checkouts): about 2%
//     of sessions convert. Think times keep a session's events within 20
//     minutes of each other, under the 30-minute session gap.
//   - Orders (schema version 2) carry discount (10% on promoted lines), VAT,
//     shipping, payment method, card fingerprint, billing and shipping
//     country, IP and device. About 3% of genuine payments fail (then the
//     order is cancelled); 2% of orders are cancelled and refunded within
//     hours; 6% have a line refunded 3-25 days later.
//   - Seasonality: a night trough and an evening peak (about 6x), weekends
//     10% above the weekly mean and weekdays 4% below; session arrivals
//     are scaled by the measured events per session so the mean rate over a
//     week is EventsPerSecond.
//   - Prices: a category promotion (10-30% off for 2-4 days) starts on about
//     one day in seven, with price_changed down and back; rare repricing;
//     three competitors' prices follow a mean-reverting random walk.
//   - Fraud, about 1% of authorized orders: account takeover (a buyer's
//     account from a new device and a hosting IP, expensive products, the
//     saved card, shipped abroad), velocity (one IP, several new accounts and
//     cards within the hour) and card testing (one IP, dozens of small
//     orders with new cards, most declined). Each authorized fraudulent
//     order, and no other, gets a chargeback with reason fraud 3-30 days
//     later; FraudPattern names the pattern for tests.
//
// Determinism: the same config gives a byte-identical stream. Money is
// integer; ids come from the seed and a counter. Some draws use float64
// (exponential gaps, elasticities), which Go computes identically on one
// architecture; a platform that fuses multiply-adds may differ.
//
// In real time (Start = now, RunConfig.Speed 1) the first minutes ramp up:
// sessions take a few minutes to emit their events, so the rate reaches
// EventsPerSecond after about ten minutes.
type Shop struct {
	cfg     ShopConfig
	rng     *rand.Rand
	seedMix uint64
	tag     string

	start, end int64 // end 0: endless
	now        int64
	done       bool
	q          shopQueue
	qseq       uint64
	ids        uint64 // counter behind every id

	products   []shopProduct
	byRank     []int32 // product indexes, most popular first
	rankCum    []uint64
	catProds   [][]int32 // per category, by popularity
	catCum     [][]uint64
	expensive  []int32 // top price decile
	cheap      []int32 // bottom price decile
	suppliers  []shopSupplier
	warehouses []string
	stock      []int64 // product*W + warehouse
	onOrder    []bool

	customers []shopCustomer
	custCum   []uint64
	buyers    []int32 // customers with an authorized order, for account takeover
	regCount  int

	promoCat   int // -1 none
	promoUntil int64

	// Events per session, measured, to scale the arrival rate.
	sessEvents, sessDone, otherEvents, sessStarted uint64

	stats       ShopStats
	fraudOrders map[string]string // order id -> pattern, for tests and labels
}

// NewShop builds the shop for cfg. It panics if cfg.Validate fails: callers
// validate configs where they load them.
func NewShop(cfg ShopConfig) *Shop {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	seedMix := splitmix64(uint64(cfg.Seed) ^ 0x5e0d5a0b)
	s := &Shop{
		cfg:         cfg,
		rng:         rand.New(rand.NewPCG(seedMix, splitmix64(seedMix))),
		seedMix:     seedMix,
		tag:         fmt.Sprintf("%08x", uint32(seedMix>>32)),
		start:       cfg.Start.UnixMicro(),
		promoCat:    -1,
		fraudOrders: map[string]string{},
	}
	if cfg.Days > 0 {
		s.end = s.start + int64(cfg.Days)*usDay
	}
	s.now = s.start
	s.buildCatalogue()
	s.buildCustomers()
	s.push(shopItem{at: s.start, kind: kDaily})
	s.push(shopItem{at: s.start, kind: kArrival})
	return s
}

// Stats returns the counts so far.
func (s *Shop) Stats() ShopStats { return s.stats }

// Now is the simulated clock: the time of the last event returned.
func (s *Shop) Now() time.Time { return time.UnixMicro(s.now).UTC() }

// Next returns the next event in event-time order, or false once the
// simulated period (Days) is over. Events are pointers to the catalogue's
// types (*events.PageView, *events.OrderPlaced, ...), like events.Decode's.
func (s *Shop) Next() (events.Event, bool) {
	for !s.done {
		it := s.pop()
		if s.end > 0 && it.at >= s.end {
			s.done = true
			break
		}
		s.now = it.at
		var ev events.Event
		switch it.kind {
		case kEmit:
			ev = it.ev
			if it.at > s.start { // not the opening stock and prices
				s.otherEvents++
			}
		case kArrival:
			s.arrival()
		case kStep:
			ss := it.sess
			ev = s.step(ss)
			if ev != nil {
				ss.events++
			}
			if ss.stage == stEnd {
				s.sessDone++
				s.sessEvents += ss.events
			}
		case kDaily:
			s.daily()
		case kStockIn:
			ev = s.stockIn(it)
			if ev != nil {
				s.otherEvents++
			}
		case kStockOut:
			ev = s.stockOut(it)
			if ev != nil {
				s.otherEvents++
			}
		case kRestock:
			s.stock[it.a] += it.n
		case kPrice:
			ev = s.applyPrice(it)
			s.otherEvents++
		case kFraud:
			s.fraud(int(it.a))
		case kErase:
			ev = s.erase(int(it.a))
			if ev != nil {
				s.otherEvents++
			}
		}
		if ev != nil {
			s.stats.Events++
			s.countEvent(ev)
			return ev, true
		}
	}
	return nil, false
}

// Source adapts the shop to Run. The events keep their simulated times: Run
// paces them with RunConfig.Speed, and now is ignored.
func (s *Shop) Source() Source {
	return SourceFunc(func(time.Time) (events.Event, bool) { return s.Next() })
}

func (s *Shop) countEvent(ev events.Event) {
	switch e := ev.(type) {
	case *events.OrderPlaced:
		s.stats.Orders++
	case *events.Payment:
		if e.Type == events.TypePaymentFailed {
			s.stats.PaymentsFailed++
		} else {
			s.stats.AuthorizedOrders++
			if _, ok := s.fraudOrders[e.OrderID]; ok {
				s.stats.FraudOrders++
			}
		}
	case *events.Chargeback:
		s.stats.Chargebacks++
	case *events.Refund:
		s.stats.Refunds++
	case *events.OrderCancelled:
		s.stats.Cancellations++
	case *events.CustomerRegistered:
		s.stats.Registrations++
	}
}

// FraudPattern returns the fraud pattern behind an order ("card_testing",
// "account_takeover", "velocity"), or "" for a genuine order. It is the
// ground truth a fraud model is scored against; the stream carries the same
// label as a chargeback with reason fraud.
func (s *Shop) FraudPattern(orderID string) string { return s.fraudOrders[orderID] }

// ---- the event queue ----

type itemKind uint8

const (
	kEmit     itemKind = iota // emit ev
	kArrival                  // a session arrives; schedule the next arrival
	kStep                     // a session's next step
	kDaily                    // midnight: plan the day
	kStockIn                  // stock arrives (ev: receipt or return); applied when due
	kStockOut                 // shrinkage of up to n units at stock index a
	kRestock                  // silent stock release of a failed payment
	kPrice                    // own price change (ev), applied when due
	kFraud                    // a fraud episode of pattern a starts
	kErase                    // customer a asks for erasure
)

type shopItem struct {
	at   int64
	seq  uint64
	kind itemKind
	ev   events.Event
	sess *shopSession
	a    int64
	n    int64
}

// shopQueue is a binary min-heap on (at, seq): seq is a push counter, so
// ties break in push order, deterministically.
type shopQueue []shopItem

func (q shopQueue) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}

func (s *Shop) push(it shopItem) {
	if it.at < s.now {
		it.at = s.now // never schedule into the past
	}
	s.qseq++
	it.seq = s.qseq
	s.q = append(s.q, it)
	q := s.q
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (s *Shop) pop() shopItem {
	q := s.q
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q[n] = shopItem{}
	q = q[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			break
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
	s.q = q
	return top
}

func (s *Shop) emitAt(at int64, ev events.Event) { s.push(shopItem{at: at, kind: kEmit, ev: ev}) }

// ---- ids, headers, random helpers ----

func (s *Shop) nextID() uint64 { s.ids++; return s.ids }

func (s *Shop) id(prefix string) string {
	return prefix + "-" + s.tag + "-" + strconv.FormatUint(s.nextID(), 36)
}

// hexID is an opaque id (card fingerprints, device ids) from the counter.
func (s *Shop) hexID(prefix string) string {
	return prefix + "-" + strconv.FormatUint(splitmix64(s.seedMix^splitmix64(s.nextID())), 16)
}

func (s *Shop) head(typ string, at int64) events.Header {
	return events.Header{
		EventID:       counterUUID(s.seedMix, s.nextID()),
		Type:          typ,
		Source:        ShopSource,
		EventTime:     time.UnixMicro(at).UTC(),
		SchemaVersion: 1,
		ShopID:        s.cfg.ShopID,
	}
}

func (s *Shop) chance(p float64) bool { return s.rng.Float64() < p }

// between returns a uniform integer in [lo, hi].
func (s *Shop) between(lo, hi int64) int64 { return lo + s.rng.Int64N(hi-lo+1) }

// expDur is an exponential duration with the given mean, clamped.
func (s *Shop) expDur(mean, lo, hi int64) int64 {
	d := int64(s.rng.ExpFloat64() * float64(mean))
	return min(max(d, lo), hi)
}

func (s *Shop) pickW(wts []int) int { return pickWeighted(s.rng, wts) }

func (s *Shop) pickCum(cum []uint64) int { return pickCumulative(s.rng, cum) }

// ---- seasonality and arrivals ----

// hourShape is the relative traffic per hour of day (UTC, the shop's zone):
// a night trough and an evening peak. It is normalised to a mean of 1.
var hourShape = func() [24]float64 {
	raw := [24]float64{0.55, 0.40, 0.30, 0.25, 0.25, 0.30, 0.45, 0.70, 0.90, 1.00, 1.05, 1.10,
		1.20, 1.15, 1.10, 1.10, 1.15, 1.25, 1.40, 1.60, 1.75, 1.65, 1.30, 0.90}
	sum := 0.0
	for _, v := range raw {
		sum += v
	}
	for i := range raw {
		raw[i] *= 24 / sum
	}
	return raw
}()

// weekShape is the relative traffic per weekday (Sunday first): weekends
// 10% above the weekly mean, weekdays 4% below; the mean is 1.
var weekShape = [7]float64{1.10, 0.96, 0.96, 0.96, 0.96, 0.96, 1.10}

// season is the traffic multiplier at t, interpolated between hour centres.
func season(t int64) float64 {
	tm := time.UnixMicro(t).UTC()
	h := tm.Hour()
	frac := (float64(tm.Minute()) + float64(tm.Second())/60) / 60
	var a, b float64
	if frac < 0.5 {
		a, b = hourShape[(h+23)%24], hourShape[h]
		frac += 0.5
	} else {
		a, b = hourShape[h], hourShape[(h+1)%24]
		frac -= 0.5
	}
	return (a + (b-a)*frac) * weekShape[tm.Weekday()]
}

// eventsPerSession is the measured mean events per session, including the
// events that do not belong to a session (payments, stock, market data)
// spread over the sessions, with a prior while few sessions are done.
func (s *Shop) eventsPerSession() float64 {
	const prior, weight = 3.2, 200.0
	per := (float64(s.sessEvents) + prior*weight) / (float64(s.sessDone) + weight)
	other := float64(s.otherEvents) / (float64(s.sessStarted) + weight)
	return per + other
}

func (s *Shop) arrival() {
	rate := s.cfg.EventsPerSecond * season(s.now) / s.eventsPerSession() // sessions/s
	s.startSession(rate)
	gap := int64(s.rng.ExpFloat64() / rate * float64(usSecond))
	s.push(shopItem{at: s.now + max(gap, 1), kind: kArrival})
}
