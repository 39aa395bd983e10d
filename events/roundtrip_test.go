package events

import (
	"bytes"
	"testing"
)

func TestRoundTripEveryType(t *testing.T) {
	evs := validEvents()
	for _, typ := range Types() {
		for v := 1; v <= LatestVersion(typ); v++ {
			name := typ + "/v" + string(rune('0'+v))
			if _, ok := evs[name]; !ok {
				t.Errorf("no valid example of %s", name)
			}
		}
	}
	for name, ev := range evs {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(ev)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b, testNow)
			if err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			again, err := Encode(got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, again) {
				t.Fatalf("round trip changed the event:\n%s\n%s", b, again)
			}
			if got.Topic() != ev.Topic() || !bytes.Equal(got.Key(), ev.Key()) || len(got.Key()) == 0 {
				t.Fatalf("topic/key %s/%s, want %s/%s", got.Topic(), got.Key(), ev.Topic(), ev.Key())
			}
		})
	}
}
