package events

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckCompatibilityOfTheCatalogue(t *testing.T) {
	if err := CheckCompatibility(); err != nil {
		t.Fatal(err)
	}
}

// Each fixture in testdata/compat is a v2 of the same v1 that breaks one rule;
// the checker must name the field and the break.
func TestCheckSchemaPairCatchesEachBreak(t *testing.T) {
	v1, err := os.ReadFile(filepath.Join("testdata", "compat", "v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		fixture string
		path    string // "" means compatible
		problem string
	}{
		{"compatible", "", ""},
		{"removed_property", "$.data.note", "property removed"},
		{"type_change", "$.data.total_minor", "type changed from \"integer\" to \"string\""},
		{"new_required", "$.data.coupon", "new required field"},
		{"removed_required", "$.data.currency", "required field made optional"},
		{"narrowed_enum", "$.data.channel", "enum narrowed: \"store\" removed"},
		{"narrowed_range", "$.data.lines[*].quantity", "maximum lowered from 100000 to 1000"},
		{"raised_minimum", "$.data.total_minor", "minimum raised from 0 to 1"},
		{"narrowed_length", "$.data.order_id", "maxLength lowered from 128 to 64"},
		{"changed_pattern", "$.data.currency", "pattern changed"},
		{"added_enum", "$.data.note", "enum added"},
		{"opened_object", "$.data.lines[*]", "additionalProperties changed from false to true"},
		{"changed_const", "$.type", "const changed from \"order_placed\" to \"order_created\""},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			v2, err := os.ReadFile(filepath.Join("testdata", "compat", tt.fixture+".v2.json"))
			if err != nil {
				t.Fatal(err)
			}
			err = CheckSchemaPair("order_placed", 1, 2, v1, v2)
			if tt.path == "" {
				if err != nil {
					t.Fatalf("want compatible, got %v", err)
				}
				return
			}
			var cerr *CompatibilityError
			if !errors.As(err, &cerr) {
				t.Fatalf("want a *CompatibilityError, got %v", err)
			}
			if len(cerr.Problems) != 1 {
				t.Fatalf("want exactly one problem, got %v", err)
			}
			p := cerr.Problems[0]
			if p.Type != "order_placed" || p.From != 1 || p.To != 2 || p.Path != tt.path || !strings.Contains(p.Problem, tt.problem) {
				t.Fatalf("got %q, want order_placed v1 -> v2: %s: %s", p, tt.path, tt.problem)
			}
			if msg := err.Error(); !strings.Contains(msg, "order_placed v1 -> v2: "+tt.path+": ") {
				t.Fatalf("message %q does not name the type, versions and field", msg)
			}
		})
	}
}
