package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Every schema must compile for the fast path, or Decode silently falls back
// to the slow schema engine for that type.
func TestEverySchemaCompilesForTheFastPath(t *testing.T) {
	for _, cs := range loadSchemas().all {
		if cs.fast == nil {
			t.Errorf("%s v%d: %v", cs.info.Type, cs.info.Version, cs.fastErr)
		}
	}
}

// Every valid example takes the fast path: the fallback is for invalid or
// unusual input only.
func TestValidEventsTakeTheFastPath(t *testing.T) {
	for _, name := range slices.Sorted(mapsKeys(validEvents())) {
		b, err := Encode(validEvents()[name])
		if err != nil {
			t.Fatal(err)
		}
		if fastValid(b) == nil || fastDecode(b) == nil {
			t.Errorf("%s: not sure of a valid event\n%s", name, b)
		}
	}
}

// schemaAccepts runs the full schema engine the way decodeStrict does and
// returns the schema it picked and whether the event passes it.
func schemaAccepts(b []byte) (*compiledSchema, bool) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, false
	}
	cs := schemaFor(&ValidationError{}, doc)
	if cs == nil {
		return nil, false
	}
	return cs, cs.sch.Validate(doc) == nil
}

// checkMatchesSchema fails when the fast path and the schema engine disagree
// on b: the fast validator may only be sure of events the schema accepts,
// with the same schema; and Decode must return exactly what decodeStrict
// returns, event or error (paths and reasons).
func checkMatchesSchema(t *testing.T, b []byte) {
	t.Helper()
	if len(b) <= MaxEventBytes && utf8.Valid(b) {
		if cs := fastValid(b); cs != nil {
			want, ok := schemaAccepts(b)
			if !ok {
				t.Fatalf("fast path accepts what the schema rejects:\n%s", b)
			}
			if want != cs {
				t.Fatalf("fast path picked %s v%d, the schema engine %s v%d:\n%s",
					cs.info.Type, cs.info.Version, want.info.Type, want.info.Version, b)
			}
		}
		if ev := fastDecode(b); ev != nil {
			if _, ok := schemaAccepts(b); !ok {
				t.Fatalf("fast decode accepts what the schema rejects:\n%s", b)
			}
			want := newEvent(ev.Head().Type)
			in := wireIn{Data: want}
			if err := json.Unmarshal(b, &in); err != nil {
				t.Fatalf("fast decode accepts what encoding/json rejects (%v):\n%s", err, b)
			}
			want.setHeader(in.Header)
			if !reflect.DeepEqual(ev, want) {
				t.Fatalf("fast decode\n%#v\nencoding/json\n%#v\ninput:\n%s", ev, want, b)
			}
		}
	}
	gotEv, gotErr := Decode(b, testNow)
	wantEv, wantErr := decodeStrict(b, testNow)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("Decode error %v, schema engine error %v:\n%s", gotErr, wantErr, b)
	}
	if !reflect.DeepEqual(gotErr, wantErr) {
		t.Fatalf("Decode error\n%v\nschema engine error\n%v\ninput:\n%s", gotErr, wantErr, b)
	}
	if !reflect.DeepEqual(gotEv, wantEv) {
		t.Fatalf("Decode event\n%+v\nschema engine event\n%+v\ninput:\n%s", gotEv, wantEv, b)
	}
}

// schemaMutations returns every valid example, encoded, and variants of
// each: every field removed, set to null, to values of the wrong type, to
// fractions and exponents, out of range, to bad enums and formats, and an
// unknown field added to every object.
func schemaMutations(t testing.TB) [][]byte {
	var out [][]byte
	values := []any{
		nil, "", "x", "ZZ", "ZZZ", "zzz", "GBP", "GB", "web", "card", "fraud", "receipt", "desktop",
		strings.Repeat("x", 129), strings.Repeat("é", 128), strings.Repeat("x", 2049),
		"a\u0000b", "<&>", "\U0001F600", "a@b.c", "a..b@c.d", `"q"@x.y`, "a@[127.0.0.1]", "a@-b.c", "a@b.c.",
		"2026-03-02T11:59:00Z", "2026-03-02t11:59:00z", "2026-03-02T23:59:60Z", "2026-02-30T11:59:00Z",
		"2026-03-02T11:59:00.123+01:00", "2026-03-02T11:59:00+24:00", "2026-03-02 11:59:00Z", "1999-12-31T23:59:59Z",
		json.Number("0"), json.Number("-1"), json.Number("1"), json.Number("2"), json.Number("3"),
		json.Number("5.0"), json.Number("1.5"), json.Number("1e3"), json.Number("1E2"), json.Number("-0"),
		json.Number("100000"), json.Number("100001"), json.Number("10000000000000"), json.Number("10000000000001"),
		json.Number("9223372036854775807"), json.Number("9223372036854775808"), json.Number("1e30"),
		true, false, map[string]any{}, []any{}, []any{map[string]any{}},
	}
	for _, name := range slices.Sorted(mapsKeys(validEvents())) {
		base, err := Encode(validEvents()[name])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, base)
		var doc any
		dec := json.NewDecoder(bytes.NewReader(base))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		var leaves [][]any
		var walk func(v any, loc []any)
		walk = func(v any, loc []any) {
			leaves = append(leaves, slices.Clone(loc))
			switch c := v.(type) {
			case map[string]any:
				for k, x := range c {
					walk(x, append(loc, k))
				}
			case []any:
				for i, x := range c {
					walk(x, append(loc, i))
				}
			}
		}
		walk(doc, nil)
		variant := func(loc []any, change func(parent any, key any)) {
			cp := deepCopy(doc)
			if len(loc) == 0 {
				change(nil, nil)
				return
			}
			parent := cp
			for _, k := range loc[:len(loc)-1] {
				switch p := parent.(type) {
				case map[string]any:
					parent = p[k.(string)]
				case []any:
					parent = p[k.(int)]
				}
			}
			change(parent, loc[len(loc)-1])
			b, err := json.Marshal(cp)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		for _, loc := range leaves {
			if len(loc) == 0 {
				continue
			}
			variant(loc, func(parent, key any) {
				switch p := parent.(type) {
				case map[string]any:
					delete(p, key.(string))
				case []any:
					// arrays: drop the item by replacing it with its neighbour's copy
					if len(p) > 0 {
						p[key.(int)] = deepCopy(p[0])
					}
				}
			})
			for _, v := range values {
				variant(loc, func(parent, key any) {
					switch p := parent.(type) {
					case map[string]any:
						p[key.(string)] = deepCopy(v)
					case []any:
						p[key.(int)] = deepCopy(v)
					}
				})
			}
		}
		// an unknown field in every object
		for _, loc := range leaves {
			cp := deepCopy(doc)
			cur := cp
			for _, k := range loc {
				switch p := cur.(type) {
				case map[string]any:
					cur = p[k.(string)]
				case []any:
					cur = p[k.(int)]
				}
			}
			if m, ok := cur.(map[string]any); ok {
				m["surprise"] = json.Number("1")
				b, err := json.Marshal(cp)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, b)
			}
		}
	}
	return out
}

func deepCopy(v any) any {
	switch c := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(c))
		for k, x := range c {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(c))
		for i, x := range c {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}

// rawMutations are byte-level variants that a map cannot express.
func rawMutations(t testing.TB) [][]byte {
	b, err := Encode(validEvents()["refund/v1"])
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	edits := []string{
		strings.Replace(s, `"id":`, `"id":"dup","id":`, 1),
		strings.Replace(s, `"type":`, `"type":"page_view","type":`, 1),
		strings.Replace(s, `"schema_version":1`, `"schema_version":1,"schema_version":1`, 1),
		strings.Replace(s, `"id":`, `"\u0069d":`, 1),
		strings.Replace(s, `"id":`, `"ID":`, 1),
		strings.Replace(s, `"type":"refund"`, `"type":"\u0072efund"`, 1),
		strings.Replace(s, `"currency":"`, `"currency":"\u0047`, 1),
		strings.Replace(s, `"refund_id":"`, `"refund_id":"\ud800`, 1),
		strings.Replace(s, `"refund_id":"`, `"refund_id":"\ud83d\ude00`, 1),
		strings.Replace(s, `"refund_id":"`, `"refund_id":"\u00e9\n\/`, 1),
		strings.Replace(s, `"schema_version":1`, `"schema_version":1.0`, 1),
		strings.Replace(s, `"schema_version":1`, `"schema_version":01`, 1),
		strings.Replace(s, `"schema_version":1`, `"schema_version":-0`, 1),
		strings.ReplaceAll(s, `,`, " ,\n\t"),
		strings.ReplaceAll(s, `:`, " : "),
		" " + s + " \n",
		s + "x",
		s + "{}",
		"\ufeff" + s,
		s[:len(s)-1],
		s[:len(s)/2],
		strings.Replace(s, `{`, `{"seq":0,`, 1),
		strings.Replace(s, `{`, `{"seq":-1,`, 1),
		`{"type":"refund"}`,
		`{"schema_version":1,"type":"refund"}`,
		`[]`, `null`, `""`, `1`, `{`, `{}`,
	}
	var out [][]byte
	for _, e := range edits {
		out = append(out, []byte(e))
	}
	return out
}

// TestFastPathAgreesWithSchema proves, over every valid example and
// thousands of variants, that Decode (fast path) and decodeStrict (the full
// schema engine) return the same event or the same error.
func TestFastPathAgreesWithSchema(t *testing.T) {
	inputs := append(schemaMutations(t), rawMutations(t)...)
	fast := 0
	for _, b := range inputs {
		checkMatchesSchema(t, b)
		if fastDecode(b) != nil {
			fast++
		}
	}
	t.Logf("%d inputs, %d sure on the fast path", len(inputs), fast)
}

func FuzzDecodeMatchesSchema(f *testing.F) {
	for _, b := range rawMutations(f) {
		f.Add(b)
	}
	for i, b := range schemaMutations(f) {
		if i%7 == 0 { // a sample: the fuzzer mutates further
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkMatchesSchema(t, b)
	})
}
