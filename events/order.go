// Package events owns the event types ShopPulse accepts, their JSON encoding and
// their validation. It is pure: no I/O, no Kafka, no database. Every decoder
// returns either a valid event or a *ValidationError that names each bad field
// by its JSON path, so the stream can dead-letter it with a reason and the API
// can answer with a per-field 4xx.
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
	TotalMinor int64       `json:"total_minor"`
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
	// Path is a JSON path into the event, such as $.lines[2].quantity.
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
	validateHeader(verr, o.Header, TypeOrderPlaced, now)
	checkID(verr, "$.data.order_id", o.OrderID)
	checkID(verr, "$.data.customer_id", o.CustomerID)
	if !isUpperAlpha(o.Country, 2) {
		verr.add("$.data.country", "want an ISO 3166-1 alpha-2 code such as GB, got %q", o.Country)
	}
	if !isUpperAlpha(o.Currency, 3) {
		verr.add("$.data.currency", "want an ISO 4217 code such as GBP, got %q", o.Currency)
	}
	if !contains(Channels, o.Channel) {
		verr.add("$.data.channel", "want one of %s, got %q", strings.Join(Channels, ", "), o.Channel)
	}
	switch {
	case len(o.Lines) == 0:
		verr.add("$.data.lines", "an order needs at least one line")
	case len(o.Lines) > MaxOrderLines:
		verr.add("$.data.lines", "%d lines, more than the limit of %d", len(o.Lines), MaxOrderLines)
	}
	var sum int64
	overflow := false
	for i, l := range o.Lines {
		p := fmt.Sprintf("$.data.lines[%d]", i)
		checkID(verr, p+".product_id", l.ProductID)
		if len(l.Category) > MaxIDLength || hasControl(l.Category) {
			verr.add(p+".category", "want at most %d bytes without control characters", MaxIDLength)
		}
		if l.Quantity < 1 || l.Quantity > MaxLineQuantity {
			verr.add(p+".quantity", "want 1 to %d, got %d", MaxLineQuantity, l.Quantity)
			overflow = true
		}
		if l.UnitPriceMinor < 0 || l.UnitPriceMinor > MaxAmountMinor {
			verr.add(p+".unit_price_minor", "want 0 to %d minor units, got %d", MaxAmountMinor, l.UnitPriceMinor)
			overflow = true
		}
		if !overflow {
			sum += l.Quantity * l.UnitPriceMinor
			if sum > MaxAmountMinor {
				overflow = true
			}
		}
	}
	switch {
	case overflow && len(verr.Fields) == 0:
		verr.add("$.data.lines", "the lines add up to more than %d minor units", MaxAmountMinor)
	case !overflow && len(o.Lines) > 0 && o.TotalMinor != sum:
		verr.add("$.data.total_minor", "want the sum of the lines, %d, got %d", sum, o.TotalMinor)
	}
	if len(verr.Fields) > 0 {
		return verr
	}
	return nil
}

// Encode returns the wire form of the order.
func (o OrderPlaced) Encode() ([]byte, error) { return Encode(o) }

// Head returns the envelope fields.
func (o OrderPlaced) Head() Header { return o.Header }

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
