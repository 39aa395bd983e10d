package events

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// The fast path fills the event's struct while it validates, instead of a
// second pass by encoding/json. fastBind maps each property of a compiled
// schema to the struct field encoding/json would fill, found by the same
// rules for the struct shapes of the catalogue (json tags, fields promoted
// from embedded structs, "-" skipped); TestFastPathAgreesWithSchema checks
// that the result is deeply equal to encoding/json's.

// fastBind says where the values of one fastNode go.
type fastBind struct {
	field []int       // index path of the field in the parent struct
	props []*fastBind // objects: per child of the node
	items *fastBind   // arrays
	slice reflect.Type
	time  bool // a time.Time, filled by its UnmarshalJSON as encoding/json does
	ptr   bool // a pointer to the value (*bool)
}

var timeType = reflect.TypeFor[time.Time]()

// bindRoot binds an envelope schema: the header's properties to Header, data
// to the event's struct.
func bindRoot(n *fastNode, ev reflect.Type) (*fastBind, error) {
	if n.kind != fastObject {
		return nil, fmt.Errorf("envelope is not an object")
	}
	root := &fastBind{props: make([]*fastBind, len(n.children))}
	header := reflect.TypeFor[Header]()
	for name, i := range n.props {
		var err error
		if name == "data" {
			root.props[i], err = bindValue(n.children[i], ev)
		} else {
			root.props[i], err = bindField(n.children[i], header, name)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return root, nil
}

func bindField(n *fastNode, t reflect.Type, name string) (*fastBind, error) {
	f, ok := jsonField(t, name)
	if !ok {
		return nil, fmt.Errorf("no field of %s for %q", t, name)
	}
	b, err := bindValue(n, f.Type)
	if err != nil {
		return nil, fmt.Errorf("%s.%s: %w", t, f.Name, err)
	}
	b.field = f.Index
	return b, nil
}

// bindValue binds a node to a Go type whose kind it can fill.
func bindValue(n *fastNode, t reflect.Type) (*fastBind, error) {
	b := &fastBind{}
	if t.Kind() == reflect.Pointer && n.kind == fastBoolean {
		b.ptr, t = true, t.Elem()
	}
	switch {
	case n.kind == fastString && n.format == formatDateTime && t == timeType:
		b.time = true
	case n.kind == fastString && t.Kind() == reflect.String,
		n.kind == fastInteger && (t.Kind() == reflect.Int64 || t.Kind() == reflect.Int && t.Size() == 8),
		n.kind == fastBoolean && t.Kind() == reflect.Bool:
	case n.kind == fastObject && t.Kind() == reflect.Struct && t != timeType:
		b.props = make([]*fastBind, len(n.children))
		for name, i := range n.props {
			var err error
			if b.props[i], err = bindField(n.children[i], t, name); err != nil {
				return nil, err
			}
		}
	case n.kind == fastArray && t.Kind() == reflect.Slice:
		items, err := bindValue(n.items, t.Elem())
		if err != nil {
			return nil, err
		}
		b.items, b.slice = items, t
	default:
		return nil, fmt.Errorf("cannot fill a %s from a schema %d", t, n.kind)
	}
	return b, nil
}

// jsonField finds the field encoding/json fills for a key: the shallowest
// field whose name is key, following untagged embedded structs. Two at the
// same depth, or a case-insensitive match only, is not supported.
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	type level struct {
		t     reflect.Type
		index []int
	}
	cur := []level{{t, nil}}
	for len(cur) > 0 {
		var found []reflect.StructField
		var next []level
		for _, l := range cur {
			for i := range l.t.NumField() {
				f := l.t.Field(i)
				tag := f.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				idx := append(append([]int(nil), l.index...), i)
				if f.Anonymous && name == "" {
					if f.Type.Kind() == reflect.Struct {
						next = append(next, level{f.Type, idx})
					}
					continue
				}
				if !f.IsExported() {
					continue
				}
				if name == "" {
					name = f.Name
				}
				if name == key {
					if strings.Contains(","+opts+",", ",string,") {
						return reflect.StructField{}, false // quoted numbers: not supported
					}
					f.Index = idx
					found = append(found, f)
				}
			}
		}
		switch len(found) {
		case 1:
			return found[0], true
		case 0:
			cur = next
		default:
			return reflect.StructField{}, false
		}
	}
	return reflect.StructField{}, false
}

// fieldOf returns the field of a struct value, addressable.
func fieldOf(v reflect.Value, index []int) reflect.Value {
	if len(index) == 1 {
		return v.Field(index[0])
	}
	return v.FieldByIndex(index)
}
