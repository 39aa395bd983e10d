package events

import "time"

// This file is the catalogue's Go contract: every event type, the topic it
// travels on and the entity it is keyed by. The JSON Schemas (schemas/) and
// the validators must agree with these types.
//
// On the wire every event is an envelope:
//
//	{"id": "...", "type": "page_view", "source": "web", "time": "RFC 3339",
//	 "schema_version": 1, "shop_id": "...", "seq": 7, "data": {...}}
//
// where data holds the type's own fields (the structs below, without Header).

// Topics of the catalogue.
const (
	TopicClickstream = "shop.clickstream.v1"
	TopicOrders      = "shop.orders.v1"
	TopicPayments    = "shop.payments.v1"
	TopicInventory   = "shop.inventory.v1"
	TopicMarket      = "shop.market.v1"
	TopicCustomers   = "shop.customers.v1"
	TopicDLQ         = "shop.dlq.v1"
)

// Event types.
const (
	TypePageView           = "page_view"
	TypeProductView        = "product_view"
	TypeSearch             = "search"
	TypeAddToCart          = "add_to_cart"
	TypeRemoveFromCart     = "remove_from_cart"
	TypeCheckoutStarted    = "checkout_started"
	TypeOrderCancelled     = "order_cancelled"
	TypePaymentAuthorized  = "payment_authorized"
	TypePaymentFailed      = "payment_failed"
	TypeRefund             = "refund"
	TypeChargeback         = "chargeback"
	TypeInventoryAdjusted  = "inventory_adjusted"
	TypePriceChanged       = "price_changed"
	TypeCompetitorPrice    = "competitor_price"
	TypeCustomerRegistered = "customer_registered"
	TypeCustomerUpdated    = "customer_updated"
	TypeErasureRequested   = "erasure_requested"
	// TypeOrderPlaced is in order.go.
)

// Header is the envelope of every event but its data.
type Header struct {
	EventID       string    `json:"id"`
	Type          string    `json:"type"`
	Source        string    `json:"source"`
	EventTime     time.Time `json:"time"`
	SchemaVersion int       `json:"schema_version"`
	ShopID        string    `json:"shop_id"`
	// Seq numbers the events of one key from one producer, so a checker can
	// name gaps and repeats. Optional.
	Seq int64 `json:"seq,omitempty"`
}

// Event is any event of the catalogue.
type Event interface {
	// Head returns the envelope fields.
	Head() Header
	// Topic is the Kafka topic the event travels on.
	Topic() string
	// Key is the Kafka message key: the entity whose events must stay in
	// order (session, customer, order, product).
	Key() []byte
}

// Client describes the device behind a clickstream or order event.
type Client struct {
	Device    string `json:"device,omitempty"` // desktop, mobile, tablet, app
	UserAgent string `json:"user_agent,omitempty"`
	IP        string `json:"ip,omitempty"`
	// DeviceID is a stable device fingerprint, used to spot new devices.
	DeviceID string `json:"device_id,omitempty"`
}

// Clickstream fields shared by every clickstream event.
type Clickstream struct {
	SessionID  string `json:"session_id"`
	CustomerID string `json:"customer_id,omitempty"` // empty when not known
	Client
	Page     string `json:"page,omitempty"`
	Referrer string `json:"referrer,omitempty"`
}

// PageView is a page seen.
type PageView struct {
	Header `json:"-"`
	Clickstream
}

// ProductView is a product page seen, with the price shown.
type ProductView struct {
	Header `json:"-"`
	Clickstream
	ProductID  string `json:"product_id"`
	Category   string `json:"category,omitempty"`
	PriceMinor int64  `json:"price_minor"`
	Currency   string `json:"currency"`
}

// Search is a search query and how many results it found.
type Search struct {
	Header `json:"-"`
	Clickstream
	Query   string `json:"query"`
	Results int    `json:"results"`
}

// CartChange is an add_to_cart or remove_from_cart.
type CartChange struct {
	Header `json:"-"`
	Clickstream
	ProductID  string `json:"product_id"`
	Quantity   int64  `json:"quantity"`
	PriceMinor int64  `json:"price_minor"`
	Currency   string `json:"currency"`
}

// CheckoutStarted is the start of a checkout with the cart's value.
type CheckoutStarted struct {
	Header `json:"-"`
	Clickstream
	CartMinor int64  `json:"cart_minor"`
	Currency  string `json:"currency"`
	Items     int64  `json:"items"`
}

// OrderCancelled cancels a placed order, wholly or some of its lines.
type OrderCancelled struct {
	Header      `json:"-"`
	OrderID     string `json:"order_id"`
	CustomerID  string `json:"customer_id"`
	Reason      string `json:"reason,omitempty"`
	AmountMinor int64  `json:"amount_minor"` // value cancelled
	Currency    string `json:"currency"`
	// Lines cancelled; empty means the whole order.
	Lines []OrderLine `json:"lines,omitempty"`
}

// Payment is a payment_authorized or payment_failed.
type Payment struct {
	Header          `json:"-"`
	PaymentID       string `json:"payment_id"`
	OrderID         string `json:"order_id"`
	CustomerID      string `json:"customer_id"`
	AmountMinor     int64  `json:"amount_minor"`
	Currency        string `json:"currency"`
	Method          string `json:"method"` // card, paypal, bank_transfer, gift_card
	CardFingerprint string `json:"card_fingerprint,omitempty"`
	FailureCode     string `json:"failure_code,omitempty"` // payment_failed only
}

// Refund returns money for an order.
type Refund struct {
	Header      `json:"-"`
	RefundID    string `json:"refund_id"`
	OrderID     string `json:"order_id"`
	CustomerID  string `json:"customer_id"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Reason      string `json:"reason,omitempty"`
}

// Chargeback is a disputed payment: the fraud label.
type Chargeback struct {
	Header       `json:"-"`
	ChargebackID string `json:"chargeback_id"`
	OrderID      string `json:"order_id"`
	PaymentID    string `json:"payment_id,omitempty"`
	CustomerID   string `json:"customer_id"`
	AmountMinor  int64  `json:"amount_minor"`
	Currency     string `json:"currency"`
	Reason       string `json:"reason"` // fraud, not_received, ...
}

// InventoryAdjusted is a stock movement of one product in one warehouse.
type InventoryAdjusted struct {
	Header      `json:"-"`
	ProductID   string `json:"product_id"`
	WarehouseID string `json:"warehouse_id"`
	// Delta is signed: receipts and returns add, sales and shrinkage remove.
	Delta  int64  `json:"delta"`
	Reason string `json:"reason"` // receipt, sale, return, shrinkage, count
	// SupplierID and LeadTimeDays describe the supplier on a receipt.
	SupplierID    string `json:"supplier_id,omitempty"`
	LeadTimeDays  int    `json:"lead_time_days,omitempty"`
	UnitCostMinor int64  `json:"unit_cost_minor,omitempty"`
	Currency      string `json:"currency,omitempty"`
}

// PriceChanged is the shop's own price for a product.
type PriceChanged struct {
	Header        `json:"-"`
	ProductID     string `json:"product_id"`
	OldPriceMinor int64  `json:"old_price_minor"`
	NewPriceMinor int64  `json:"new_price_minor"`
	Currency      string `json:"currency"`
	Reason        string `json:"reason,omitempty"` // promotion, repricing, cost
}

// CompetitorPrice is a competitor's price for a product, from a market feed.
type CompetitorPrice struct {
	Header     `json:"-"`
	ProductID  string `json:"product_id"`
	Competitor string `json:"competitor"`
	PriceMinor int64  `json:"price_minor"`
	Currency   string `json:"currency"`
	InStock    bool   `json:"in_stock"`
}

// CustomerRegistered is a new account.
type CustomerRegistered struct {
	Header           `json:"-"`
	CustomerID       string `json:"customer_id"`
	Email            string `json:"email,omitempty"`
	Country          string `json:"country"`
	MarketingConsent bool   `json:"marketing_consent"`
}

// CustomerUpdated changes an account's country or marketing consent.
type CustomerUpdated struct {
	Header           `json:"-"`
	CustomerID       string `json:"customer_id"`
	Country          string `json:"country,omitempty"`
	MarketingConsent *bool  `json:"marketing_consent,omitempty"`
}

// ErasureRequested asks for a customer's personal data to be erased (GDPR).
type ErasureRequested struct {
	Header      `json:"-"`
	CustomerID  string `json:"customer_id"`
	RequestedBy string `json:"requested_by,omitempty"`
}
