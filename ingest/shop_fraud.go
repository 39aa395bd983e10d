package ingest

import "github.com/shoppulse/shoppulse/events"

// Fraud patterns. Each fraudulent order that is authorized gets a chargeback
// with reason fraud 3 to 30 days later: the label a fraud model trains on.
// Genuine orders never get a chargeback.

const (
	fraudATO = iota
	fraudVelocity
	fraudCardTesting
)

// Fraud pattern names, as FraudPattern returns them.
const (
	FraudAccountTakeover = "account_takeover"
	FraudVelocity        = "velocity"
	FraudCardTesting     = "card_testing"
)

func (s *Shop) fraud(pattern int) {
	switch pattern {
	case fraudATO:
		s.accountTakeover()
	case fraudVelocity:
		s.velocity()
	case fraudCardTesting:
		s.cardTesting()
	}
}

// otherCountry is a country unlike the customer's.
func (s *Shop) otherCountry(not string) string {
	for {
		c := [...]string{"NG", "RO", "US", "BR", "UA", "VN", "DE", "FR"}[s.rng.IntN(8)]
		if c != not {
			return c
		}
	}
}

// accountTakeover: someone logs into an existing buyer's account from a new
// device and address, fills a cart with expensive products, pays with the
// saved card and ships abroad.
func (s *Shop) accountTakeover() {
	var victim = -1
	for range 16 {
		if len(s.buyers) == 0 {
			return
		}
		ci := int(s.buyers[s.rng.IntN(len(s.buyers))])
		if c := &s.customers[ci]; !c.erased {
			victim = ci
			break
		}
	}
	if victim < 0 {
		return
	}
	s.sessStarted++
	s.stats.Sessions++
	c := &s.customers[victim]
	ss := &shopSession{cust: victim, cat: -1, fraud: FraudAccountTakeover, wantCart: true, checkout: true, order: true}
	ss.cl.SessionID = s.id("ses")
	ss.cl.CustomerID = s.custID(victim)
	ss.cl.Device = "desktop"
	ss.cl.UserAgent = shopDevices[1].uas[0]
	ss.cl.DeviceID = s.hexID("dev")
	ss.cl.IP = s.fraudIP()
	ss.adds = int(s.between(2, 3))
	ss.ship = s.otherCountry(c.country)
	s.push(shopItem{at: s.now, kind: kStep, sess: ss})
}

// fraudAccount registers a throwaway account at, returning its index.
func (s *Shop) fraudAccount(at int64) int {
	ci := s.newCustomer(segBrowser)
	c := &s.customers[ci]
	c.fraudster = true
	c.country = s.otherCountry("")
	s.emitAt(at, s.register(ci, at))
	s.regCount-- // not a real customer: never picked for visits or updates
	return ci
}

// velocity: one IP places several orders within the hour from a few new
// accounts, each with a different card, shipping elsewhere.
func (s *Shop) velocity() {
	ip, dev := s.fraudIP(), s.hexID("dev")
	client := events.Client{Device: "desktop", UserAgent: shopDevices[1].uas[2], IP: ip, DeviceID: dev}
	var accounts []int
	for range s.between(1, 3) {
		accounts = append(accounts, s.fraudAccount(s.now))
	}
	at := s.now + usMinute
	for range s.between(3, 8) {
		ci := accounts[s.rng.IntN(len(accounts))]
		var lines []cartLine
		for range s.between(1, 2) {
			lines = append(lines, cartLine{p: int(s.expensive[s.rng.IntN(len(s.expensive))]), qty: s.between(1, 2)})
		}
		s.placeOrder(orderSpec{at: at, cust: ci, lines: lines, client: client, method: "card", card: s.hexID("card"),
			billing: s.customers[ci].country, shipping: s.otherCountry(s.customers[ci].country),
			fraud: FraudVelocity, failP: 0.15, failCode: "fraud_suspected"})
		at += s.between(2*usMinute, 12*usMinute)
	}
}

// cardTesting: a bot checks stolen card numbers with many small orders from
// one IP, most of them declined.
func (s *Shop) cardTesting() {
	client := events.Client{Device: "desktop", UserAgent: "python-requests/2.32.3", IP: s.fraudIP(), DeviceID: s.hexID("dev")}
	ci := s.fraudAccount(s.now)
	at := s.now + 30*usSecond
	codes := [...]string{"card_declined", "card_declined", "incorrect_cvc", "expired_card", "insufficient_funds"}
	for range s.between(15, 40) {
		pi := int(s.cheap[s.rng.IntN(len(s.cheap))])
		s.placeOrder(orderSpec{at: at, cust: ci, lines: []cartLine{{p: pi, qty: 1}}, client: client, method: "card",
			card: s.hexID("card"), billing: s.customers[ci].country, shipping: s.customers[ci].country,
			fraud: FraudCardTesting, failP: 0.88, failCode: codes[s.rng.IntN(len(codes))]})
		at += s.between(5*usSecond, 40*usSecond)
	}
}
