package ingest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

// Defaults and bounds of a SimConfig.
const (
	DefaultSimCustomers = 1000
	DefaultSimProducts  = 200
	MaxSimCustomers     = 10_000_000
	MaxSimProducts      = 1_000_000
)

// SimConfig sizes a simulated shop. Zero Customers or Products take the
// defaults.
type SimConfig struct {
	Seed      int64
	Customers int
	Products  int
}

func (c SimConfig) withDefaults() SimConfig {
	if c.Customers == 0 {
		c.Customers = DefaultSimCustomers
	}
	if c.Products == 0 {
		c.Products = DefaultSimProducts
	}
	return c
}

// Validate reports a config NewSimulator would reject.
func (c SimConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if c.Customers < 1 || c.Customers > MaxSimCustomers {
		errs = append(errs, fmt.Errorf("sim config: customers: want 1 to %d, got %d", MaxSimCustomers, c.Customers))
	}
	if c.Products < 1 || c.Products > MaxSimProducts {
		errs = append(errs, fmt.Errorf("sim config: products: want 1 to %d, got %d", MaxSimProducts, c.Products))
	}
	return errors.Join(errs...)
}

// segment is a kind of customer behaviour.
type segment uint8

const (
	occasional segment = iota
	loyal
	bigSpender
)

func (s segment) String() string {
	return [...]string{"occasional", "loyal", "big-spender"}[s]
}

// segmentProfile is how a segment shops. Probabilities are in percent so all
// arithmetic stays integer.
type segmentProfile struct {
	share     int // percent of customers
	activity  uint64
	minLines  int
	moreLines int // percent chance of one more line, repeated
	favourite int // percent of lines picked from the customer's favourites
	// quantities are drawn from packs, weighted.
	packs   []int64
	packWts []int
}

// segments is indexed by segment.
var segments = [...]segmentProfile{
	occasional: {share: 75, activity: 1, minLines: 1, moreLines: 45,
		packs: []int64{1, 2, 3, 4}, packWts: []int{70, 20, 7, 3}},
	loyal: {share: 15, activity: 10, minLines: 1, moreLines: 70, favourite: 50,
		packs: []int64{1, 2, 3, 6}, packWts: []int{55, 25, 12, 8}},
	bigSpender: {share: 10, activity: 4, minLines: 3, moreLines: 85,
		packs: []int64{1, 6, 12, 24, 48, 96}, packWts: []int{10, 25, 30, 20, 10, 5}},
}

// simCategories are the catalogue's categories; lo and hi index pricePoints.
var simCategories = [...]struct {
	name   string
	weight int
	lo, hi int
}{
	{"home-decor", 20, 4, 25},
	{"kitchen", 14, 6, 28},
	{"stationery", 12, 0, 16},
	{"party", 10, 0, 16},
	{"gifts", 10, 9, 25},
	{"toys", 8, 9, 27},
	{"textiles", 8, 12, 29},
	{"lighting", 6, 16, 31},
	{"garden", 6, 13, 31},
	{"jewellery", 4, 16, 35},
	{"electronics", 2, 23, 38},
}

// pricePoints are retail prices in pence, roughly log-spaced, so a uniform
// pick of an index in a category's range is a log-uniform price.
var pricePoints = [...]int64{
	29, 39, 49, 59, 69, 79, 85, 95, 125, 145, // 0-9
	165, 195, 249, 295, 349, 395, 495, 595, 695, 795, // 10-19
	895, 995, 1295, 1495, 1995, 2495, 2995, 3495, 3995, 4995, // 20-29
	5995, 7995, 9995, 12995, 14995, 19995, 24995, 29995, 49999, // 30-38
}

// simCountries weights customers' countries: mostly GB, some EU and US.
var simCountries = [...]struct {
	code   string
	weight int
}{
	{"GB", 700}, {"IE", 50}, {"DE", 45}, {"FR", 45}, {"NL", 30}, {"US", 30},
	{"BE", 20}, {"ES", 20}, {"IT", 15}, {"SE", 10}, {"DK", 10}, {"PT", 10},
	{"PL", 10}, {"AT", 5},
}

// simChannels weights channels; it must list only events.Channels.
var simChannels = [...]struct {
	name   string
	weight int
}{
	{"web", 55}, {"app", 30}, {"marketplace", 10}, {"store", 5},
}

// simCurrency is the currency of every simulated order; see the package doc.
const simCurrency = "GBP"

// maxSimLines bounds the lines of one simulated order (well under
// events.MaxOrderLines).
const maxSimLines = 40

type product struct {
	id       string
	category string
	price    int64
}

type customer struct {
	id         string
	country    string
	channel    string
	segment    segment
	favourites []int
	seq        int64
}

// Simulator is a deterministic synthetic shop. It is not safe for concurrent
// use: Next mutates the random stream and the counters.
type Simulator struct {
	rng      *rand.Rand
	seedMix  uint64
	tag      string // from the seed, in every id
	products []product
	// byRank lists product indexes, most popular first; rankCum holds the
	// cumulative popularity weights of the ranks.
	byRank    []int
	rankCum   []uint64
	customers []customer
	custCum   []uint64
	n         uint64
}

// NewSimulator builds the shop for cfg. It panics if cfg.Validate fails:
// callers validate configs where they load them.
func NewSimulator(cfg SimConfig) *Simulator {
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	cfg = cfg.withDefaults()
	seedMix := splitmix64(uint64(cfg.Seed))
	s := &Simulator{
		rng:     rand.New(rand.NewPCG(seedMix, splitmix64(seedMix))),
		seedMix: seedMix,
		tag:     fmt.Sprintf("%08x", uint32(seedMix>>32)),
	}
	s.buildCatalogue(cfg.Products)
	s.buildCustomers(cfg.Customers)
	return s
}

func (s *Simulator) buildCatalogue(n int) {
	var catWts []int
	for _, c := range simCategories {
		catWts = append(catWts, c.weight)
	}
	s.products = make([]product, n)
	for i := range s.products {
		c := simCategories[s.pick(catWts)]
		s.products[i] = product{
			id:       fmt.Sprintf("sku-%s-%06d", s.tag, i+1),
			category: c.name,
			price:    pricePoints[c.lo+s.rng.IntN(c.hi-c.lo+1)],
		}
	}
	// Popularity is unrelated to the id: shuffle, then give rank r the
	// weight W/(r+2), a Zipf-like long tail in integers.
	s.byRank = s.rng.Perm(n)
	s.rankCum = make([]uint64, n)
	const w = 1 << 40
	var sum uint64
	for r := range n {
		sum += w / uint64(r+2)
		s.rankCum[r] = sum
	}
}

func (s *Simulator) buildCustomers(n int) {
	var segWts, countryWts, chanWts []int
	for _, p := range segments {
		segWts = append(segWts, p.share)
	}
	for _, c := range simCountries {
		countryWts = append(countryWts, c.weight)
	}
	for _, c := range simChannels {
		chanWts = append(chanWts, c.weight)
	}
	s.customers = make([]customer, n)
	s.custCum = make([]uint64, n)
	var sum uint64
	for i := range s.customers {
		c := customer{
			id:      fmt.Sprintf("cust-%s-%07d", s.tag, i+1),
			segment: segment(s.pick(segWts)),
			country: simCountries[s.pick(countryWts)].code,
			channel: simChannels[s.pick(chanWts)].name,
		}
		if c.segment == loyal {
			for range 3 + s.rng.IntN(6) {
				c.favourites = append(c.favourites, s.popularProduct())
			}
		}
		s.customers[i] = c
		sum += segments[c.segment].activity
		s.custCum[i] = sum
	}
}

// pick returns an index of wts with probability proportional to its weight.
func (s *Simulator) pick(wts []int) int { return pickWeighted(s.rng, wts) }

// pickCum returns the index whose cumulative weight first exceeds a uniform
// draw below the total.
func (s *Simulator) pickCum(cum []uint64) int { return pickCumulative(s.rng, cum) }

// pickWeighted returns an index of wts with probability proportional to its
// weight. The simulators share it so their draws stay the same.
func pickWeighted(rng *rand.Rand, wts []int) int {
	total := 0
	for _, w := range wts {
		total += w
	}
	x := rng.IntN(total)
	for i, w := range wts {
		if x < w {
			return i
		}
		x -= w
	}
	return len(wts) - 1
}

// pickCumulative returns the index whose cumulative weight first exceeds a
// uniform draw below the total.
func pickCumulative(rng *rand.Rand, cum []uint64) int {
	x := rng.Uint64N(cum[len(cum)-1])
	i, _ := slices.BinarySearch(cum, x+1)
	return i
}

func (s *Simulator) popularProduct() int { return s.byRank[s.pickCum(s.rankCum)] }

// Next returns the next order, stamped with eventTime (in UTC, truncated to
// the microsecond, the precision PostgreSQL keeps). The caller owns the
// clock: the order passes events.OrderPlaced.Validate for any eventTime after
// the year 2000 that is not in the validator's future.
func (s *Simulator) Next(eventTime time.Time) events.OrderPlaced {
	s.n++
	ci := s.pickCum(s.custCum)
	c := &s.customers[ci]
	c.seq++
	prof := &segments[c.segment]

	nLines := prof.minLines
	for nLines < maxSimLines && s.rng.IntN(100) < prof.moreLines {
		nLines++
	}
	nLines = min(nLines, len(s.products))

	lines := make([]events.OrderLine, 0, nLines)
	seen := make(map[int]bool, nLines)
	var total int64
	for range nLines {
		var pi int
		for try := 0; ; try++ {
			if len(c.favourites) > 0 && s.rng.IntN(100) < prof.favourite {
				pi = c.favourites[s.rng.IntN(len(c.favourites))]
			} else {
				pi = s.popularProduct()
			}
			if !seen[pi] || try == 8 {
				break
			}
		}
		if seen[pi] {
			continue // a small catalogue ran out of distinct popular products
		}
		seen[pi] = true
		p := s.products[pi]
		qty := prof.packs[s.pick(prof.packWts)]
		lines = append(lines, events.OrderLine{
			ProductID:      p.id,
			Category:       p.category,
			Quantity:       qty,
			UnitPriceMinor: p.price,
		})
		total += qty * p.price
	}

	channel := c.channel
	if s.rng.IntN(100) < 15 {
		channel = simChannels[s.rng.IntN(len(simChannels))].name
	}

	return events.OrderPlaced{
		Header:     events.Header{EventID: counterUUID(s.seedMix, s.n), Type: events.TypeOrderPlaced, SchemaVersion: 1, EventTime: eventTime.UTC().Truncate(time.Microsecond), Seq: c.seq},
		OrderID:    fmt.Sprintf("ord-%s-%010d", s.tag, s.n),
		CustomerID: c.id,
		Country:    c.country,
		Currency:   simCurrency,
		Channel:    channel,
		Lines:      lines,
		TotalMinor: total,
	}
}

// Source returns the simulator as an endless Source that stamps each order
// with the runner's clock.
func (s *Simulator) Source() Source {
	return SourceFunc(func(now time.Time) (events.Event, bool) { return s.Next(now), true })
}
