package events

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// The JSON Schemas (draft 2020-12) of the catalogue, one file per type and
// version: schemas/<type>/v<N>.json. Each describes the whole envelope, with
// the type and schema version as constants, so a schema validates one
// version of one type on its own.
//
//go:embed schemas
var schemaFS embed.FS

// SchemaInfo is one version of one type's schema.
type SchemaInfo struct {
	Type    string `json:"type"`
	Version int    `json:"version"`
	Topic   string `json:"topic"`
	// Key names the data field the Kafka key is taken from.
	Key string `json:"key"`
	// JSON is the schema document as embedded.
	JSON json.RawMessage `json:"schema"`
}

// compiledSchema is one loaded schema version.
type compiledSchema struct {
	info SchemaInfo
	raw  map[string]any // the parsed document, to describe fields in errors
	sch  *jsonschema.Schema
	// fast is the same schema compiled for Decode's fast path; nil (with
	// fastErr saying why) when it uses a keyword the fast path lacks.
	fast    *fastNode
	bind    *fastBind
	fastErr error
}

// schemaSet holds every schema, compiled once.
type schemaSet struct {
	byType map[string][]*compiledSchema // index version-1
	all    []*compiledSchema
}

func schemaPath(typ string, version int) string {
	return "schemas/" + typ + "/v" + strconv.Itoa(version) + ".json"
}

// loadSchemas reads and compiles the embedded schemas on first use. The
// schemas are part of the binary, so an error is a bug: it panics, and the
// package's tests catch it first.
var loadSchemas = sync.OnceValue(func() *schemaSet {
	set, err := compileSchemas()
	if err != nil {
		panic("events: embedded schemas: " + err.Error())
	}
	return set
})

func compileSchemas() (*schemaSet, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	set := &schemaSet{byType: make(map[string][]*compiledSchema, len(catalogue))}
	for _, spec := range catalogue {
		for v := 1; v <= spec.latest; v++ {
			p := schemaPath(spec.typ, v)
			b, err := schemaFS.ReadFile(p)
			if err != nil {
				return nil, err
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			raw, ok := doc.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s: not a JSON object", p)
			}
			url := "file:///events/" + p
			if err := c.AddResource(url, doc); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			sch, err := c.Compile(url)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			cs := &compiledSchema{
				info: SchemaInfo{Type: spec.typ, Version: v, Topic: spec.topic, Key: spec.key, JSON: b},
				raw:  raw, sch: sch,
			}
			if cs.fast, cs.fastErr = compileFast(raw, p); cs.fastErr == nil {
				if cs.bind, cs.fastErr = bindRoot(cs.fast, reflect.TypeOf(spec.new()).Elem()); cs.fastErr != nil {
					cs.fast = nil
				}
			}
			set.byType[spec.typ] = append(set.byType[spec.typ], cs)
			set.all = append(set.all, cs)
		}
	}
	return set, nil
}

// Schemas returns every version of every type's schema, in catalogue order
// and by version. The JSON is shared: callers must not modify it.
func Schemas() []SchemaInfo {
	set := loadSchemas()
	out := make([]SchemaInfo, len(set.all))
	for i, cs := range set.all {
		out[i] = cs.info
	}
	return out
}

// Schema returns one version of a type's schema; version 0 means the latest.
func Schema(typ string, version int) (SchemaInfo, bool) {
	vs := loadSchemas().byType[typ]
	if version == 0 {
		version = len(vs)
	}
	if version < 1 || version > len(vs) {
		return SchemaInfo{}, false
	}
	return vs[version-1].info, true
}

// validate checks a parsed event against the schema of its type and
// version and adds each violation to verr with its JSON path.
func (cs *compiledSchema) validate(verr *ValidationError, doc any) {
	err := cs.sch.Validate(doc)
	if err == nil {
		return
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		verr.add("$", "%v", err)
		return
	}
	var fields []FieldError
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		fields = append(fields, cs.fieldErrors(doc, e)...)
	}
	walk(ve)
	slices.SortStableFunc(fields, func(a, b FieldError) int { return strings.Compare(a.Path, b.Path) })
	verr.Fields = append(verr.Fields, slices.Compact(fields)...)
}

// fieldErrors turns one leaf of the validator's error tree into field errors
// that name the field and say what was wanted and what was found.
func (cs *compiledSchema) fieldErrors(doc any, e *jsonschema.ValidationError) []FieldError {
	loc := e.InstanceLocation
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		out := make([]FieldError, len(k.Missing))
		for i, m := range k.Missing {
			out[i] = FieldError{Path: jsonPath(doc, append(slices.Clip(loc), m)), Reason: "required"}
			if sub := schemaAt(cs.raw, append(slices.Clip(loc), m)); sub != nil {
				out[i].Reason = "required: " + describe(sub)
			}
		}
		return out
	case *kind.AdditionalProperties:
		out := make([]FieldError, len(k.Properties))
		for i, p := range k.Properties {
			out[i] = FieldError{Path: jsonPath(doc, append(slices.Clip(loc), p)), Reason: "unknown field"}
		}
		return out
	case *kind.Type, *kind.Enum, *kind.Const, *kind.Format, *kind.Pattern, *kind.MinLength, *kind.MaxLength,
		*kind.Minimum, *kind.Maximum, *kind.MinItems, *kind.MaxItems:
		reason := "invalid"
		if sub := schemaAt(cs.raw, loc); sub != nil {
			reason = "want " + describe(sub)
		}
		return []FieldError{{Path: jsonPath(doc, loc), Reason: reason + ", got " + show(valueAt(doc, loc))}}
	default:
		return []FieldError{{Path: jsonPath(doc, loc), Reason: "fails the schema's " + strings.Join(e.ErrorKind.KeywordPath(), "/")}}
	}
}

// jsonPath renders an instance location as a JSON path: $.data.lines[2].quantity.
func jsonPath(doc any, loc []string) string {
	var sb strings.Builder
	sb.WriteString("$")
	cur := doc
	for _, tok := range loc {
		switch c := cur.(type) {
		case []any:
			sb.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(c) {
				cur = c[i]
			} else {
				cur = nil
			}
			continue
		case map[string]any:
			cur = c[tok]
		default:
			cur = nil
		}
		if isIdent(tok) {
			sb.WriteString("." + tok)
		} else {
			sb.WriteString("[" + strconv.Quote(tok) + "]")
		}
	}
	return sb.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func valueAt(doc any, loc []string) any {
	cur := doc
	for _, tok := range loc {
		switch c := cur.(type) {
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		case map[string]any:
			cur = c[tok]
		default:
			return nil
		}
	}
	return cur
}

// schemaAt returns the subschema that describes the value at loc, following
// properties and items; nil when there is none.
func schemaAt(sch map[string]any, loc []string) map[string]any {
	cur := sch
	for _, tok := range loc {
		if props, ok := cur["properties"].(map[string]any); ok {
			if p, ok := props[tok].(map[string]any); ok {
				cur = p
				continue
			}
		}
		if items, ok := cur["items"].(map[string]any); ok {
			if _, err := strconv.Atoi(tok); err == nil {
				cur = items
				continue
			}
		}
		return nil
	}
	return cur
}

// describe says in words what a subschema accepts: "integer 1 to 100000".
func describe(sch map[string]any) string {
	if c, ok := sch["const"]; ok {
		return show(c)
	}
	if e, ok := sch["enum"].([]any); ok {
		vals := make([]string, len(e))
		for i, v := range e {
			vals[i] = fmt.Sprint(v)
		}
		return "one of " + strings.Join(vals, ", ")
	}
	typ, _ := sch["type"].(string)
	switch typ {
	case "integer", "number":
		lo, hasLo := sch["minimum"]
		hi, hasHi := sch["maximum"]
		switch {
		case hasLo && hasHi:
			return fmt.Sprintf("%s %v to %v", typ, lo, hi)
		case hasLo:
			return fmt.Sprintf("%s >= %v", typ, lo)
		case hasHi:
			return fmt.Sprintf("%s <= %v", typ, hi)
		}
		return typ
	case "string":
		if f, ok := sch["format"].(string); ok {
			switch f {
			case "date-time":
				return "an RFC 3339 date-time with a zone, such as 2026-03-02T11:59:00Z"
			case "email":
				return "an email address"
			}
			return "a string in format " + f
		}
		if p, ok := sch["pattern"].(string); ok {
			switch p {
			case "^[A-Z]{3}$":
				return "an ISO 4217 currency code such as GBP"
			case "^[A-Z]{2}$":
				return "an ISO 3166-1 alpha-2 country code such as GB"
			}
			return "a string matching " + p
		}
		lo, hasLo := sch["minLength"]
		hi, hasHi := sch["maxLength"]
		switch {
		case hasLo && hasHi:
			return fmt.Sprintf("string of %v to %v characters", lo, hi)
		case hasHi:
			return fmt.Sprintf("string of at most %v characters", hi)
		case hasLo:
			return fmt.Sprintf("string of at least %v characters", lo)
		}
		return "string"
	case "array":
		lo, hasLo := sch["minItems"]
		hi, hasHi := sch["maxItems"]
		switch {
		case hasLo && hasHi:
			return fmt.Sprintf("array of %v to %v items", lo, hi)
		case hasHi:
			return fmt.Sprintf("array of at most %v items", hi)
		}
		return "array"
	case "object":
		return "object"
	case "boolean":
		return "boolean"
	}
	return "a valid value"
}

// show renders a JSON value for an error message, shortened.
func show(v any) string {
	if v == nil {
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	if len(s) > 64 {
		s = s[:60] + "..."
	}
	return s
}

// fractionPath finds an integer field whose JSON number has a fraction or an
// exponent (5.0, 1e3): JSON Schema calls 5.0 an integer, but money and counts
// are exact integers here, so the typed decode rejects it. It returns the
// path of the first such field, or "".
func fractionPath(doc any, sch map[string]any, loc []string) string {
	switch v := doc.(type) {
	case json.Number:
		if t, _ := sch["type"].(string); t == "integer" && strings.ContainsAny(string(v), ".eE") {
			return "$" + pathSuffix(loc)
		}
	case map[string]any:
		props, _ := sch["properties"].(map[string]any)
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			sub, _ := props[k].(map[string]any)
			if sub == nil {
				continue
			}
			if p := fractionPath(v[k], sub, append(slices.Clip(loc), k)); p != "" {
				return p
			}
		}
	case []any:
		items, _ := sch["items"].(map[string]any)
		if items == nil {
			return ""
		}
		for i, x := range v {
			if p := fractionPath(x, items, append(slices.Clip(loc), "["+strconv.Itoa(i)+"]")); p != "" {
				return p
			}
		}
	}
	return ""
}

func pathSuffix(loc []string) string {
	var sb strings.Builder
	for _, tok := range loc {
		if strings.HasPrefix(tok, "[") {
			sb.WriteString(tok)
		} else {
			sb.WriteString("." + tok)
		}
	}
	return sb.String()
}
