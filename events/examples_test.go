package events

import (
	"time"
)

func hdr(typ string, version int) Header {
	return Header{EventID: "e-" + typ, Type: typ, Source: "web", EventTime: testNow.Add(-time.Minute),
		SchemaVersion: version, ShopID: "shop-1", Seq: 7}
}

var click = Clickstream{SessionID: "s-1", CustomerID: "c-1",
	Client: Client{Device: "mobile", UserAgent: "Mozilla/5.0", IP: "203.0.113.7", DeviceID: "d-1"},
	Page:   "/p/sku-1", Referrer: "https://www.google.com/"}

// validEvents returns one valid event of every type and version of the
// catalogue, keyed by "type/vN".
func validEvents() map[string]Event {
	yes := true
	v2 := validOrder()
	v2.Header = hdr(TypeOrderPlaced, 2)
	v2.DiscountMinor, v2.TaxMinor, v2.ShippingMinor = 100, 80, 399
	v2.TotalMinor = 500 - 100 + 80 + 399
	v2.PaymentMethod, v2.CardFingerprint = "card", "fp-1"
	v2.BillingCountry, v2.ShippingCountry = "GB", "FR"
	v2.IP, v2.Device, v2.DeviceID = "2001:db8::1", "desktop", "d-9"
	v2.SessionID = "s-1"
	v1 := validOrder()
	return map[string]Event{
		"page_view/v1":    &PageView{Header: hdr(TypePageView, 1), Clickstream: click},
		"product_view/v1": &ProductView{Header: hdr(TypeProductView, 1), Clickstream: click, ProductID: "sku-1", Category: "kitchen", PriceMinor: 1299, Currency: "GBP"},
		"search/v1":       &Search{Header: hdr(TypeSearch, 1), Clickstream: click, Query: "red mug", Results: 12},
		"add_to_cart/v1":  &CartChange{Header: hdr(TypeAddToCart, 1), Clickstream: click, ProductID: "sku-1", Quantity: 2, PriceMinor: 1299, Currency: "GBP"},
		"remove_from_cart/v1": &CartChange{Header: hdr(TypeRemoveFromCart, 1), Clickstream: Clickstream{SessionID: "s-2"},
			ProductID: "sku-1", Quantity: 1, PriceMinor: 1299, Currency: "GBP"},
		"checkout_started/v1": &CheckoutStarted{Header: hdr(TypeCheckoutStarted, 1), Clickstream: click, CartMinor: 2598, Currency: "GBP", Items: 2},
		"order_placed/v1":     &v1,
		"order_placed/v2":     &v2,
		"order_cancelled/v1": &OrderCancelled{Header: hdr(TypeOrderCancelled, 1), OrderID: "o-1", CustomerID: "c-1", Reason: "out_of_stock",
			AmountMinor: 500, Currency: "GBP", Lines: []OrderLine{{ProductID: "p-1", Quantity: 2, UnitPriceMinor: 250}}},
		"payment_authorized/v1": &Payment{Header: hdr(TypePaymentAuthorized, 1), PaymentID: "pay-1", OrderID: "o-1", CustomerID: "c-1",
			AmountMinor: 500, Currency: "GBP", Method: "card", CardFingerprint: "fp-1"},
		"payment_failed/v1": &Payment{Header: hdr(TypePaymentFailed, 1), PaymentID: "pay-2", OrderID: "o-1", CustomerID: "c-1",
			AmountMinor: 500, Currency: "GBP", Method: "card", CardFingerprint: "fp-2", FailureCode: "card_declined"},
		"refund/v1": &Refund{Header: hdr(TypeRefund, 1), RefundID: "r-1", OrderID: "o-1", CustomerID: "c-1", AmountMinor: 250, Currency: "GBP", Reason: "returned"},
		"chargeback/v1": &Chargeback{Header: hdr(TypeChargeback, 1), ChargebackID: "cb-1", OrderID: "o-1", PaymentID: "pay-1", CustomerID: "c-1",
			AmountMinor: 500, Currency: "GBP", Reason: "fraud"},
		"inventory_adjusted/v1": &InventoryAdjusted{Header: hdr(TypeInventoryAdjusted, 1), ProductID: "sku-1", WarehouseID: "w-1", Delta: 120,
			Reason: "receipt", SupplierID: "sup-1", LeadTimeDays: 14, UnitCostMinor: 600, Currency: "GBP"},
		"price_changed/v1":    &PriceChanged{Header: hdr(TypePriceChanged, 1), ProductID: "sku-1", OldPriceMinor: 1299, NewPriceMinor: 999, Currency: "GBP", Reason: "promotion"},
		"competitor_price/v1": &CompetitorPrice{Header: hdr(TypeCompetitorPrice, 1), ProductID: "sku-1", Competitor: "acme", PriceMinor: 1199, Currency: "GBP", InStock: true},
		"customer_registered/v1": &CustomerRegistered{Header: hdr(TypeCustomerRegistered, 1), CustomerID: "c-1", Email: "ann@example.com",
			Country: "GB", MarketingConsent: true},
		"customer_updated/v1":  &CustomerUpdated{Header: hdr(TypeCustomerUpdated, 1), CustomerID: "c-1", MarketingConsent: &yes},
		"erasure_requested/v1": &ErasureRequested{Header: hdr(TypeErasureRequested, 1), CustomerID: "c-1", RequestedBy: "customer"},
	}
}
