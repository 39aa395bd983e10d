package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// envelope is the wire form of every event: the header's fields and the
// type's own fields under data.
type envelope struct {
	Header
	Data json.RawMessage `json:"data"`
}

// Encode returns the wire form of an event.
func Encode(ev Event) ([]byte, error) {
	data, err := json.Marshal(ev) // Header is tagged "-": only the type's fields
	if err != nil {
		return nil, fmt.Errorf("encode %s data: %w", ev.Head().Type, err)
	}
	b, err := json.Marshal(envelope{Header: ev.Head(), Data: data})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", ev.Head().Type, err)
	}
	return b, nil
}

// Decode parses and validates one event of any type and schema version of
// the catalogue, in four steps: size and UTF-8 checks; the JSON Schema of the
// event's type and version; the typed decode; the Go checks of what a schema
// cannot say (sums, times relative to now, cross-field rules). now is the
// receiver's clock, used to reject event times too far in the future.
//
// The event is a pointer to the type's struct (*OrderPlaced, *PageView...).
// Errors are a *ValidationError naming each bad field by its JSON path, such
// as $.data.lines[2].quantity. Decode never panics, whatever the input.
//
// The schema step and the typed decode run first as the one-pass fast path
// of fastpath.go, which takes only events it is sure the schema accepts and
// fills the struct as encoding/json would; anything else goes through
// decodeStrict, the full schema engine and encoding/json, which decide and
// word the errors exactly as before.
func Decode(b []byte, now time.Time) (Event, error) {
	if len(b) <= MaxEventBytes && utf8.Valid(b) {
		if ev := fastDecode(b); ev != nil {
			if err := ev.Validate(now); err != nil {
				return nil, err
			}
			return ev, nil
		}
	}
	return decodeStrict(b, now)
}

// decodeStrict is Decode with every event checked by the full JSON Schema
// engine: the reference the fast path is tested against.
func decodeStrict(b []byte, now time.Time) (Event, error) {
	verr := &ValidationError{}
	switch {
	case len(b) > MaxEventBytes:
		verr.add("$", "event is %d bytes, more than the limit of %d", len(b), MaxEventBytes)
		return nil, verr
	case !utf8.Valid(b):
		verr.add("$", "event is not valid UTF-8")
		return nil, verr
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		verr.add("$", "%s", jsonErrorReason(err))
		return nil, verr
	}
	cs := schemaFor(verr, doc)
	if cs == nil {
		return nil, verr
	}
	if cs.validate(verr, doc); len(verr.Fields) > 0 {
		return nil, verr
	}
	ev := newEvent(cs.info.Type)
	in := wireIn{Data: ev}
	if err := json.Unmarshal(b, &in); err != nil {
		path := fractionPath(doc, cs.raw, nil)
		var te *time.ParseError
		switch {
		case errors.As(err, &te):
			verr.add("$.time", "want an RFC 3339 time with a zone, such as 2026-03-02T11:59:00Z, got %s%s",
				show(valueAt(doc, []string{"time"})), strings.TrimPrefix(te.Message, ":"))
		case path != "":
			verr.add(path, "want an integer without a fraction or exponent, got %s", show(valueAt(doc, splitPath(path))))
		default:
			verr.add(jsonErrorPath("$", err), "%s", jsonErrorReason(err))
		}
		return nil, verr
	}
	ev.setHeader(in.Header)
	if err := ev.Validate(now); err != nil {
		return nil, err
	}
	return ev, nil
}

// wireIn decodes an envelope and its data in one pass: Data holds a pointer
// to the type's struct, which encoding/json fills in place.
type wireIn struct {
	Header
	Data any `json:"data"`
}

// schemaFor picks the schema of the event's type and version, or adds why
// it cannot to verr and returns nil.
func schemaFor(verr *ValidationError, doc any) *compiledSchema {
	obj, ok := doc.(map[string]any)
	if !ok {
		verr.add("$", "want an event object, got %s", show(doc))
		return nil
	}
	rawType, ok := obj["type"]
	if !ok {
		verr.add("$.type", "required: the event type, such as %q", TypePageView)
		return nil
	}
	typ, _ := rawType.(string)
	versions := loadSchemas().byType[typ]
	if len(versions) == 0 {
		verr.add("$.type", "unknown event type %s", show(rawType))
		return nil
	}
	rawVersion, ok := obj["schema_version"]
	if !ok {
		verr.add("$.schema_version", "required: an integer 1 to %d for %s", len(versions), typ)
		return nil
	}
	n, _ := rawVersion.(json.Number)
	v, err := strconv.Atoi(string(n))
	if err != nil || v < 1 || v > len(versions) {
		verr.add("$.schema_version", "want an integer 1 to %d for %s, got %s", len(versions), typ, show(rawVersion))
		return nil
	}
	return versions[v-1]
}

// splitPath turns a path made by fractionPath back into a location.
func splitPath(path string) []string {
	path = strings.TrimPrefix(path, "$")
	var loc []string
	for path != "" {
		switch path[0] {
		case '.':
			path = path[1:]
			i := strings.IndexAny(path, ".[")
			if i < 0 {
				i = len(path)
			}
			loc, path = append(loc, path[:i]), path[i:]
		case '[':
			i := strings.IndexByte(path, ']')
			if i < 0 {
				return loc
			}
			loc, path = append(loc, path[1:i]), path[i+1:]
		default:
			return loc
		}
	}
	return loc
}
