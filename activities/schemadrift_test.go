package activities

import (
	"slices"
	"testing"
)

const placed = `{"id":"e1","type":"order_placed","time":"2026-11-26T10:00:00Z","schema_version":2,
 "data":{"order_id":"O1","customer_id":"C1","country":"DE","currency":"EUR","channel":"web","total_minor":100,
 "lines":[{"product_id":"P1","quantity":1,"unit_price_minor":100}]}}`

func TestSchemaDrift(t *testing.T) {
	tests := []struct {
		name    string
		msgs    []string
		drifted bool
		check   func(t *testing.T, r DriftReport)
	}{
		{"events as the schema says", []string{placed, placed}, false, func(t *testing.T, r DriftReport) {
			if len(r.Types) != 1 || r.Types[0].Seen != 2 || r.Types[0].Version != 2 {
				t.Fatalf("report %+v", r)
			}
			if !slices.Contains(r.Types[0].NeverSeen, "data.ip") {
				t.Fatalf("never seen %v, want data.ip among them", r.Types[0].NeverSeen)
			}
		}},
		{"a new field in data and in a line", []string{
			`{"id":"e1","type":"order_placed","time":"2026-11-26T10:00:00Z","schema_version":2,
			  "data":{"order_id":"O1","customer_id":"C1","country":"DE","currency":"EUR","channel":"web","total_minor":100,"loyalty_tier":"gold",
			  "lines":[{"product_id":"P1","quantity":1,"unit_price_minor":100,"colour":"red"}]}}`}, true, func(t *testing.T, r DriftReport) {
			if got := r.Types[0].NewFields; !slices.Equal(got, []string{"data.lines[].colour", "data.loyalty_tier"}) {
				t.Fatalf("new fields %v", got)
			}
		}},
		{"a required field missing", []string{
			`{"id":"e1","type":"order_placed","time":"2026-11-26T10:00:00Z","schema_version":2,
			  "data":{"order_id":"O1","country":"DE","currency":"EUR","channel":"web","total_minor":100,
			  "lines":[{"product_id":"P1","unit_price_minor":100}]}}`}, true, func(t *testing.T, r DriftReport) {
			if got := r.Types[0].MissingRequired; !slices.Equal(got, []string{"data.customer_id", "data.lines[].quantity"}) {
				t.Fatalf("missing %v", got)
			}
		}},
		{"an unknown type and garbage", []string{`{"type":"teleport","schema_version":1}`, `not json`, placed}, true, func(t *testing.T, r DriftReport) {
			if !slices.Equal(r.UnknownTypes, []string{"teleport/v1"}) || r.Unparseable != 1 || r.Sampled != 3 {
				t.Fatalf("report %+v", r)
			}
		}},
		{"nothing sampled", nil, false, func(t *testing.T, r DriftReport) {
			if r.Sampled != 0 || len(r.Types) != 0 {
				t.Fatalf("report %+v", r)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var msgs [][]byte
			for _, m := range tt.msgs {
				msgs = append(msgs, []byte(m))
			}
			r := SchemaDrift(msgs)
			if r.Drifted() != tt.drifted {
				t.Fatalf("drifted = %v, want %v: %+v", r.Drifted(), tt.drifted, r)
			}
			tt.check(t, r)
		})
	}
}
