package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// envelope is the wire form of every event: the header's fields and the
// type's own fields under data.
type envelope struct {
	Header
	Data json.RawMessage `json:"data"`
}

// Encode returns the wire form of an event.
func Encode(ev Event) ([]byte, error) {
	data, err := json.Marshal(ev) // Header is tagged "-": only the type's fields
	if err != nil {
		return nil, fmt.Errorf("encode %s data: %w", ev.Head().Type, err)
	}
	b, err := json.Marshal(envelope{Header: ev.Head(), Data: data})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ev.Head().Type, err)
	}
	return b, nil
}

// validator is an event that can check its own fields.
type validator interface {
	Event
	Validate(now time.Time) error
}

// newEvent returns an empty event of the type, or nil for an unknown type.
func newEvent(typ string) validator {
	switch typ {
	case TypeOrderPlaced:
		return &OrderPlaced{}
	}
	return nil
}

// Decode parses and validates one event of any type of the catalogue. now is
// the receiver's clock, used to reject event times too far in the future. It
// returns a *ValidationError naming each bad field by its JSON path, and never
// panics, whatever the input.
func Decode(b []byte, now time.Time) (Event, error) {
	verr := &ValidationError{}
	switch {
	case len(b) > MaxEventBytes:
		verr.add("$", "event is %d bytes, more than the limit of %d", len(b), MaxEventBytes)
		return nil, verr
	case !utf8.Valid(b):
		verr.add("$", "event is not valid UTF-8")
		return nil, verr
	}
	var env envelope
	if err := strictUnmarshal(b, &env); err != nil {
		verr.add(jsonErrorPath("$", err), "%s", jsonErrorReason(err))
		return nil, verr
	}
	ev := newEvent(env.Type)
	if ev == nil {
		verr.add("$.type", "unknown event type %q", env.Type)
		return nil, verr
	}
	if len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")) {
		verr.add("$.data", "required, an object")
		return nil, verr
	}
	if err := strictUnmarshal(env.Data, ev); err != nil {
		verr.add(jsonErrorPath("$.data", err), "%s", jsonErrorReason(err))
		return nil, verr
	}
	setHeader(ev, env.Header)
	if err := ev.Validate(now); err != nil {
		return nil, err
	}
	return ev, nil
}

// setHeader stores the envelope's header in the decoded event.
func setHeader(ev validator, h Header) {
	switch e := ev.(type) {
	case *OrderPlaced:
		e.Header = h
	}
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

// validateHeader checks the envelope fields every event has.
func validateHeader(verr *ValidationError, h Header, wantType string, now time.Time) {
	if h.Type != wantType {
		verr.add("$.type", "want %q, got %q", wantType, h.Type)
	}
	if h.SchemaVersion != 1 {
		verr.add("$.schema_version", "want 1, got %d", h.SchemaVersion)
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
	case h.EventTime.Year() < 2000:
		verr.add("$.time", "%s is before the year 2000", h.EventTime.Format(time.RFC3339))
	}
	if h.Seq < 0 {
		verr.add("$.seq", "want 0 or more, got %d", h.Seq)
	}
}
