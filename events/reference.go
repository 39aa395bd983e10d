package events

import "time"

// DecodeReference is Decode without the fast path: every event goes through
// the full JSON Schema engine and encoding/json. It gives the same answers as
// Decode (the differential tests prove it) and exists for checkers that must
// not share the hot path's code, such as the oracle.
func DecodeReference(b []byte, now time.Time) (Event, error) {
	return decodeStrict(b, now)
}
