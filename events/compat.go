package events

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// Versioning rules. A new version of a type's schema must accept every event
// the previous version accepts, with the same meaning, so consumers can read
// both side by side and producers can move on one at a time:
//
//   - properties may only be added, and only as optional ones;
//   - no property is removed, and none changes its type, constant, format or
//     pattern;
//   - no field becomes required, and no required field becomes optional;
//   - enums and ranges (minimum, maximum, lengths, item counts) may widen,
//     never narrow; a closed object (additionalProperties: false) stays
//     closed, an open one stays open.
//
// Only schema_version's constant changes from one version to the next.
// Meaning cannot be checked by a machine: a new field must not change what
// the old ones mean (order_placed v2's total_minor equals v1's when the new
// amounts are absent).

// CompatibilityProblem is one break between two versions of a type's schema.
type CompatibilityProblem struct {
	Type     string
	From, To int
	// Path is the JSON path of the offending field: $.data.lines[*].quantity.
	Path    string
	Problem string
}

func (p CompatibilityProblem) String() string {
	return fmt.Sprintf("%s v%d -> v%d: %s: %s", p.Type, p.From, p.To, p.Path, p.Problem)
}

// CompatibilityError lists every break found.
type CompatibilityError struct {
	Problems []CompatibilityProblem
}

func (e *CompatibilityError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "incompatible schema versions:\n  " + strings.Join(lines, "\n  ")
}

// CheckCompatibility verifies every embedded schema version against its
// predecessor. It returns nil or a *CompatibilityError naming the type, the
// versions and the offending field of each break.
func CheckCompatibility() error {
	set := loadSchemas()
	var problems []CompatibilityProblem
	for _, spec := range catalogue {
		vs := set.byType[spec.typ]
		for i := 1; i < len(vs); i++ {
			problems = append(problems, compareVersions(spec.typ, i, i+1, vs[i-1].raw, vs[i].raw)...)
		}
	}
	if len(problems) > 0 {
		return &CompatibilityError{Problems: problems}
	}
	return nil
}

// CheckSchemaPair checks that the schema next (version to) is a compatible
// successor of prev (version from), both JSON Schema documents. It is
// CheckCompatibility for schemas that are not embedded, such as a proposed
// new version.
func CheckSchemaPair(typ string, from, to int, prev, next []byte) error {
	var a, b map[string]any
	if err := decodeNumbers(prev, &a); err != nil {
		return fmt.Errorf("%s v%d: %w", typ, from, err)
	}
	if err := decodeNumbers(next, &b); err != nil {
		return fmt.Errorf("%s v%d: %w", typ, to, err)
	}
	if p := compareVersions(typ, from, to, a, b); len(p) > 0 {
		return &CompatibilityError{Problems: p}
	}
	return nil
}

func decodeNumbers(b []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	return dec.Decode(v)
}

func compareVersions(typ string, from, to int, prev, next map[string]any) []CompatibilityProblem {
	c := &comparison{typ: typ, from: from, to: to}
	c.compare("$", prev, next)
	return c.problems
}

type comparison struct {
	typ      string
	from, to int
	problems []CompatibilityProblem
}

func (c *comparison) add(path, format string, args ...any) {
	c.problems = append(c.problems, CompatibilityProblem{Type: c.typ, From: c.from, To: c.to, Path: path,
		Problem: fmt.Sprintf(format, args...)})
}

// compare checks that next accepts whatever prev accepts at path.
func (c *comparison) compare(path string, prev, next map[string]any) {
	for _, kw := range []string{"type", "format", "pattern"} {
		if a, b := prev[kw], next[kw]; !jsonEqual(a, b) {
			c.add(path, "%s changed from %s to %s", kw, show(a), show(b))
		}
	}
	if a, b := prev["const"], next["const"]; !jsonEqual(a, b) && path != "$.schema_version" {
		c.add(path, "const changed from %s to %s", show(a), show(b))
	}
	c.compareEnum(path, prev, next)
	// Lower bounds may only fall, upper bounds only rise.
	for _, kw := range []string{"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"} {
		c.compareBound(path, kw, prev[kw], next[kw], -1)
	}
	for _, kw := range []string{"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"} {
		c.compareBound(path, kw, prev[kw], next[kw], +1)
	}
	closedPrev, closedNext := prev["additionalProperties"] == false, next["additionalProperties"] == false
	if closedPrev != closedNext {
		c.add(path, "additionalProperties changed from %v to %v", !closedPrev, !closedNext)
	}
	c.compareRequired(path, prev, next)

	pp, _ := prev["properties"].(map[string]any)
	np, _ := next["properties"].(map[string]any)
	for _, name := range sortedKeys(pp) {
		sub := childPath(path, name)
		a, _ := pp[name].(map[string]any)
		b, ok := np[name].(map[string]any)
		if !ok {
			c.add(sub, "property removed")
			continue
		}
		c.compare(sub, a, b)
	}
	switch a, b := prev["items"], next["items"]; {
	case a == nil && b == nil:
	case a == nil || b == nil:
		c.add(path+"[*]", "items schema added or removed")
	default:
		am, _ := a.(map[string]any)
		bm, _ := b.(map[string]any)
		c.compare(path+"[*]", am, bm)
	}
}

func (c *comparison) compareEnum(path string, prev, next map[string]any) {
	a, hasA := prev["enum"].([]any)
	b, hasB := next["enum"].([]any)
	switch {
	case !hasB:
		return // no enum accepts anything the type allows
	case !hasA:
		c.add(path, "enum added: narrows the values accepted")
		return
	}
	for _, v := range a {
		if !slices.ContainsFunc(b, func(w any) bool { return jsonEqual(v, w) }) {
			c.add(path, "enum narrowed: %s removed", show(v))
		}
	}
}

// compareBound reports a bound that narrows: dir -1 for lower bounds (must
// not rise), +1 for upper bounds (must not fall).
func (c *comparison) compareBound(path, kw string, prev, next any, dir int) {
	if next == nil {
		return
	}
	if prev == nil {
		c.add(path, "%s %s added: narrows the values accepted", kw, show(next))
		return
	}
	a, okA := toRat(prev)
	b, okB := toRat(next)
	if !okA || !okB {
		if !jsonEqual(prev, next) {
			c.add(path, "%s changed from %s to %s", kw, show(prev), show(next))
		}
		return
	}
	if cmp := b.Cmp(a); cmp != 0 && cmp != dir {
		verb := "raised"
		if dir > 0 {
			verb = "lowered"
		}
		c.add(path, "%s %s from %s to %s", kw, verb, show(prev), show(next))
	}
}

func (c *comparison) compareRequired(path string, prev, next map[string]any) {
	a := stringSet(prev["required"])
	b := stringSet(next["required"])
	for _, name := range b {
		if !slices.Contains(a, name) {
			c.add(childPath(path, name), "new required field")
		}
	}
	for _, name := range a {
		if !slices.Contains(b, name) {
			c.add(childPath(path, name), "required field made optional")
		}
	}
}

func childPath(path, name string) string {
	if isIdent(name) {
		return path + "." + name
	}
	return path + "[" + fmt.Sprintf("%q", name) + "]"
}

func stringSet(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func toRat(v any) (*big.Rat, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, false
	}
	return new(big.Rat).SetString(string(n))
}

func jsonEqual(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
