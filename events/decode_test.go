package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// mutate encodes the example event name, applies change to its JSON object and
// returns the bytes.
func mutate(t testing.TB, name string, change func(m map[string]any)) []byte {
	t.Helper()
	ev, ok := validEvents()[name]
	if !ok {
		t.Fatalf("no example %s", name)
	}
	b, err := Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	change(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// set stores v at a dotted path such as data.lines.1.quantity; del removes it.
func set(path string, v any) func(map[string]any) {
	return func(m map[string]any) { walkSet(m, strings.Split(path, "."), v, false) }
}

func del(path string) func(map[string]any) {
	return func(m map[string]any) { walkSet(m, strings.Split(path, "."), nil, true) }
}

func walkSet(cur any, keys []string, v any, remove bool) {
	for i, k := range keys {
		last := i == len(keys)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				if remove {
					delete(c, k)
				} else {
					c[k] = v
				}
				return
			}
			cur = c[k]
		case []any:
			n, _ := strconv.Atoi(k)
			if last {
				c[n] = v
				return
			}
			cur = c[n]
		}
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestDecodeEveryType(t *testing.T) {
	tests := []struct {
		name    string
		example string // key of validEvents
		change  func(map[string]any)
		paths   []string // nil means valid
	}{
		// Valid variations.
		{"page view without optional fields", "page_view/v1", func(m map[string]any) {
			m["data"] = map[string]any{"session_id": "s-9"}
			delete(m, "seq")
		}, nil},
		{"anonymous cart change", "remove_from_cart/v1", nil, nil},
		{"a count may lower stock", "inventory_adjusted/v1", func(m map[string]any) {
			set("data.reason", "count")(m)
			set("data.delta", -3)(m)
		}, nil},
		{"time with an offset", "search/v1", set("time", "2026-03-02T12:59:00+01:00"), nil},
		{"order v2 without the new fields", "order_placed/v2", func(m map[string]any) {
			for _, f := range []string{"discount_minor", "tax_minor", "shipping_minor", "payment_method", "card_fingerprint",
				"billing_country", "shipping_country", "ip", "device", "device_id", "session_id"} {
				del("data." + f)(m)
			}
			set("data.total_minor", 500)(m)
		}, nil},

		// The envelope.
		{"unknown type", "page_view/v1", set("type", "page_viewed"), []string{"$.type"}},
		{"type not a string", "page_view/v1", set("type", 7), []string{"$.type"}},
		{"missing type", "page_view/v1", del("type"), []string{"$.type"}},
		{"version the type lacks", "page_view/v1", set("schema_version", 2), []string{"$.schema_version"}},
		{"version as a string", "order_placed/v1", set("schema_version", "1"), []string{"$.schema_version"}},
		{"missing version", "order_placed/v1", del("schema_version"), []string{"$.schema_version"}},
		{"missing id", "refund/v1", del("id"), []string{"$.id"}},
		{"empty id", "refund/v1", set("id", ""), []string{"$.id"}},
		{"id with a control character", "refund/v1", set("id", "a\x00b"), []string{"$.id"}},
		{"missing time", "refund/v1", del("time"), []string{"$.time"}},
		{"time without a zone", "refund/v1", set("time", "2026-03-02T11:00:00"), []string{"$.time"}},
		{"far-future time", "refund/v1", set("time", "2026-03-02T12:06:00Z"), []string{"$.time"}},
		{"ancient time", "refund/v1", set("time", "1999-12-31T23:59:59Z"), []string{"$.time"}},
		{"negative seq", "refund/v1", set("seq", -1), []string{"$.seq"}},
		{"unknown envelope field", "refund/v1", set("tenant", "x"), []string{"$.tenant"}},
		{"missing data", "refund/v1", del("data"), []string{"$.data"}},
		{"null data", "refund/v1", set("data", nil), []string{"$.data"}},
		{"data an array", "refund/v1", set("data", []any{}), []string{"$.data"}},
		{"several problems, sorted by path", "refund/v1", func(m map[string]any) {
			set("data.currency", "eur")(m)
			set("data.amount_minor", -5)(m)
			del("id")(m)
		}, []string{"$.data.amount_minor", "$.data.currency", "$.id"}},

		// Clickstream.
		{"page view without session", "page_view/v1", del("data.session_id"), []string{"$.data.session_id"}},
		{"unknown device", "page_view/v1", set("data.device", "fridge"), []string{"$.data.device"}},
		{"not an IP", "page_view/v1", set("data.ip", "999.1.1.1"), []string{"$.data.ip"}},
		{"unknown data field", "page_view/v1", set("data.utm", "x"), []string{"$.data.utm"}},
		{"long referrer", "page_view/v1", set("data.referrer", strings.Repeat("r", MaxURLLength+1)), []string{"$.data.referrer"}},
		{"negative price shown", "product_view/v1", set("data.price_minor", -1), []string{"$.data.price_minor"}},
		{"price as a decimal", "product_view/v1", set("data.price_minor", raw("12.99")), []string{"$.data.price_minor"}},
		{"price 5.0", "product_view/v1", set("data.price_minor", raw("5.0")), []string{"$.data.price_minor"}},
		{"price 1e3", "product_view/v1", set("data.price_minor", raw("1e3")), []string{"$.data.price_minor"}},
		{"lowercase currency", "product_view/v1", set("data.currency", "gbp"), []string{"$.data.currency"}},
		{"empty query", "search/v1", set("data.query", ""), []string{"$.data.query"}},
		{"results as a string", "search/v1", set("data.results", "12"), []string{"$.data.results"}},
		{"zero quantity added", "add_to_cart/v1", set("data.quantity", 0), []string{"$.data.quantity"}},
		{"removed without product", "remove_from_cart/v1", del("data.product_id"), []string{"$.data.product_id"}},
		{"checkout of no items", "checkout_started/v1", set("data.items", 0), []string{"$.data.items"}},

		// Orders.
		{"string quantity on line 1", "order_placed/v1", set("data.lines.1.quantity", "1"), []string{"$.data.lines[1].quantity"}},
		{"v2 field on a v1 order", "order_placed/v1", set("data.discount_minor", 10), []string{"$.data.discount_minor"}},
		{"session id on a v1 order", "order_placed/v1", set("data.session_id", "s-1"), []string{"$.data.session_id"}},
		{"empty session id on a v2 order", "order_placed/v2", set("data.session_id", ""), []string{"$.data.session_id"}},
		{"v1 total not the line sum", "order_placed/v1", set("data.total_minor", 501), []string{"$.data.total_minor"}},
		{"v2 total ignores tax", "order_placed/v2", set("data.total_minor", 800), []string{"$.data.total_minor"}},
		{"v2 discount above the lines", "order_placed/v2", func(m map[string]any) {
			set("data.discount_minor", 600)(m)
			set("data.total_minor", 500-600+80+399)(m)
		}, []string{"$.data.discount_minor"}},
		{"v2 unknown payment method", "order_placed/v2", set("data.payment_method", "cash"), []string{"$.data.payment_method"}},
		{"v2 three-letter country", "order_placed/v2", set("data.billing_country", "GBR"), []string{"$.data.billing_country"}},
		{"v2 negative tax", "order_placed/v2", set("data.tax_minor", -80), []string{"$.data.tax_minor"}},
		{"cancelled amount not the lines", "order_cancelled/v1", set("data.amount_minor", 400), []string{"$.data.amount_minor"}},
		{"unknown cancel reason", "order_cancelled/v1", set("data.reason", "changed_mind"), []string{"$.data.reason"}},
		{"cancelled line without quantity", "order_cancelled/v1", del("data.lines.0.quantity"), []string{"$.data.lines[0].quantity"}},

		// Payments.
		{"authorised with a failure code", "payment_authorized/v1", set("data.failure_code", "card_declined"), []string{"$.data.failure_code"}},
		{"unknown method", "payment_authorized/v1", set("data.method", "cash"), []string{"$.data.method"}},
		{"failed without a code", "payment_failed/v1", del("data.failure_code"), []string{"$.data.failure_code"}},
		{"zero refund", "refund/v1", set("data.amount_minor", 0), []string{"$.data.amount_minor"}},
		{"refund over the limit", "refund/v1", set("data.amount_minor", MaxAmountMinor+1), []string{"$.data.amount_minor"}},
		{"chargeback without reason", "chargeback/v1", del("data.reason"), []string{"$.data.reason"}},
		{"unknown chargeback reason", "chargeback/v1", set("data.reason", "angry"), []string{"$.data.reason"}},

		// Inventory, prices, customers.
		{"receipt that lowers stock", "inventory_adjusted/v1", set("data.delta", -5), []string{"$.data.delta"}},
		{"sale that adds stock", "inventory_adjusted/v1", set("data.reason", "sale"), []string{"$.data.delta"}},
		{"unknown stock reason", "inventory_adjusted/v1", set("data.reason", "theft"), []string{"$.data.reason"}},
		{"unit cost without currency", "inventory_adjusted/v1", del("data.currency"), []string{"$.data.currency"}},
		{"lead time over a year", "inventory_adjusted/v1", set("data.lead_time_days", 400), []string{"$.data.lead_time_days"}},
		{"unknown price reason", "price_changed/v1", set("data.reason", "whim"), []string{"$.data.reason"}},
		{"in_stock as a string", "competitor_price/v1", set("data.in_stock", "yes"), []string{"$.data.in_stock"}},
		{"competitor missing", "competitor_price/v1", del("data.competitor"), []string{"$.data.competitor"}},
		{"country not ISO", "customer_registered/v1", set("data.country", "UK1"), []string{"$.data.country"}},
		{"not an email", "customer_registered/v1", set("data.email", "nope"), []string{"$.data.email"}},
		{"update of nothing", "customer_updated/v1", del("data.marketing_consent"), []string{"$.data"}},
		{"erasure without customer", "erasure_requested/v1", set("data.customer_id", ""), []string{"$.data.customer_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			change := tt.change
			if change == nil {
				change = func(map[string]any) {}
			}
			in := mutate(t, tt.example, change)
			ev, err := Decode(in, testNow)
			if tt.paths == nil {
				if err != nil {
					t.Fatalf("want valid, got %v\n%s", err, in)
				}
				return
			}
			if err == nil {
				t.Fatalf("want errors at %v, got %+v\n%s", tt.paths, ev, in)
			}
			if ev != nil {
				t.Errorf("a failed decode returned an event %+v", ev)
			}
			if got := paths(t, err); !reflect.DeepEqual(got, tt.paths) {
				t.Fatalf("paths %v, want %v (%v)", got, tt.paths, err)
			}
		})
	}
}

// Reasons must say what was wanted and what came.
func TestDecodeReasons(t *testing.T) {
	tests := []struct {
		example string
		change  func(map[string]any)
		want    string
	}{
		{"order_placed/v1", set("data.lines.1.quantity", "2"), `$.data.lines[1].quantity: want integer 1 to 100000, got "2"`},
		{"order_placed/v1", set("data.total_minor", raw("5.0")), `$.data.total_minor: want an integer without a fraction or exponent, got 5.0`},
		{"order_placed/v1", set("data.channel", "fax"), `$.data.channel: want one of web, app, marketplace, store, got "fax"`},
		{"order_placed/v1", del("data.order_id"), `$.data.order_id: required`},
		{"order_placed/v1", set("data.coupon", "X"), `$.data.coupon: unknown field`},
		{"order_placed/v1", set("schema_version", 3), `$.schema_version: want an integer 1 to 2 for order_placed, got 3`},
		{"refund/v1", set("data.currency", "£"), `$.data.currency: want an ISO 4217 currency code such as GBP, got "£"`},
		{"refund/v1", set("type", "refunded"), `$.type: unknown event type "refunded"`},
	}
	for _, tt := range tests {
		_, err := Decode(mutate(t, tt.example, tt.change), testNow)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want it to contain %q", err, tt.want)
		}
	}
}

// Consumers read order_placed v1 and v2 side by side: both decode to
// *OrderPlaced, and a v1 order means what it always meant.
func TestOrderPlacedV1AndV2SideBySide(t *testing.T) {
	v1 := []byte(`{"id":"e-1","type":"order_placed","source":"","time":"2026-03-02T11:59:00Z","schema_version":1,"shop_id":"",` +
		`"data":{"order_id":"o-1","customer_id":"c-1","country":"GB","currency":"GBP","channel":"web",` +
		`"lines":[{"product_id":"p-1","quantity":2,"unit_price_minor":250}],"total_minor":500}}`)
	v2 := []byte(`{"id":"e-2","type":"order_placed","source":"web","time":"2026-03-02T11:59:00Z","schema_version":2,"shop_id":"s",` +
		`"data":{"order_id":"o-2","customer_id":"c-1","country":"GB","currency":"GBP","channel":"web",` +
		`"lines":[{"product_id":"p-1","quantity":2,"unit_price_minor":250}],"total_minor":520,` +
		`"discount_minor":50,"tax_minor":70,"shipping_minor":0,"payment_method":"card","card_fingerprint":"fp",` +
		`"billing_country":"GB","shipping_country":"IE","ip":"198.51.100.4","device":"mobile","device_id":"d"}}`)
	var got []*OrderPlaced
	for _, b := range [][]byte{v1, v2} {
		ev, err := Decode(b, testNow)
		if err != nil {
			t.Fatal(err)
		}
		o, ok := ev.(*OrderPlaced)
		if !ok {
			t.Fatalf("decoded %T, want *OrderPlaced", ev)
		}
		got = append(got, o)
	}
	if o := got[0]; o.SchemaVersion != 1 || o.TotalMinor != 500 || o.DiscountMinor != 0 || o.PaymentMethod != "" {
		t.Errorf("v1 decoded as %+v", o)
	}
	if o := got[1]; o.SchemaVersion != 2 || o.TotalMinor != 520 || o.DiscountMinor != 50 || o.TaxMinor != 70 ||
		o.ShippingCountry != "IE" || o.Device != "mobile" || o.LinesMinor() != 500 {
		t.Errorf("v2 decoded as %+v", o)
	}
	// DecodeOrder, which the stream uses, reads both too.
	for _, b := range [][]byte{v1, v2} {
		if _, err := DecodeOrder(b, testNow); err != nil {
			t.Errorf("DecodeOrder: %v", err)
		}
	}
	// A v1 order keeps its v1 encoding: no v2 field appears.
	b, err := Encode(got[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"discount_minor", "tax_minor", "shipping_minor", "payment_method", "device"} {
		if bytes.Contains(b, []byte(f)) {
			t.Errorf("v1 encoding has %s: %s", f, b)
		}
	}
	// A v1 order that sets a v2 field fails Validate before it can be sent.
	o := *got[0]
	o.TaxMinor = 10
	o.TotalMinor = 510
	if err := o.Validate(testNow); err == nil || !slices.Equal(paths(t, err), []string{"$.data.tax_minor"}) {
		t.Errorf("v1 order with tax: %v", err)
	}
}

func TestDecodeReturnsPointers(t *testing.T) {
	for name, ev := range validEvents() {
		b, err := Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b, testNow)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(ev) {
			t.Errorf("%s decoded as %T, want %T", name, got, ev)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range slices.Sorted(mapsKeys(validEvents())) {
		b, err := Encode(validEvents()[name])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"type":"order_placed","schema_version":2,"data":{"lines":[{"quantity":1e5}]}}`))
	f.Add([]byte(`{"type":"page_view","schema_version":1.0,"time":"2026-03-02T11:59:00+23:59"}`))
	f.Add([]byte("{\"id\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := Decode(b, testNow)
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
			if ev != nil {
				t.Fatalf("failed decode returned %+v", ev)
			}
			return
		}
		// What Decode accepts is valid, and re-encodes to an event that
		// decodes to the same value.
		if err := ev.(validator).Validate(testNow); err != nil {
			t.Fatalf("Decode returned an event that fails Validate: %v", err)
		}
		enc, err := Encode(ev)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		again, err := Decode(enc, testNow)
		if err != nil {
			t.Fatalf("re-encoded event does not decode: %v\n%s", err, enc)
		}
		enc2, err := Encode(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) || !again.Head().EventTime.Equal(ev.Head().EventTime) {
			t.Fatalf("round trip changed the event:\n%s\n%s", enc, enc2)
		}
	})
}

func mapsKeys(m map[string]Event) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// BenchmarkDecode measures Decode (size checks, schema, typed decode, Go
// checks) of one typical event per type and version.
func BenchmarkDecode(b *testing.B) {
	evs := validEvents()
	// A typical order has several lines.
	for _, name := range []string{"order_placed/v1", "order_placed/v2"} {
		o := *evs[name].(*OrderPlaced)
		o.Lines = nil
		for i := range 8 {
			o.Lines = append(o.Lines, OrderLine{ProductID: "sku-" + strconv.Itoa(i), Category: "kitchen", Quantity: 2, UnitPriceMinor: 295})
		}
		o.TotalMinor += 8*2*295 - 500
		evs[name] = &o
	}
	for _, name := range slices.Sorted(mapsKeys(evs)) {
		in, err := Encode(evs[name])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(strings.ReplaceAll(name, "/", "_"), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(in, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Times the schema's date-time format allows but Go's RFC 3339 parser does
// not still fail at $.time.
func TestDecodeTimesGoRejects(t *testing.T) {
	for _, tm := range []string{"2026-03-02t11:59:00z", "2026-03-02T23:59:60Z"} {
		_, err := Decode(mutate(t, "refund/v1", set("time", tm)), testNow)
		if err == nil {
			continue // accepted by both: fine
		}
		if got := paths(t, err); !slices.Equal(got, []string{"$.time"}) {
			t.Errorf("%s: paths %v (%v)", tm, got, err)
		}
	}
}

// BenchmarkDecodePhases splits Decode into its schema half (parse to a
// generic value and validate) and its typed half (struct decode and Go
// checks), to show where the time goes.
func BenchmarkDecodePhases(b *testing.B) {
	for _, name := range []string{"refund/v1", "order_placed/v2"} {
		in, err := Encode(validEvents()[name])
		if err != nil {
			b.Fatal(err)
		}
		typ, _, _ := strings.Cut(name, "/")
		cs := loadSchemas().byType[typ][LatestVersion(typ)-1]
		b.Run(strings.ReplaceAll(name, "/", "_")+"/schema", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var doc any
				dec := json.NewDecoder(bytes.NewReader(in))
				dec.UseNumber()
				if err := dec.Decode(&doc); err != nil {
					b.Fatal(err)
				}
				verr := &ValidationError{}
				if cs.validate(verr, doc); len(verr.Fields) > 0 {
					b.Fatal(verr)
				}
			}
		})
		b.Run(strings.ReplaceAll(name, "/", "_")+"/typed", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				ev := newEvent(typ)
				wi := wireIn{Data: ev}
				if err := json.Unmarshal(in, &wi); err != nil {
					b.Fatal(err)
				}
				ev.setHeader(wi.Header)
				if err := ev.Validate(testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
