package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzReadBody feeds arbitrary bodies to both body readers: they never panic,
// never return more than the limit, and every element the array reader
// returns is valid JSON.
func FuzzReadBody(f *testing.F) {
	f.Add([]byte(`[{"id":"e-1"},{"id":"e-2"}]`))
	f.Add([]byte("{\"id\":1}\n\n{\"id\":2}\n"))
	f.Add([]byte(`[`))
	f.Add([]byte(`[] []`))
	f.Add([]byte(`[1,2,3,4,5,6]`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, body []byte) {
		const max = 5
		raws, err := readJSONArray(bytes.NewReader(body), max)
		if err == nil {
			if len(raws) > max {
				t.Fatalf("array reader returned %d elements, limit %d", len(raws), max)
			}
			for _, r := range raws {
				if !json.Valid(r) {
					t.Fatalf("array reader returned invalid JSON %q", r)
				}
			}
		} else {
			var me *malformedError
			if !errors.As(err, &me) && !errors.Is(err, errTooManyEvents) {
				t.Fatalf("array reader: unexpected error type %T: %v", err, err)
			}
		}
		lines, err := readNDJSON(bytes.NewReader(body), max)
		if err == nil && len(lines) > max {
			t.Fatalf("NDJSON reader returned %d lines, limit %d", len(lines), max)
		}
	})
}
