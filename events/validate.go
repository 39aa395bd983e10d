package events

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Enumerations of the catalogue. The JSON Schemas list the same values; a
// test keeps them in step.
var (
	// Devices a client may be.
	Devices = []string{"desktop", "mobile", "tablet", "app"}
	// PaymentMethods a payment or an order may use.
	PaymentMethods = []string{"card", "paypal", "bank_transfer", "gift_card", "wallet"}
	// PaymentFailureCodes say why a payment failed.
	PaymentFailureCodes = []string{"card_declined", "insufficient_funds", "expired_card", "incorrect_cvc",
		"fraud_suspected", "processing_error"}
	// CancelReasons say why an order was cancelled.
	CancelReasons = []string{"customer_request", "out_of_stock", "payment_failed", "fraud", "other"}
	// RefundReasons say why money was returned.
	RefundReasons = []string{"returned", "damaged", "not_received", "cancelled", "goodwill", "other"}
	// ChargebackReasons say why a payment was disputed; fraud is the fraud label.
	ChargebackReasons = []string{"fraud", "not_received", "not_as_described", "duplicate", "other"}
	// InventoryReasons say why stock moved.
	InventoryReasons = []string{"receipt", "sale", "return", "shrinkage", "count"}
	// PriceReasons say why the shop's own price changed.
	PriceReasons = []string{"promotion", "promotion_end", "repricing", "cost"}
)

// Limits of free-text and numeric fields.
const (
	MaxTextLength    = 512  // user agent, search query, reasons
	MaxURLLength     = 2048 // page, referrer
	MaxSearchResults = 1_000_000
	MaxLeadTimeDays  = 365
	// MaxStockDelta bounds one stock movement.
	MaxStockDelta = 10_000_000
	// MinEventYear is the earliest event time accepted.
	MinEventYear = 2000
)

// validateHeader checks the envelope fields every event has: the type must be
// one of types, the schema version one the type has.
func validateHeader(verr *ValidationError, h Header, now time.Time, types ...string) {
	if !typeIn(h.Type, types...) {
		verr.add("$.type", "want %s, got %q", quoteJoin(types), h.Type)
	} else if latest := LatestVersion(h.Type); h.SchemaVersion < 1 || h.SchemaVersion > latest {
		verr.add("$.schema_version", "want 1 to %d for %s, got %d", latest, h.Type, h.SchemaVersion)
	}
	checkID(verr, "$.id", h.EventID)
	if h.Source != "" {
		checkID(verr, "$.source", h.Source)
	}
	if h.ShopID != "" {
		checkID(verr, "$.shop_id", h.ShopID)
	}
	switch {
	case h.EventTime.IsZero():
		verr.add("$.time", "required, an RFC 3339 time with a zone")
	case h.EventTime.After(now.Add(MaxFutureSkew)):
		verr.add("$.time", "%s is more than %s in the future", h.EventTime.Format(time.RFC3339), MaxFutureSkew)
	case h.EventTime.Year() < MinEventYear:
		verr.add("$.time", "%s is before the year %d", h.EventTime.Format(time.RFC3339), MinEventYear)
	}
	if h.Seq < 0 {
		verr.add("$.seq", "want 0 or more, got %d", h.Seq)
	}
}

func quoteJoin(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = `"` + s + `"`
	}
	return strings.Join(q, " or ")
}

func optID(verr *ValidationError, path, id string) {
	if id != "" {
		checkID(verr, path, id)
	}
}

func checkText(verr *ValidationError, path, s string, max int) {
	switch {
	case len(s) > max:
		verr.add(path, "longer than %d bytes", max)
	case hasControl(s):
		verr.add(path, "contains a control character")
	}
}

func checkCurrency(verr *ValidationError, path, s string) {
	if !isUpperAlpha(s, 3) {
		verr.add(path, "want an ISO 4217 code such as GBP, got %q", s)
	}
}

func checkCountry(verr *ValidationError, path, s string) {
	if !isUpperAlpha(s, 2) {
		verr.add(path, "want an ISO 3166-1 alpha-2 code such as GB, got %q", s)
	}
}

func checkAmount(verr *ValidationError, path string, v int64) {
	if v < 0 || v > MaxAmountMinor {
		verr.add(path, "want 0 to %d minor units, got %d", MaxAmountMinor, v)
	}
}

func checkPositiveAmount(verr *ValidationError, path string, v int64) {
	if v < 1 || v > MaxAmountMinor {
		verr.add(path, "want 1 to %d minor units, got %d", MaxAmountMinor, v)
	}
}

func checkEnum(verr *ValidationError, path, s string, list []string) {
	if !contains(list, s) {
		verr.add(path, "want one of %s, got %q", strings.Join(list, ", "), s)
	}
}

func optEnum(verr *ValidationError, path, s string, list []string) {
	if s != "" {
		checkEnum(verr, path, s, list)
	}
}

func checkIP(verr *ValidationError, path, s string) {
	if s == "" {
		return
	}
	if _, err := netip.ParseAddr(s); err != nil || strings.Contains(s, "%") {
		verr.add(path, "want an IPv4 or IPv6 address, got %q", s)
	}
}

func (c Client) validate(verr *ValidationError) {
	optEnum(verr, "$.data.device", c.Device, Devices)
	checkText(verr, "$.data.user_agent", c.UserAgent, MaxTextLength)
	checkIP(verr, "$.data.ip", c.IP)
	optID(verr, "$.data.device_id", c.DeviceID)
}

func (c Clickstream) validate(verr *ValidationError) {
	checkID(verr, "$.data.session_id", c.SessionID)
	optID(verr, "$.data.customer_id", c.CustomerID)
	c.Client.validate(verr)
	checkText(verr, "$.data.page", c.Page, MaxURLLength)
	checkText(verr, "$.data.referrer", c.Referrer, MaxURLLength)
}

func (e *ValidationError) err() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e PageView) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypePageView)
	e.Clickstream.validate(verr)
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e ProductView) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeProductView)
	e.Clickstream.validate(verr)
	checkID(verr, "$.data.product_id", e.ProductID)
	checkText(verr, "$.data.category", e.Category, MaxIDLength)
	checkAmount(verr, "$.data.price_minor", e.PriceMinor)
	checkCurrency(verr, "$.data.currency", e.Currency)
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e Search) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeSearch)
	e.Clickstream.validate(verr)
	if e.Query == "" {
		verr.add("$.data.query", "required")
	}
	checkText(verr, "$.data.query", e.Query, MaxTextLength)
	if e.Results < 0 || e.Results > MaxSearchResults {
		verr.add("$.data.results", "want 0 to %d, got %d", MaxSearchResults, e.Results)
	}
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e CartChange) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeAddToCart, TypeRemoveFromCart)
	e.Clickstream.validate(verr)
	checkID(verr, "$.data.product_id", e.ProductID)
	if e.Quantity < 1 || e.Quantity > MaxLineQuantity {
		verr.add("$.data.quantity", "want 1 to %d, got %d", MaxLineQuantity, e.Quantity)
	}
	checkAmount(verr, "$.data.price_minor", e.PriceMinor)
	checkCurrency(verr, "$.data.currency", e.Currency)
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e CheckoutStarted) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeCheckoutStarted)
	e.Clickstream.validate(verr)
	checkAmount(verr, "$.data.cart_minor", e.CartMinor)
	checkCurrency(verr, "$.data.currency", e.Currency)
	if e.Items < 1 || e.Items > MaxOrderLines*MaxLineQuantity {
		verr.add("$.data.items", "want 1 to %d, got %d", MaxOrderLines*MaxLineQuantity, e.Items)
	}
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e OrderCancelled) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeOrderCancelled)
	checkID(verr, "$.data.order_id", e.OrderID)
	checkID(verr, "$.data.customer_id", e.CustomerID)
	optEnum(verr, "$.data.reason", e.Reason, CancelReasons)
	checkAmount(verr, "$.data.amount_minor", e.AmountMinor)
	checkCurrency(verr, "$.data.currency", e.Currency)
	if len(e.Lines) > MaxOrderLines {
		verr.add("$.data.lines", "%d lines, more than the limit of %d", len(e.Lines), MaxOrderLines)
		return verr
	}
	sum, ok := validateLines(verr, e.Lines)
	switch {
	case !ok && len(verr.Fields) == 0:
		verr.add("$.data.lines", "the lines add up to more than %d minor units", MaxAmountMinor)
	case ok && len(e.Lines) > 0 && sum != e.AmountMinor:
		verr.add("$.data.amount_minor", "want the sum of the lines, %d, got %d", sum, e.AmountMinor)
	}
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e Payment) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypePaymentAuthorized, TypePaymentFailed)
	checkID(verr, "$.data.payment_id", e.PaymentID)
	checkID(verr, "$.data.order_id", e.OrderID)
	checkID(verr, "$.data.customer_id", e.CustomerID)
	checkAmount(verr, "$.data.amount_minor", e.AmountMinor)
	checkCurrency(verr, "$.data.currency", e.Currency)
	checkEnum(verr, "$.data.method", e.Method, PaymentMethods)
	optID(verr, "$.data.card_fingerprint", e.CardFingerprint)
	switch {
	case e.Type == TypePaymentFailed && e.FailureCode == "":
		verr.add("$.data.failure_code", "required on a payment_failed")
	case e.Type == TypePaymentAuthorized && e.FailureCode != "":
		verr.add("$.data.failure_code", "only on a payment_failed")
	default:
		optEnum(verr, "$.data.failure_code", e.FailureCode, PaymentFailureCodes)
	}
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e Refund) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeRefund)
	checkID(verr, "$.data.refund_id", e.RefundID)
	checkID(verr, "$.data.order_id", e.OrderID)
	checkID(verr, "$.data.customer_id", e.CustomerID)
	checkPositiveAmount(verr, "$.data.amount_minor", e.AmountMinor)
	checkCurrency(verr, "$.data.currency", e.Currency)
	optEnum(verr, "$.data.reason", e.Reason, RefundReasons)
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e Chargeback) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeChargeback)
	checkID(verr, "$.data.chargeback_id", e.ChargebackID)
	checkID(verr, "$.data.order_id", e.OrderID)
	optID(verr, "$.data.payment_id", e.PaymentID)
	checkID(verr, "$.data.customer_id", e.CustomerID)
	checkPositiveAmount(verr, "$.data.amount_minor", e.AmountMinor)
	checkCurrency(verr, "$.data.currency", e.Currency)
	checkEnum(verr, "$.data.reason", e.Reason, ChargebackReasons)
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e InventoryAdjusted) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeInventoryAdjusted)
	checkID(verr, "$.data.product_id", e.ProductID)
	checkID(verr, "$.data.warehouse_id", e.WarehouseID)
	if e.Delta < -MaxStockDelta || e.Delta > MaxStockDelta {
		verr.add("$.data.delta", "want %d to %d, got %d", -MaxStockDelta, MaxStockDelta, e.Delta)
	}
	checkEnum(verr, "$.data.reason", e.Reason, InventoryReasons)
	// The sign must agree with the reason; a count may go either way.
	switch {
	case typeIn(e.Reason, "receipt", "return") && e.Delta <= 0:
		verr.add("$.data.delta", "a %s adds stock: want more than 0, got %d", e.Reason, e.Delta)
	case typeIn(e.Reason, "sale", "shrinkage") && e.Delta >= 0:
		verr.add("$.data.delta", "a %s removes stock: want less than 0, got %d", e.Reason, e.Delta)
	}
	optID(verr, "$.data.supplier_id", e.SupplierID)
	if e.LeadTimeDays < 0 || e.LeadTimeDays > MaxLeadTimeDays {
		verr.add("$.data.lead_time_days", "want 0 to %d, got %d", MaxLeadTimeDays, e.LeadTimeDays)
	}
	checkAmount(verr, "$.data.unit_cost_minor", e.UnitCostMinor)
	switch {
	case e.Currency != "":
		checkCurrency(verr, "$.data.currency", e.Currency)
	case e.UnitCostMinor != 0:
		verr.add("$.data.currency", "required with unit_cost_minor")
	}
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e PriceChanged) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypePriceChanged)
	checkID(verr, "$.data.product_id", e.ProductID)
	checkAmount(verr, "$.data.old_price_minor", e.OldPriceMinor)
	checkAmount(verr, "$.data.new_price_minor", e.NewPriceMinor)
	checkCurrency(verr, "$.data.currency", e.Currency)
	optEnum(verr, "$.data.reason", e.Reason, PriceReasons)
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e CompetitorPrice) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeCompetitorPrice)
	checkID(verr, "$.data.product_id", e.ProductID)
	checkID(verr, "$.data.competitor", e.Competitor)
	checkAmount(verr, "$.data.price_minor", e.PriceMinor)
	checkCurrency(verr, "$.data.currency", e.Currency)
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e CustomerRegistered) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeCustomerRegistered)
	checkID(verr, "$.data.customer_id", e.CustomerID)
	checkEmail(verr, "$.data.email", e.Email)
	checkCountry(verr, "$.data.country", e.Country)
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e CustomerUpdated) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeCustomerUpdated)
	checkID(verr, "$.data.customer_id", e.CustomerID)
	if e.Country != "" {
		checkCountry(verr, "$.data.country", e.Country)
	}
	if e.Country == "" && e.MarketingConsent == nil {
		verr.add("$.data", "an update needs country or marketing_consent")
	}
	return verr.err()
}

// Validate checks the event's fields. It returns a *ValidationError or nil.
func (e ErasureRequested) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, e.Header, now, TypeErasureRequested)
	checkID(verr, "$.data.customer_id", e.CustomerID)
	optID(verr, "$.data.requested_by", e.RequestedBy)
	return verr.err()
}

func checkEmail(verr *ValidationError, path, s string) {
	if s == "" {
		return
	}
	at := strings.IndexByte(s, '@')
	if at < 1 || at == len(s)-1 || len(s) > 254 || hasControl(s) || strings.ContainsAny(s, " \t") {
		verr.add(path, "want an email address, got %q", s)
	}
}

// validateLines checks order lines and returns their sum; ok is false when a
// line is invalid or the sum passes MaxAmountMinor (then sum is meaningless).
func validateLines(verr *ValidationError, lines []OrderLine) (sum int64, ok bool) {
	ok = true
	for i, l := range lines {
		p := "$.data.lines[" + strconv.Itoa(i) + "]"
		checkID(verr, p+".product_id", l.ProductID)
		if len(l.Category) > MaxIDLength || hasControl(l.Category) {
			verr.add(p+".category", "want at most %d bytes without control characters", MaxIDLength)
		}
		if l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			verr.add(p+".quantity", "want 1 to %d, got %d", MaxLineQuantity, l.Quantity)
			ok = false
		}
		if l.UnitPriceMinor < 0 || l.UnitPriceMinor > MaxAmountMinor {
			verr.add(p+".unit_price_minor", "want 0 to %d minor units, got %d", MaxAmountMinor, l.UnitPriceMinor)
			ok = false
		}
		if ok {
			sum += l.Quantity * l.UnitPriceMinor // both bounded: cannot overflow
			if sum > MaxAmountMinor {
				ok = false
			}
		}
	}
	return sum, ok
}
