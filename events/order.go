package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TypeOrderPlaced is the type tag of an OrderPlaced event.
const TypeOrderPlaced = "order_placed"

// Limits of an order that the validator enforces.
const (
	MaxOrderLines   = 500
	MaxLineQuantity = 100000
	// MaxAmountMinor bounds any amount (10^13 minor units: 100 billion in a
	// two-decimal currency) so sums over a minute cannot overflow int64.
	MaxAmountMinor = int64(1e13)
	MaxIDLength    = 128
	// MaxEventBytes is the largest encoded event accepted.
	MaxEventBytes = 256 << 10
	// MaxFutureSkew is how far in the future an event time may be.
	MaxFutureSkew = 5 * time.Minute
)

// OrderPlaced is a customer's order. Money is in integer minor units of Currency
// (pence for GBP, cents for EUR), never a float.
type OrderPlaced struct {
	Header     `json:"-"`
	OrderID    string      `json:"order_id"`
	CustomerID string      `json:"customer_id"`
	Country    string      `json:"country"`
	Currency   string      `json:"currency"`
	Channel    string      `json:"channel"`
	Lines      []OrderLine `json:"lines"`
	// TotalMinor is what the customer pays:
	// the sum of the lines - DiscountMinor + TaxMinor + ShippingMinor.
	TotalMinor int64 `json:"total_minor"`

	// Since schema version 2, all optional: absent amounts are 0, absent
	// strings unknown. A version 1 event must leave them empty.
	DiscountMinor   int64  `json:"discount_minor,omitempty"`
	TaxMinor        int64  `json:"tax_minor,omitempty"`
	ShippingMinor   int64  `json:"shipping_minor,omitempty"`
	PaymentMethod   string `json:"payment_method,omitempty"` // one of PaymentMethods
	CardFingerprint string `json:"card_fingerprint,omitempty"`
	BillingCountry  string `json:"billing_country,omitempty"`
	ShippingCountry string `json:"shipping_country,omitempty"`
	IP              string `json:"ip,omitempty"`
	Device          string `json:"device,omitempty"` // one of Devices
	DeviceID        string `json:"device_id,omitempty"`
	// SessionID is the clickstream session the order was placed in, which
	// links the purchase to the session's funnel. Optional.
	SessionID string `json:"session_id,omitempty"`
}

// OrderLine is one product on an order.
type OrderLine struct {
	ProductID      string `json:"product_id"`
	Category       string `json:"category,omitempty"`
	Quantity       int64  `json:"quantity"`
	UnitPriceMinor int64  `json:"unit_price_minor"`
}

// Units is the number of items on the order.
func (o OrderPlaced) Units() int64 {
	var n int64
	for _, l := range o.Lines {
		n += l.Quantity
	}
	return n
}

// Key is the Kafka message key of the order: its customer, so one customer's
// orders stay in order on one partition.
func (o OrderPlaced) Key() []byte { return []byte(o.CustomerID) }

// Channels an order may come from.
var Channels = []string{"web", "app", "marketplace", "store"}

// FieldError is one problem with one field.
type FieldError struct {
	// Path is a JSON path into the event, such as $.data.lines[2].quantity.
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// ValidationError lists every problem found in one event.
type ValidationError struct {
	Fields []FieldError
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Path + ": " + f.Reason
	}
	return "invalid event: " + strings.Join(parts, "; ")
}

func (e *ValidationError) add(path, format string, args ...any) {
	e.Fields = append(e.Fields, FieldError{Path: path, Reason: fmt.Sprintf(format, args...)})
}

// DecodeOrder parses and validates one encoded OrderPlaced. now is the
// receiver's clock, used to reject event times too far in the future. It
// never panics, whatever the input.
func DecodeOrder(b []byte, now time.Time) (OrderPlaced, error) {
	ev, err := Decode(b, now)
	if err != nil {
		return OrderPlaced{}, err
	}
	o, ok := ev.(*OrderPlaced)
	if !ok {
		verr := &ValidationError{}
		verr.add("$.type", "want %q, got %q", TypeOrderPlaced, ev.Head().Type)
		return OrderPlaced{}, verr
	}
	return *o, nil
}

// Validate checks the order's fields. It returns a *ValidationError or nil.
func (o OrderPlaced) Validate(now time.Time) error {
	verr := &ValidationError{}
	validateHeader(verr, o.Header, now, TypeOrderPlaced)
	checkID(verr, "$.data.order_id", o.OrderID)
	checkID(verr, "$.data.customer_id", o.CustomerID)
	checkCountry(verr, "$.data.country", o.Country)
	checkCurrency(verr, "$.data.currency", o.Currency)
	checkEnum(verr, "$.data.channel", o.Channel, Channels)
	if o.SchemaVersion == 1 {
		o.rejectV2Fields(verr)
	} else {
		checkAmount(verr, "$.data.discount_minor", o.DiscountMinor)
		checkAmount(verr, "$.data.tax_minor", o.TaxMinor)
		checkAmount(verr, "$.data.shipping_minor", o.ShippingMinor)
		optEnum(verr, "$.data.payment_method", o.PaymentMethod, PaymentMethods)
		optID(verr, "$.data.card_fingerprint", o.CardFingerprint)
		if o.BillingCountry != "" {
			checkCountry(verr, "$.data.billing_country", o.BillingCountry)
		}
		if o.ShippingCountry != "" {
			checkCountry(verr, "$.data.shipping_country", o.ShippingCountry)
		}
		checkIP(verr, "$.data.ip", o.IP)
		optEnum(verr, "$.data.device", o.Device, Devices)
		optID(verr, "$.data.device_id", o.DeviceID)
		optID(verr, "$.data.session_id", o.SessionID)
	}
	switch {
	case len(o.Lines) == 0:
		verr.add("$.data.lines", "an order needs at least one line")
	case len(o.Lines) > MaxOrderLines:
		verr.add("$.data.lines", "%d lines, more than the limit of %d", len(o.Lines), MaxOrderLines)
		return verr
	}
	sum, ok := validateLines(verr, o.Lines)
	switch {
	case !ok && len(verr.Fields) == 0:
		verr.add("$.data.lines", "the lines add up to more than %d minor units", MaxAmountMinor)
	case ok && len(o.Lines) > 0 && len(verr.Fields) == 0:
		// All terms are within 0..MaxAmountMinor: no overflow.
		want := sum - o.DiscountMinor + o.TaxMinor + o.ShippingMinor
		switch {
		case o.DiscountMinor > sum:
			verr.add("$.data.discount_minor", "a discount of %d is more than the lines' sum, %d", o.DiscountMinor, sum)
		case o.TotalMinor != want && o.SchemaVersion == 1:
			verr.add("$.data.total_minor", "want the sum of the lines, %d, got %d", sum, o.TotalMinor)
		case o.TotalMinor != want:
			verr.add("$.data.total_minor", "want lines %d - discount %d + tax %d + shipping %d = %d, got %d",
				sum, o.DiscountMinor, o.TaxMinor, o.ShippingMinor, want, o.TotalMinor)
		}
	}
	return verr.err()
}

// rejectV2Fields names each field set on a version 1 order that version 1
// does not have: such an event would not survive its own schema.
func (o OrderPlaced) rejectV2Fields(verr *ValidationError) {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"discount_minor", o.DiscountMinor != 0}, {"tax_minor", o.TaxMinor != 0}, {"shipping_minor", o.ShippingMinor != 0},
		{"payment_method", o.PaymentMethod != ""}, {"card_fingerprint", o.CardFingerprint != ""},
		{"billing_country", o.BillingCountry != ""}, {"shipping_country", o.ShippingCountry != ""},
		{"ip", o.IP != ""}, {"device", o.Device != ""}, {"device_id", o.DeviceID != ""},
		{"session_id", o.SessionID != ""},
	} {
		if f.set {
			verr.add("$.data."+f.name, "not in schema version 1: use version 2")
		}
	}
}

// Encode returns the wire form of the order.
func (o OrderPlaced) Encode() ([]byte, error) { return Encode(o) }

// Topic is the orders topic.
func (o OrderPlaced) Topic() string { return TopicOrders }

func checkID(verr *ValidationError, path, id string) {
	switch {
	case id == "":
		verr.add(path, "required")
	case len(id) > MaxIDLength:
		verr.add(path, "longer than %d bytes", MaxIDLength)
	case hasControl(id):
		verr.add(path, "contains a control character")
	}
}

// hasControl reports a byte below 0x20 or DEL: such ids are never real and
// NUL cannot be stored in a Postgres text column.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func isUpperAlpha(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func jsonErrorPath(root string, err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return root + "." + te.Field
	}
	return root
}

func jsonErrorReason(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error())
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	default:
		return "malformed JSON: " + err.Error()
	}
}

// LinesMinor is the sum of quantity * unit price over the lines, before
// discount, tax and shipping.
func (o OrderPlaced) LinesMinor() int64 {
	var sum int64
	for _, l := range o.Lines {
		sum += l.Quantity * l.UnitPriceMinor
	}
	return sum
}
