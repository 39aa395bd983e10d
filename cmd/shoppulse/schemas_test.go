package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shoppulse/shoppulse/events"
)

func runSchemas(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newSchemasCmd()
	var out strings.Builder
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestSchemasList_NamesEveryTypeWithTopicAndKey(t *testing.T) {
	out, err := runSchemas(t, "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range events.Types() {
		if !strings.Contains(out, typ) {
			t.Errorf("list lacks %s:\n%s", typ, out)
		}
	}
	for _, want := range []string{"order_placed", "1,2", events.TopicOrders, "customer_id", "page_view", "session_id", "product_id"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
}

func TestSchemasShow_PrintsTheSchema(t *testing.T) {
	for _, tt := range []struct {
		args    []string
		version float64
	}{
		{[]string{"show", "order_placed"}, 2},
		{[]string{"show", "order_placed", "--version", "1"}, 1},
		{[]string{"show", "refund"}, 1},
	} {
		out, err := runSchemas(t, tt.args...)
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Schema     string `json:"$schema"`
			Properties struct {
				SchemaVersion struct {
					Const float64 `json:"const"`
				} `json:"schema_version"`
			} `json:"properties"`
		}
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("%v: not JSON: %v", tt.args, err)
		}
		if s.Schema != "https://json-schema.org/draft/2020-12/schema" || s.Properties.SchemaVersion.Const != tt.version {
			t.Errorf("%v printed %+v", tt.args, s)
		}
	}
}

func TestSchemasShow_UnknownTypeOrVersion(t *testing.T) {
	if _, err := runSchemas(t, "show", "order_paid"); err == nil || !strings.Contains(err.Error(), "unknown event type") {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := runSchemas(t, "show", "refund", "--version", "2"); err == nil || !strings.Contains(err.Error(), "versions 1 to 1") {
		t.Errorf("unknown version: %v", err)
	}
}

func TestSchemasCheck_EmbeddedSchemasAreCompatible(t *testing.T) {
	out, err := runSchemas(t, "check")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "ok:") {
		t.Errorf("output %q", out)
	}
}

func TestSchemasCheck_FailsNamingTheField(t *testing.T) {
	dir := filepath.Join("..", "..", "events", "testdata", "compat")
	_, err := runSchemas(t, "check", filepath.Join(dir, "v1.json"), filepath.Join(dir, "type_change.v2.json"))
	if err == nil || !strings.Contains(err.Error(), "order_placed v1 -> v2: $.data.total_minor: type changed") {
		t.Fatalf("want an error naming order_placed v1 -> v2 and $.data.total_minor, got %v", err)
	}
	if _, err := runSchemas(t, "check", filepath.Join(dir, "v1.json"), filepath.Join(dir, "compatible.v2.json")); err != nil {
		t.Fatalf("compatible pair: %v", err)
	}
}
