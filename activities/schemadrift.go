package activities

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"

	"github.com/shoppulse/shoppulse/events"
)

// TypeDrift compares the fields seen in a sample of one event type and
// schema version with that version's JSON Schema. Paths are "id",
// "data.total_minor", "data.lines[].quantity".
type TypeDrift struct {
	Type    string `json:"type"`
	Version int    `json:"version"`
	Seen    int    `json:"seen"`
	// NewFields are in the events but not in the schema.
	NewFields []string `json:"new_fields,omitempty"`
	// MissingRequired are required by the schema but absent from some event.
	MissingRequired []string `json:"missing_required,omitempty"`
	// NeverSeen are optional schema fields no sampled event carried
	// (information, not a failure).
	NeverSeen []string `json:"never_seen,omitempty"`
}

// DriftReport is the schema drift of a sample of one topic.
type DriftReport struct {
	Sampled int         `json:"sampled"`
	Types   []TypeDrift `json:"types,omitempty"`
	// UnknownTypes are type/version pairs with no schema.
	UnknownTypes []string `json:"unknown_types,omitempty"`
	// Unparseable counts messages that are not a JSON object.
	Unparseable int `json:"unparseable,omitempty"`
}

// Drifted reports whether the sample shows drift: a new field, a missing
// required field, an unknown type or an unparseable message.
func (r DriftReport) Drifted() bool {
	if len(r.UnknownTypes) > 0 || r.Unparseable > 0 {
		return true
	}
	for _, t := range r.Types {
		if len(t.NewFields) > 0 || len(t.MissingRequired) > 0 {
			return true
		}
	}
	return false
}

// schemaShape is the field paths of a schema: all of them and the required.
type schemaShape struct {
	fields, required map[string]bool
}

func shapeOf(doc map[string]any, prefix string, sh schemaShape) {
	props, _ := doc["properties"].(map[string]any)
	req := map[string]bool{}
	if rs, ok := doc["required"].([]any); ok {
		for _, r := range rs {
			if s, ok := r.(string); ok {
				req[s] = true
			}
		}
	}
	for name, p := range props {
		path := prefix + name
		sh.fields[path] = true
		if req[name] {
			sh.required[path] = true
		}
		pm, _ := p.(map[string]any)
		if pm["type"] == "object" {
			shapeOf(pm, path+".", sh)
		}
		if items, ok := pm["items"].(map[string]any); ok && items["type"] == "object" {
			shapeOf(items, path+"[].", sh)
		}
	}
}

// seenPaths adds the field paths of a JSON value, following the schema's
// nesting (objects and arrays of objects).
func seenPaths(v map[string]any, prefix string, out map[string]bool) {
	for k, x := range v {
		path := prefix + k
		out[path] = true
		switch y := x.(type) {
		case map[string]any:
			seenPaths(y, path+".", out)
		case []any:
			for _, it := range y {
				if m, ok := it.(map[string]any); ok {
					seenPaths(m, path+"[].", out)
				}
			}
		}
	}
}

// SchemaDrift compares the JSON keys of sampled events with the properties
// of their type's JSON Schema (events/schemas), per type and version.
func SchemaDrift(msgs [][]byte) DriftReport {
	type acc struct {
		drift   TypeDrift
		shape   schemaShape
		seenAny map[string]bool
		newF    map[string]bool
		missing map[string]bool
	}
	byKey := map[string]*acc{}
	unknown := map[string]bool{}
	rep := DriftReport{Sampled: len(msgs)}
	for _, m := range msgs {
		var doc map[string]any
		if err := json.Unmarshal(m, &doc); err != nil || doc == nil {
			rep.Unparseable++
			continue
		}
		typ, _ := doc["type"].(string)
		ver := 1
		if v, ok := doc["schema_version"].(float64); ok {
			ver = int(v)
		}
		key := typ + "/v" + strconv.Itoa(ver)
		a := byKey[key]
		if a == nil {
			info, ok := events.Schema(typ, ver)
			if !ok || ver < 1 {
				unknown[key] = true
				continue
			}
			var sdoc map[string]any
			if err := json.Unmarshal(info.JSON, &sdoc); err != nil {
				unknown[key] = true
				continue
			}
			a = &acc{drift: TypeDrift{Type: typ, Version: ver}, shape: schemaShape{map[string]bool{}, map[string]bool{}},
				seenAny: map[string]bool{}, newF: map[string]bool{}, missing: map[string]bool{}}
			shapeOf(sdoc, "", a.shape)
			byKey[key] = a
		}
		a.drift.Seen++
		seen := map[string]bool{}
		seenPaths(doc, "", seen)
		for p := range seen {
			a.seenAny[p] = true
			if !a.shape.fields[p] {
				a.newF[p] = true
			}
		}
		for p := range a.shape.required {
			// A required field inside an optional parent is required only
			// when the parent is there.
			if !seen[p] && parentPresent(p, seen) {
				a.missing[p] = true
			}
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a := byKey[k]
		a.drift.NewFields = sortedKeys(a.newF)
		a.drift.MissingRequired = sortedKeys(a.missing)
		never := map[string]bool{}
		for p := range a.shape.fields {
			if !a.seenAny[p] {
				never[p] = true
			}
		}
		a.drift.NeverSeen = sortedKeys(never)
		rep.Types = append(rep.Types, a.drift)
	}
	rep.UnknownTypes = sortedKeys(unknown)
	return rep
}

// parentPresent reports whether the object holding path p was seen (true at
// the top level).
func parentPresent(p string, seen map[string]bool) bool {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '.' {
			parent := p[:i]
			if len(parent) > 2 && parent[len(parent)-2:] == "[]" {
				parent = parent[:len(parent)-2]
			}
			return seen[parent]
		}
	}
	return true
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
