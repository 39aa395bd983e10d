package store

import (
	"encoding/json"
	"testing"
)

func TestFraudFeaturesAppendJSON_RoundTripsLikeEncodingJSON(t *testing.T) {
	for _, f := range []FraudFeatures{
		{},
		{CustomerOrders1m: 1, CustomerOrders1h: 2, CustomerOrders24h: 3, CardOrders1m: 4, CardOrders1h: 5, CardOrders24h: 6,
			IPOrders1m: 7, IPOrders1h: 8, IPOrders24h: 9, DeviceOrders1m: 10, DeviceOrders1h: 11, DeviceOrders24h: 12,
			IPCards1h: 13, IPCards24h: 14, AmountMinor: 1e13, CustomerPriorOrders: 15, AmountRatio: 1.0 / 3,
			AmountZ: -2.5e-7, CountryMismatch: 1, AccountAgeHours: 1e21, NewDevice: 1},
	} {
		var got, want FraudFeatures
		if err := json.Unmarshal(appendFeaturesJSON(nil, f), &got); err != nil {
			t.Fatalf("%s: %v", appendFeaturesJSON(nil, f), err)
		}
		std, _ := json.Marshal(f)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if got != want || got != f {
			t.Fatalf("round trip: want %+v, got %+v", want, got)
		}
		var a, b map[string]any
		_ = json.Unmarshal(appendFeaturesJSON(nil, f), &a)
		_ = json.Unmarshal(std, &b)
		if len(a) != len(b) {
			t.Fatalf("keys: %d vs %d", len(a), len(b))
		}
	}
}
