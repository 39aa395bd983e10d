package events

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The fast path: Decode first checks an event against a small validator
// compiled from the same embedded JSON Schemas, working on the raw bytes
// without building a generic value, and then decodes it as before. The fast
// validator is deliberately conservative: it accepts an event only when it is
// sure the full schema engine accepts it too, and answers "not sure" for
// everything else (a fraction such as 5.0 where an integer is wanted, an
// escaped key, a duplicate key, a leap second, a quoted email...). Decode
// then runs the full schema pass, which makes every decision and every error
// on rejected input exactly what it was. So the only property the fast path
// must hold is: fast accepts => schema accepts; TestFastPathAgreesWithSchema
// and FuzzDecodeMatchesSchema check it against the schema engine.

// fastKind is the JSON type a fastNode wants.
type fastKind uint8

const (
	fastString fastKind = iota + 1
	fastInteger
	fastBoolean
	fastObject
	fastArray
)

// fastFormat is a string format the fast path checks.
type fastFormat uint8

const (
	formatNone fastFormat = iota
	formatDateTime
	formatEmail
)

// fastNode is one compiled subschema.
type fastNode struct {
	kind fastKind

	// strings
	minLen, maxLen int // maxLen < 0: no limit
	constStr       *string
	enum           []string
	upperN         int // pattern ^[A-Z]{n}$
	re             *regexp.Regexp
	format         fastFormat

	// integers
	hasMin, hasMax, hasConst bool
	min, max, constInt       int64

	// objects: every object of the catalogue has additionalProperties false
	props    map[string]int // property name to index in children
	children []*fastNode
	required uint64 // bit i: children[i] is required

	// arrays
	items              *fastNode
	minItems, maxItems int // maxItems < 0: no limit
}

// schemaKeywords are the keywords compileFast understands; a schema using
// any other keyword does not compile, and a test fails.
var schemaKeywords = map[string]bool{
	"$schema": true, "$id": true, "title": true, "description": true,
	"type": true, "const": true, "enum": true,
	"minLength": true, "maxLength": true, "pattern": true, "format": true,
	"minimum": true, "maximum": true,
	"properties": true, "required": true, "additionalProperties": true,
	"items": true, "minItems": true, "maxItems": true,
}

// compileFast compiles a parsed schema document (numbers as json.Number) into
// a fastNode, or says which keyword it does not support.
func compileFast(sch map[string]any, path string) (*fastNode, error) {
	for k := range sch {
		if !schemaKeywords[k] {
			return nil, fmt.Errorf("%s: keyword %q", path, k)
		}
	}
	typ, _ := sch["type"].(string)
	n := &fastNode{maxLen: -1, maxItems: -1}
	allowed := map[string]bool{"$schema": true, "$id": true, "title": true, "description": true, "type": true}
	switch typ {
	case "string":
		n.kind = fastString
		for _, k := range []string{"const", "enum", "minLength", "maxLength", "pattern", "format"} {
			allowed[k] = true
		}
		if c, ok := sch["const"]; ok {
			s, ok := c.(string)
			if !ok {
				return nil, fmt.Errorf("%s: const %v on a string", path, c)
			}
			n.constStr = &s
		}
		if e, ok := sch["enum"]; ok {
			list, _ := e.([]any)
			if len(list) == 0 {
				return nil, fmt.Errorf("%s: enum %v", path, e)
			}
			for _, v := range list {
				s, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("%s: enum value %v", path, v)
				}
				n.enum = append(n.enum, s)
			}
		}
		var err error
		if n.minLen, err = schemaInt(sch, "minLength", 0); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if n.maxLen, err = schemaInt(sch, "maxLength", -1); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if p, ok := sch["pattern"]; ok {
			ps, _ := p.(string)
			if m := upperPattern.FindStringSubmatch(ps); m != nil {
				n.upperN, _ = strconv.Atoi(m[1])
			} else if n.re, err = regexp.Compile(ps); err != nil {
				return nil, fmt.Errorf("%s: pattern: %w", path, err)
			}
		}
		if f, ok := sch["format"]; ok {
			switch f {
			case "date-time":
				n.format = formatDateTime
			case "email":
				n.format = formatEmail
			default:
				return nil, fmt.Errorf("%s: format %v", path, f)
			}
		}
	case "integer":
		n.kind = fastInteger
		allowed["const"], allowed["minimum"], allowed["maximum"] = true, true, true
		var err error
		if n.hasMin, n.min, err = schemaInt64(sch, "minimum"); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if n.hasMax, n.max, err = schemaInt64(sch, "maximum"); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if n.hasConst, n.constInt, err = schemaInt64(sch, "const"); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case "boolean":
		n.kind = fastBoolean
	case "object":
		n.kind = fastObject
		allowed["properties"], allowed["required"], allowed["additionalProperties"] = true, true, true
		if ap, ok := sch["additionalProperties"]; !ok || ap != false {
			return nil, fmt.Errorf("%s: additionalProperties is not false", path)
		}
		props, _ := sch["properties"].(map[string]any)
		if len(props) > 64 {
			return nil, fmt.Errorf("%s: more than 64 properties", path)
		}
		n.props = make(map[string]int, len(props))
		for name, sub := range props {
			m, ok := sub.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s.%s: not an object", path, name)
			}
			c, err := compileFast(m, path+"."+name)
			if err != nil {
				return nil, err
			}
			n.props[name] = len(n.children)
			n.children = append(n.children, c)
		}
		if r, ok := sch["required"]; ok {
			list, _ := r.([]any)
			for _, v := range list {
				s, _ := v.(string)
				i, ok := n.props[s]
				if !ok {
					// Required but not in properties: additionalProperties
					// false makes the schema unsatisfiable; not supported.
					return nil, fmt.Errorf("%s: required %v is not a property", path, v)
				}
				n.required |= 1 << i
			}
		}
	case "array":
		n.kind = fastArray
		allowed["items"], allowed["minItems"], allowed["maxItems"] = true, true, true
		items, ok := sch["items"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: array without items", path)
		}
		var err error
		if n.items, err = compileFast(items, path+"[]"); err != nil {
			return nil, err
		}
		if n.minItems, err = schemaInt(sch, "minItems", 0); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if n.maxItems, err = schemaInt(sch, "maxItems", -1); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("%s: type %v", path, sch["type"])
	}
	for k := range sch {
		if !allowed[k] {
			return nil, fmt.Errorf("%s: keyword %q on a %s", path, k, typ)
		}
	}
	return n, nil
}

var upperPattern = regexp.MustCompile(`^\^\[A-Z\]\{([1-9])\}\$$`)

func schemaInt64(sch map[string]any, key string) (bool, int64, error) {
	v, ok := sch[key]
	if !ok {
		return false, 0, nil
	}
	n, _ := v.(json.Number)
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		return false, 0, fmt.Errorf("%s %v is not an int64", key, v)
	}
	return true, i, nil
}

func schemaInt(sch map[string]any, key string, def int) (int, error) {
	ok, i, err := schemaInt64(sch, key)
	if err != nil || !ok {
		return def, err
	}
	if i < 0 || i > 1<<30 {
		return def, fmt.Errorf("%s %d out of range", key, i)
	}
	return int(i), nil
}

// fastScanner walks the raw bytes of one event. Its methods return false for
// "not sure": invalid JSON, a value the schema rejects, or one the fast path
// does not try to judge.
type fastScanner struct {
	b   []byte
	i   int
	buf []byte // unescaped string, reused
}

func (s *fastScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *fastScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a JSON string at s.i and returns its value; the slice aliases
// s.b or s.buf and is only valid until the next call.
func (s *fastScanner) str() ([]byte, bool) {
	if s.peek() != '"' {
		return nil, false
	}
	s.i++
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\':
			return s.escapedStr(start)
		case c < 0x20:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// escapedStr finishes a string with escapes, unescaping into s.buf. A lone
// surrogate is "not sure" (encoding/json would replace it with U+FFFD).
func (s *fastScanner) escapedStr(start int) ([]byte, bool) {
	s.buf = append(s.buf[:0], s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.buf, true
		case c < 0x20:
			return nil, false
		case c != '\\':
			s.buf = append(s.buf, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			return nil, false
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, false
			}
			if r >= 0xD800 && r < 0xDC00 {
				if s.i+1 >= len(s.b) || s.b[s.i] != '\\' || s.b[s.i+1] != 'u' {
					return nil, false
				}
				s.i += 2
				lo, ok := s.hex4()
				if !ok || lo < 0xDC00 || lo >= 0xE000 {
					return nil, false
				}
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
			} else if r >= 0xDC00 && r < 0xE000 {
				return nil, false
			}
			s.buf = utf8.AppendRune(s.buf, r)
		default:
			return nil, false
		}
	}
	return nil, false
}

func (s *fastScanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	s.i += 4
	return r, true
}

// integer reads a JSON number that is a plain integer (no fraction, no
// exponent) fitting an int64.
func (s *fastScanner) integer() (int64, bool) {
	neg := false
	if s.peek() == '-' {
		neg = true
		s.i++
	}
	start := s.i
	var v uint64
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		if v > (1<<63)/10 {
			return 0, false
		}
		v = v*10 + uint64(s.b[s.i]-'0')
		s.i++
	}
	digits := s.i - start
	switch {
	case digits == 0, digits > 1 && s.b[start] == '0':
		return 0, false
	case s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E'):
		return 0, false
	case neg && v > 1<<63, !neg && v > 1<<63-1:
		return 0, false
	case neg:
		return -int64(v), true
	}
	return int64(v), true
}

func (s *fastScanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// value checks the value at s.i against n and, when b is not nil, stores it
// in dst as encoding/json would. data is where a root's data property goes.
func (s *fastScanner) value(n *fastNode, b *fastBind, dst, data reflect.Value) bool {
	s.ws()
	switch n.kind {
	case fastString:
		start := s.i
		v, ok := s.str()
		if !ok || !n.checkString(v) {
			return false
		}
		switch {
		case b == nil:
		case b.time:
			t := dst.Addr().Interface().(*time.Time)
			if t.UnmarshalJSON(s.b[start:s.i]) != nil {
				return false
			}
		default:
			dst.SetString(string(v))
		}
		return true
	case fastInteger:
		v, ok := s.integer()
		if !ok || n.hasMin && v < n.min || n.hasMax && v > n.max || n.hasConst && v != n.constInt {
			return false
		}
		if b != nil {
			dst.SetInt(v)
		}
		return true
	case fastBoolean:
		var v bool
		switch {
		case s.literal("true"):
			v = true
		case s.literal("false"):
		default:
			return false
		}
		switch {
		case b == nil:
		case b.ptr:
			p := reflect.New(dst.Type().Elem())
			p.Elem().SetBool(v)
			dst.Set(p)
		default:
			dst.SetBool(v)
		}
		return true
	case fastObject:
		return s.object(n, b, dst, data)
	case fastArray:
		return s.array(n, b, dst)
	}
	return false
}

func (s *fastScanner) object(n *fastNode, b *fastBind, dst, data reflect.Value) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	var seen uint64
	s.ws()
	if s.peek() == '}' {
		s.i++
		return n.required == 0
	}
	for {
		s.ws()
		start := s.i
		key, ok := s.str()
		if !ok || s.i-start-2 != len(key) { // escaped keys: not sure
			return false
		}
		idx, ok := n.props[string(key)]
		if !ok || seen&(1<<idx) != 0 { // unknown or duplicate key
			return false
		}
		seen |= 1 << idx
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		var cb *fastBind
		var cdst reflect.Value
		if b != nil {
			cb = b.props[idx]
			if len(cb.field) == 0 {
				cdst = data
			} else {
				cdst = fieldOf(dst, cb.field)
			}
		}
		if !s.value(n.children[idx], cb, cdst, reflect.Value{}) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return seen&n.required == n.required
		default:
			return false
		}
	}
}

func (s *fastScanner) array(n *fastNode, b *fastBind, dst reflect.Value) bool {
	if s.peek() != '[' {
		return false
	}
	s.i++
	count := 0
	s.ws()
	if s.peek() == ']' {
		s.i++
		if b != nil { // encoding/json makes an empty, not a nil, slice
			dst.Set(reflect.MakeSlice(b.slice, 0, 0))
		}
		return count >= n.minItems
	}
	for {
		var item reflect.Value
		if b != nil {
			if dst.Len() == dst.Cap() {
				dst.Grow(1)
			}
			dst.SetLen(count + 1)
			item = dst.Index(count)
		}
		if !s.value(n.items, b.itemBind(), item, reflect.Value{}) {
			return false
		}
		count++
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return count >= n.minItems && (n.maxItems < 0 || count <= n.maxItems)
		default:
			return false
		}
	}
}

func (b *fastBind) itemBind() *fastBind {
	if b == nil {
		return nil
	}
	return b.items
}

func (n *fastNode) checkString(v []byte) bool {
	if n.minLen > 0 || n.maxLen >= 0 {
		l := utf8.RuneCount(v)
		if l < n.minLen || n.maxLen >= 0 && l > n.maxLen {
			return false
		}
	}
	if n.constStr != nil && string(v) != *n.constStr {
		return false
	}
	if n.enum != nil {
		found := false
		for _, e := range n.enum {
			if string(v) == e {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	if n.upperN > 0 {
		if len(v) != n.upperN {
			return false
		}
		for _, c := range v {
			if c < 'A' || c > 'Z' {
				return false
			}
		}
	}
	if n.re != nil && !n.re.Match(v) {
		return false
	}
	switch n.format {
	case formatDateTime:
		return sureDateTime(v)
	case formatEmail:
		return sureEmail(v)
	}
	return true
}

// sureDateTime accepts a subset of RFC 3339 date-times that the schema
// engine's date-time format surely accepts: yyyy-mm-ddThh:mm:ss[.frac]
// then Z or ±hh:mm, upper case T and Z, a real calendar date, no leap second.
func sureDateTime(v []byte) bool {
	if len(v) < 20 || v[4] != '-' || v[7] != '-' || v[10] != 'T' || v[13] != ':' || v[16] != ':' {
		return false
	}
	num := func(i int) (int, bool) {
		a, b := v[i], v[i+1]
		if a < '0' || a > '9' || b < '0' || b > '9' {
			return 0, false
		}
		return int(a-'0')*10 + int(b-'0'), true
	}
	y1, ok1 := num(0)
	y2, ok2 := num(2)
	mo, ok3 := num(5)
	d, ok4 := num(8)
	h, ok5 := num(11)
	mi, ok6 := num(14)
	sec, ok7 := num(17)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || h > 23 || mi > 59 || sec > 59 || mo < 1 || mo > 12 || d < 1 {
		return false
	}
	if d > daysIn(time.Month(mo), y1*100+y2) {
		return false
	}
	rest := v[19:]
	if len(rest) > 0 && rest[0] == '.' {
		j := 1
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j == 1 {
			return false
		}
		rest = rest[j:]
	}
	if len(rest) == 1 && rest[0] == 'Z' {
		return true
	}
	if len(rest) != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' {
		return false
	}
	oh, ok1 := num(len(v) - 5)
	om, ok2 := num(len(v) - 2)
	return ok1 && ok2 && oh <= 23 && om <= 59
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// sureEmail accepts a subset of what the schema engine's email format
// accepts: an unquoted dot-atom local part of 1 to 64 bytes, and a host name
// of letters, digits and hyphens as its domain.
func sureEmail(v []byte) bool {
	if len(v) > 254 {
		return false
	}
	at := -1
	for i, c := range v {
		if c == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at < 1 || at > 64 {
		return false
	}
	local, domain := v[:at], v[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' {
		return false
	}
	for i, c := range local {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '.':
			if local[i-1] == '.' {
				return false
			}
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0:
		default:
			return false
		}
	}
	if len(domain) == 0 || len(domain) > 253 {
		return false
	}
	label := 0
	for i, c := range domain {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			label++
		case c == '-':
			if label == 0 || i == len(domain)-1 || domain[i+1] == '.' {
				return false
			}
			label++
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	return label > 0
}

// fastSchema picks the compiled schema by the event's type and
// schema_version, read from the top level of the raw bytes, or returns nil
// when it is not sure.
func fastSchema(b []byte) *compiledSchema {
	s := fastScanner{b: b}
	s.ws()
	if s.peek() != '{' {
		return nil
	}
	s.i++
	var typ []byte
	version := int64(-1)
	for {
		s.ws()
		start := s.i
		key, ok := s.str()
		if !ok || s.i-start-2 != len(key) {
			return nil
		}
		s.ws()
		if s.peek() != ':' {
			return nil
		}
		s.i++
		s.ws()
		switch string(key) {
		case "type":
			vstart := s.i
			if typ, ok = s.str(); !ok || s.i-vstart-2 != len(typ) {
				return nil
			}
		case "schema_version":
			if version, ok = s.integer(); !ok {
				return nil
			}
		default:
			if !s.skip(0) {
				return nil
			}
		}
		if typ != nil && version >= 0 {
			break
		}
		s.ws()
		if s.peek() != ',' {
			return nil
		}
		s.i++
	}
	versions := loadSchemas().byType[string(typ)]
	if version < 1 || version > int64(len(versions)) {
		return nil
	}
	return versions[version-1]
}

// skip passes over one value without judging it strictly; the validating
// pass that follows does.
func (s *fastScanner) skip(depth int) bool {
	if depth > 32 {
		return false
	}
	s.ws()
	switch c := s.peek(); c {
	case '"':
		_, ok := s.str()
		return ok
	case '{', '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.i++
		s.ws()
		if s.peek() == end {
			s.i++
			return true
		}
		for {
			if c == '{' {
				s.ws()
				if _, ok := s.str(); !ok {
					return false
				}
				s.ws()
				if s.peek() != ':' {
					return false
				}
				s.i++
			}
			if !s.skip(depth + 1) {
				return false
			}
			s.ws()
			switch s.peek() {
			case ',':
				s.i++
			case end:
				s.i++
				return true
			default:
				return false
			}
		}
	default:
		start := s.i
		for s.i < len(s.b) && strings.IndexByte(" \t\r\n,}]", s.b[s.i]) < 0 {
			s.i++
		}
		return s.i > start
	}
}

// fastValid reports whether the event surely passes its schema, which it
// returns; nil means not sure.
func fastValid(b []byte) *compiledSchema {
	cs := fastSchema(b)
	if cs == nil || cs.fast == nil {
		return nil
	}
	s := fastScanner{b: b}
	var buf [256]byte
	s.buf = buf[:0]
	if !s.value(cs.fast, nil, reflect.Value{}, reflect.Value{}) {
		return nil
	}
	s.ws()
	if s.i != len(s.b) {
		return nil
	}
	return cs
}

// fastDecode validates and decodes an event in one pass, or returns nil when
// it is not sure the schema accepts the event or encoding/json decodes it.
func fastDecode(b []byte) validator {
	cs := fastSchema(b)
	if cs == nil || cs.bind == nil {
		return nil
	}
	ev := newEvent(cs.info.Type)
	var h Header
	s := fastScanner{b: b}
	var buf [256]byte
	s.buf = buf[:0]
	if !s.value(cs.fast, cs.bind, reflect.ValueOf(&h).Elem(), reflect.ValueOf(ev).Elem()) {
		return nil
	}
	s.ws()
	if s.i != len(s.b) {
		return nil
	}
	ev.setHeader(h)
	return ev
}
