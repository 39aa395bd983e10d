package events

import (
	"encoding/json"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

func TestSchemasCompileAndMatchTheCatalogue(t *testing.T) {
	set, err := compileSchemas()
	if err != nil {
		t.Fatal(err)
	}
	// Every file under schemas/ belongs to a type and version of the catalogue.
	var files []string
	if err := fs.WalkDir(schemaFS, "schemas", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range set.all {
		want = append(want, schemaPath(s.info.Type, s.info.Version))
		props := s.raw["properties"].(map[string]any)
		if c := props["type"].(map[string]any)["const"]; c != s.info.Type {
			t.Errorf("%s/v%d: type const %v", s.info.Type, s.info.Version, c)
		}
		if c := props["schema_version"].(map[string]any)["const"]; c != json.Number(string(rune('0'+s.info.Version))) {
			t.Errorf("%s/v%d: schema_version const %v", s.info.Type, s.info.Version, c)
		}
		if s.raw["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s/v%d: $schema %v", s.info.Type, s.info.Version, s.raw["$schema"])
		}
	}
	slices.Sort(files)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("schema files %v, want %v", files, want)
	}
	if got := Schemas(); len(got) != len(want) || got[0].Type != TypePageView || len(got[0].JSON) == 0 {
		t.Errorf("Schemas() = %d entries starting with %+v", len(got), got[0].Type)
	}
}

// The Go enumerations and the schemas' enums must list the same values.
func TestEnumsAgreeWithSchemas(t *testing.T) {
	tests := []struct {
		typ, field string
		want       []string
	}{
		{TypePageView, "device", Devices},
		{TypeOrderPlaced, "channel", Channels},
		{TypeOrderPlaced, "device", Devices},
		{TypeOrderPlaced, "payment_method", PaymentMethods},
		{TypePaymentAuthorized, "method", PaymentMethods},
		{TypePaymentFailed, "failure_code", PaymentFailureCodes},
		{TypeOrderCancelled, "reason", CancelReasons},
		{TypeRefund, "reason", RefundReasons},
		{TypeChargeback, "reason", ChargebackReasons},
		{TypeInventoryAdjusted, "reason", InventoryReasons},
		{TypePriceChanged, "reason", PriceReasons},
	}
	for _, tt := range tests {
		cs := loadSchemas().byType[tt.typ]
		sub := schemaAt(cs[len(cs)-1].raw, []string{"data", tt.field})
		var got []string
		for _, v := range sub["enum"].([]any) {
			got = append(got, v.(string))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s.%s: schema enum %v, Go %v", tt.typ, tt.field, got, tt.want)
		}
	}
}

// Every field a type's struct encodes is in its schema, and every schema
// property is a field of the struct: the Go contract and the schema agree.
func TestSchemaPropertiesMatchStructFields(t *testing.T) {
	full := validEvents()
	for name, ev := range full {
		b, err := Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		var m struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		typ, version, _ := strings.Cut(name, "/v")
		cs := loadSchemas().byType[typ][int(version[0]-'1')]
		props := schemaAt(cs.raw, []string{"data"})["properties"].(map[string]any)
		for k := range m.Data {
			if _, ok := props[k]; !ok {
				t.Errorf("%s: encoded field %s is not in the schema", name, k)
			}
		}
		for k := range props {
			if _, ok := m.Data[k]; !ok && !optionalOnlyIn(typ, k) {
				t.Errorf("%s: schema property %s is missing from the example: add it, so the test covers it", name, k)
			}
		}
	}
}

// optionalOnlyIn lists schema properties the examples leave out on purpose.
func optionalOnlyIn(typ, field string) bool {
	return (typ == TypeCustomerUpdated && field == "country") ||
		(typ == TypeRemoveFromCart && field != "session_id" && field != "product_id" && field != "quantity" &&
			field != "price_minor" && field != "currency")
}
