package events

import (
	"slices"
	"time"
)

// typeSpec describes one type of the catalogue.
type typeSpec struct {
	typ   string
	topic string
	// key names the data field the Kafka key is taken from.
	key string
	// latest is the newest schema version; versions 1..latest are accepted.
	latest int
	new    func() validator
}

// catalogue lists every type, in the order `schemas list` shows them.
var catalogue = []typeSpec{
	{TypePageView, TopicClickstream, "session_id", 1, func() validator { return &PageView{} }},
	{TypeProductView, TopicClickstream, "session_id", 1, func() validator { return &ProductView{} }},
	{TypeSearch, TopicClickstream, "session_id", 1, func() validator { return &Search{} }},
	{TypeAddToCart, TopicClickstream, "session_id", 1, func() validator { return &CartChange{} }},
	{TypeRemoveFromCart, TopicClickstream, "session_id", 1, func() validator { return &CartChange{} }},
	{TypeCheckoutStarted, TopicClickstream, "session_id", 1, func() validator { return &CheckoutStarted{} }},
	{TypeOrderPlaced, TopicOrders, "customer_id", 2, func() validator { return &OrderPlaced{} }},
	{TypeOrderCancelled, TopicOrders, "customer_id", 1, func() validator { return &OrderCancelled{} }},
	{TypePaymentAuthorized, TopicPayments, "customer_id", 1, func() validator { return &Payment{} }},
	{TypePaymentFailed, TopicPayments, "customer_id", 1, func() validator { return &Payment{} }},
	{TypeRefund, TopicPayments, "customer_id", 1, func() validator { return &Refund{} }},
	{TypeChargeback, TopicPayments, "customer_id", 1, func() validator { return &Chargeback{} }},
	{TypeInventoryAdjusted, TopicInventory, "product_id", 1, func() validator { return &InventoryAdjusted{} }},
	{TypePriceChanged, TopicMarket, "product_id", 1, func() validator { return &PriceChanged{} }},
	{TypeCompetitorPrice, TopicMarket, "product_id", 1, func() validator { return &CompetitorPrice{} }},
	{TypeCustomerRegistered, TopicCustomers, "customer_id", 1, func() validator { return &CustomerRegistered{} }},
	{TypeCustomerUpdated, TopicCustomers, "customer_id", 1, func() validator { return &CustomerUpdated{} }},
	{TypeErasureRequested, TopicCustomers, "customer_id", 1, func() validator { return &ErasureRequested{} }},
}

var specByType = func() map[string]*typeSpec {
	m := make(map[string]*typeSpec, len(catalogue))
	for i := range catalogue {
		m[catalogue[i].typ] = &catalogue[i]
	}
	return m
}()

// Types returns every event type of the catalogue.
func Types() []string {
	out := make([]string, len(catalogue))
	for i, s := range catalogue {
		out[i] = s.typ
	}
	return out
}

// LatestVersion returns the newest schema version of a type, or 0 for an
// unknown type. Producers stamp it on the events they make.
func LatestVersion(typ string) int {
	if s, ok := specByType[typ]; ok {
		return s.latest
	}
	return 0
}

// validator is an event that can check its own fields and take its header.
type validator interface {
	Event
	Validate(now time.Time) error
	setHeader(Header)
}

// newEvent returns an empty event of the type, or nil for an unknown type.
func newEvent(typ string) validator {
	if s, ok := specByType[typ]; ok {
		return s.new()
	}
	return nil
}

// typeIn reports whether typ is one of the types.
func typeIn(typ string, types ...string) bool { return slices.Contains(types, typ) }
