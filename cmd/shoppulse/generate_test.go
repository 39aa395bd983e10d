package main

import (
	"strings"
	"testing"
	"time"
)

func TestShopRunFlags(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	base := shopFlags{now: now, rate: 50, seed: 1, customers: 2000, products: 300, warehouses: 2, shopID: "shop-1"}
	for _, c := range []struct {
		name      string
		edit      func(*shopFlags)
		start     time.Time
		speed     float64
		wantError string
	}{
		{name: "real time by default, warmed up", edit: func(*shopFlags) {}, start: now.Add(-liveWarmup), speed: 1},
		{name: "history fill", edit: func(f *shopFlags) { f.from, f.days, f.daysSet = "2026-08-01", 90, true },
			start: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC), speed: 0},
		{name: "history up to now", edit: func(f *shopFlags) { f.from = "2026-11-01" },
			start: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), speed: 0},
		{name: "the last days", edit: func(f *shopFlags) { f.days, f.daysSet = 30, true }, start: now.Add(-30 * 24 * time.Hour), speed: 0},
		{name: "compressed history", edit: func(f *shopFlags) { f.from, f.speed, f.speedSet = "2026-11-20", 60, true },
			start: time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), speed: 60},
		{name: "as fast as possible with a count", edit: func(f *shopFlags) { f.rate, f.count = 0, 2000 },
			start: now.Add(-200 * time.Second), speed: 0},
		{name: "as fast as possible without an end", edit: func(f *shopFlags) { f.rate = 0 }, wantError: "needs --from"},
		{name: "history into the future", edit: func(f *shopFlags) { f.from, f.days, f.daysSet = "2026-11-01", 90, true }, wantError: "in the future"},
		{name: "compressed from now", edit: func(f *shopFlags) { f.speed, f.speedSet = 60, true }, wantError: "simulate the future"},
		{name: "from in the future", edit: func(f *shopFlags) { f.from = "2027-01-01" }, wantError: "not in the past"},
		{name: "bad date", edit: func(f *shopFlags) { f.from = "yesterday" }, wantError: "want 2006-01-02"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := base
			c.edit(&f)
			shop, rc, err := shopRun(f)
			if c.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantError) {
					t.Fatalf("error %v, want one containing %q", err, c.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !shop.Now().Equal(c.start) || rc.Speed != c.speed {
				t.Errorf("start %s speed %v, want %s and %v", shop.Now(), rc.Speed, c.start, c.speed)
			}
		})
	}
}
