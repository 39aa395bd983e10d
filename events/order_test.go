package events

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)

func validOrder() OrderPlaced {
	return OrderPlaced{
		Header:     Header{EventID: "e-1", Type: TypeOrderPlaced, SchemaVersion: 1, EventTime: testNow.Add(-time.Minute), Seq: 3},
		OrderID:    "o-1",
		CustomerID: "c-1",
		Country:    "GB",
		Currency:   "GBP",
		Channel:    "web",
		Lines: []OrderLine{
			{ProductID: "p-1", Category: "kitchen", Quantity: 2, UnitPriceMinor: 250},
			{ProductID: "p-2", Quantity: 1, UnitPriceMinor: 0},
		},
		TotalMinor: 500,
	}
}

func encode(t testing.TB, o OrderPlaced) []byte {
	t.Helper()
	b, err := o.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// paths returns the JSON paths a *ValidationError names, or fails.
func paths(t *testing.T, err error) []string {
	t.Helper()
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	var out []string
	for _, f := range verr.Fields {
		out = append(out, f.Path)
	}
	return out
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(o *OrderPlaced)
		paths  []string // nil means valid
	}{
		{"valid", func(o *OrderPlaced) {}, nil},
		{"free line", func(o *OrderPlaced) { o.Lines[0].UnitPriceMinor = 0; o.TotalMinor = 0 }, nil},
		{"just inside the future skew", func(o *OrderPlaced) { o.EventTime = testNow.Add(MaxFutureSkew) }, nil},
		{"wrong type", func(o *OrderPlaced) { o.Type = "order_paid" }, []string{"$.type"}},
		{"schema version 3", func(o *OrderPlaced) { o.SchemaVersion = 3 }, []string{"$.schema_version"}},
		{"missing ids", func(o *OrderPlaced) { o.EventID, o.OrderID, o.CustomerID = "", "", "" },
			[]string{"$.id", "$.data.order_id", "$.data.customer_id"}},
		{"long id", func(o *OrderPlaced) { o.CustomerID = strings.Repeat("x", MaxIDLength+1) }, []string{"$.data.customer_id"}},
		{"no event time", func(o *OrderPlaced) { o.EventTime = time.Time{} }, []string{"$.time"}},
		{"too far in the future", func(o *OrderPlaced) { o.EventTime = testNow.Add(MaxFutureSkew + time.Second) }, []string{"$.time"}},
		{"before 2000", func(o *OrderPlaced) { o.EventTime = time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC) }, []string{"$.time"}},
		{"lowercase country", func(o *OrderPlaced) { o.Country = "gb" }, []string{"$.data.country"}},
		{"country name", func(o *OrderPlaced) { o.Country = "United Kingdom" }, []string{"$.data.country"}},
		{"bad currency", func(o *OrderPlaced) { o.Currency = "£" }, []string{"$.data.currency"}},
		{"unknown channel", func(o *OrderPlaced) { o.Channel = "fax" }, []string{"$.data.channel"}},
		{"no lines", func(o *OrderPlaced) { o.Lines, o.TotalMinor = nil, 0 }, []string{"$.data.lines"}},
		{"too many lines", func(o *OrderPlaced) {
			o.Lines = make([]OrderLine, MaxOrderLines+1)
			for i := range o.Lines {
				o.Lines[i] = OrderLine{ProductID: "p", Quantity: 1, UnitPriceMinor: 1}
			}
			o.TotalMinor = MaxOrderLines + 1
		}, []string{"$.data.lines"}},
		{"zero quantity", func(o *OrderPlaced) { o.Lines[1].Quantity = 0 }, []string{"$.data.lines[1].quantity"}},
		{"quantity over the limit", func(o *OrderPlaced) { o.Lines[0].Quantity = MaxLineQuantity + 1 }, []string{"$.data.lines[0].quantity"}},
		{"negative price", func(o *OrderPlaced) { o.Lines[0].UnitPriceMinor = -1 }, []string{"$.data.lines[0].unit_price_minor"}},
		{"missing product", func(o *OrderPlaced) { o.Lines[1].ProductID = "" }, []string{"$.data.lines[1].product_id"}},
		{"long category", func(o *OrderPlaced) { o.Lines[0].Category = strings.Repeat("c", MaxIDLength+1) }, []string{"$.data.lines[0].category"}},
		{"total is not the line sum", func(o *OrderPlaced) { o.TotalMinor = 499 }, []string{"$.data.total_minor"}},
		{"lines overflow the amount limit", func(o *OrderPlaced) {
			o.Lines = []OrderLine{
				{ProductID: "a", Quantity: MaxLineQuantity, UnitPriceMinor: MaxAmountMinor},
				{ProductID: "b", Quantity: MaxLineQuantity, UnitPriceMinor: MaxAmountMinor},
			}
			o.TotalMinor = 0
		}, []string{"$.data.lines"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := validOrder()
			tt.change(&o)
			err := o.Validate(testNow)
			if tt.paths == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want errors at %v, got none", tt.paths)
			}
			if got := paths(t, err); !reflect.DeepEqual(got, tt.paths) {
				t.Fatalf("paths %v, want %v (%v)", got, tt.paths, err)
			}
		})
	}
}

func TestDecodeOrder(t *testing.T) {
	good := encode(t, validOrder())
	tests := []struct {
		name  string
		in    []byte
		paths []string // nil means valid
	}{
		{"valid", good, nil},
		{"valid with surrounding whitespace", append(append([]byte("\n "), good...), '\n'), nil},
		{"not JSON", []byte("hello"), []string{"$"}},
		{"empty", nil, []string{"$"}},
		{"truncated", good[:len(good)/2], []string{"$"}},
		{"array", []byte("[]"), []string{"$"}},
		{"trailing data", append(append([]byte{}, good...), []byte(`{"x":1}`)...), []string{"$"}},
		{"unknown field", []byte(strings.Replace(string(good), `"seq":3`, `"seq":3,"coupon":"X"`, 1)), []string{"$.coupon"}},
		{"string quantity", []byte(strings.Replace(string(good), `"quantity":2`, `"quantity":"2"`, 1)), []string{"$.data.lines[0].quantity"}},
		{"float total", []byte(strings.Replace(string(good), `"total_minor":500`, `"total_minor":5.0`, 1)), []string{"$.data.total_minor"}},
		{"time without zone", []byte(strings.Replace(string(good), `"2026-03-02T11:59:00Z"`, `"2026-03-02 11:59:00"`, 1)), []string{"$.time"}},
		{"invalid UTF-8", []byte("{\"event_id\":\"\xff\"}"), []string{"$"}},
		{"too big", []byte(`{"event_id":"` + strings.Repeat("x", MaxEventBytes) + `"}`), []string{"$"}},
		{"null", []byte("null"), nil}, // decodes to a zero order: checked below
		{"decodes but invalid", []byte(strings.Replace(string(good), `"country":"GB"`, `"country":"UK1"`, 1)), []string{"$.data.country"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := DecodeOrder(tt.in, testNow)
			if tt.name == "null" {
				if err == nil {
					t.Fatal("null decoded to a valid order")
				}
				return
			}
			if tt.paths == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				if !ordersEqual(o, validOrder()) {
					t.Fatalf("decoded %+v, want %+v", o, validOrder())
				}
				return
			}
			if err == nil {
				t.Fatalf("want errors at %v, got none", tt.paths)
			}
			if !reflect.DeepEqual(o, OrderPlaced{}) {
				t.Errorf("a failed decode returned a non-zero order %+v", o)
			}
			if got := paths(t, err); !reflect.DeepEqual(got, tt.paths) {
				t.Fatalf("paths %v, want %v (%v)", got, tt.paths, err)
			}
		})
	}
}

func TestOrderHelpers(t *testing.T) {
	o := validOrder()
	if got := o.Units(); got != 3 {
		t.Errorf("Units() = %d, want 3", got)
	}
	if got := string(o.Key()); got != "c-1" {
		t.Errorf("Key() = %q, want the customer id", got)
	}
	var m map[string]any
	if err := json.Unmarshal(encode(t, o), &m); err != nil {
		t.Fatal(err)
	}
	data, _ := m["data"].(map[string]any)
	for _, k := range []string{"id", "type", "schema_version", "time", "seq", "data.order_id", "data.customer_id",
		"data.country", "data.currency", "data.channel", "data.lines", "data.total_minor"} {
		in, key := m, k
		if rest, ok := strings.CutPrefix(k, "data."); ok {
			in, key = data, rest
		}
		if _, ok := in[key]; !ok {
			t.Errorf("encoding lacks %q", k)
		}
	}
	o.Seq = 0
	o.Lines[0].Category = ""
	if b := string(encode(t, o)); strings.Contains(b, `"seq"`) || strings.Contains(b, `"category"`) {
		t.Errorf("optional fields encoded when empty: %s", b)
	}
}

// ordersEqual compares orders with time.Time.Equal, since a decoded time's
// Location differs from the original's even when the instant is the same.
func ordersEqual(a, b OrderPlaced) bool {
	if !a.EventTime.Equal(b.EventTime) {
		return false
	}
	a.EventTime, b.EventTime = time.Time{}, time.Time{}
	return reflect.DeepEqual(a, b)
}

func FuzzOrderDecoder(f *testing.F) {
	good := encode(f, validOrder())
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"lines":[{"quantity":100000,"unit_price_minor":10000000000000}]}`))
	f.Add([]byte(`{"event_time":"2026-03-02T11:59:00+23:59"}`))
	f.Add([]byte(strings.Replace(string(good), `"total_minor":500`, `"total_minor":-1`, 1)))
	f.Add([]byte("{\"event_id\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeOrder(b, testNow)
		if err != nil {
			var verr *ValidationError
			if !errors.As(err, &verr) || len(verr.Fields) == 0 {
				t.Fatalf("error %v (%T) is not a non-empty *ValidationError", err, err)
			}
			for _, fe := range verr.Fields {
				if !strings.HasPrefix(fe.Path, "$") || fe.Reason == "" {
					t.Fatalf("field error %+v lacks a path or a reason", fe)
				}
			}
			if !reflect.DeepEqual(o, OrderPlaced{}) {
				t.Fatalf("failed decode returned %+v", o)
			}
			return
		}
		// A decoded order is valid, and encoding it again round-trips.
		if err := o.Validate(testNow); err != nil {
			t.Fatalf("DecodeOrder returned an order that fails Validate: %v", err)
		}
		again, err := DecodeOrder(encode(t, o), testNow)
		if err != nil {
			t.Fatalf("re-encoded order does not decode: %v", err)
		}
		if !ordersEqual(o, again) {
			t.Fatalf("round trip changed the order:\n%+v\n%+v", o, again)
		}
	})
}

func BenchmarkDecodeOrder(b *testing.B) {
	o := validOrder()
	o.Lines = nil
	for i := range 8 {
		o.Lines = append(o.Lines, OrderLine{ProductID: "sku-" + string(rune('a'+i)), Category: "kitchen", Quantity: 2, UnitPriceMinor: 295})
	}
	o.TotalMinor = 8 * 2 * 295
	in := encode(b, o)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeOrder(in, testNow); err != nil {
			b.Fatal(err)
		}
	}
}
