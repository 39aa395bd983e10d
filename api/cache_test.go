package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
)

// TestCache_HitsUntilTheHotPathCommitsNewerData runs the revenue series
// against a real redis-server: the second identical request is a hit with
// the same body; a batch committed by the hot path changes the stream
// generation, so the next request misses and sees the new order.
func TestCache_HitsUntilTheHotPathCommitsNewerData(t *testing.T) {
	a := newReadAPI(t, Config{RedisURL: testenv.Redis(t), CacheKeyPrefix: testenv.Name("t") + ":"})
	sd := newSeeder(t, a.DB)
	seedRevenue(t, sd)
	const path = "/v1/revenue?granularity=hour&tz=UTC&from=2026-11-26&to=2026-11-27"
	rd := a.Keys[ScopeRead]
	first := a.do(t, http.MethodGet, path, rd, nil)
	if first.Status != 200 || first.Header.Get("X-Cache") != cacheMiss {
		t.Fatalf("first: %d %s", first.Status, first.Header.Get("X-Cache"))
	}
	second := a.do(t, http.MethodGet, path, rd, nil)
	if second.Header.Get("X-Cache") != cacheHit || string(second.Body) != string(first.Body) {
		t.Fatalf("second: %s\n%s\n%s", second.Header.Get("X-Cache"), first.Body, second.Body)
	}
	// Another parameter is another entry.
	if other := a.do(t, http.MethodGet, path+"&category=hats", rd, nil); other.Header.Get("X-Cache") != cacheMiss {
		t.Errorf("other parameters: %s", other.Header.Get("X-Cache"))
	}

	sd.orders(nil, orderEvent("late", "c-1", day.Add(10*time.Hour+30*time.Minute), "GB", "web", 999,
		events.OrderLine{ProductID: "p-1", Category: "c", Quantity: 1, UnitPriceMinor: 999}))
	third := a.do(t, http.MethodGet, path, rd, nil)
	got := decode[revenueAnswer](t, third.Body)
	if third.Header.Get("X-Cache") != cacheMiss || revenueLines(got.Points) !=
		"2026-11-26T10:00:00Z GBP orders=4 units=9 revenue=6199 avg=1549.75 cancellations=0\n"+
			"2026-11-26T23:00:00Z GBP orders=1 units=8 revenue=800 avg=800 cancellations=0\n" {
		t.Fatalf("after a commit: %s\n%s", third.Header.Get("X-Cache"), revenueLines(got.Points))
	}
	if fourth := a.do(t, http.MethodGet, path, rd, nil); fourth.Header.Get("X-Cache") != cacheHit || string(fourth.Body) != string(third.Body) {
		t.Errorf("fourth: %s", fourth.Header.Get("X-Cache"))
	}
	// A commit to a topic the query does not read leaves the entry valid.
	sd.stock(day, [3]any{"p-1", "w-1", 5})
	if fifth := a.do(t, http.MethodGet, path, rd, nil); fifth.Header.Get("X-Cache") != cacheHit {
		t.Errorf("after an inventory commit: %s", fifth.Header.Get("X-Cache"))
	}
	// The top list and the funnel are cached the same way.
	for _, p := range []string{"/v1/top/products?from=2026-11-26&to=2026-11-27", "/v1/funnel?tz=UTC", "/v1/payments?tz=UTC"} {
		a.do(t, http.MethodGet, p, rd, nil)
		if ans := a.do(t, http.MethodGet, p, rd, nil); ans.Header.Get("X-Cache") != cacheHit {
			t.Errorf("%s twice: %s", p, ans.Header.Get("X-Cache"))
		}
	}

	m := scrape(t, a)
	for _, want := range []string{
		`shoppulse_api_cache_lookups_total{query="revenue",result="hit"} 3`,
		`shoppulse_api_cache_lookups_total{query="revenue",result="miss"} 3`,
		`shoppulse_api_cache_lookups_total{query="top",result="hit"} 1`,
		`shoppulse_api_cache_lookups_total{query="funnel",result="miss"} 1`,
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %s:\n%s", want, grep(m, "cache"))
		}
	}
}

func TestCache_OffAnswersTheSame(t *testing.T) {
	a := newReadAPI(t, Config{})
	seedRevenue(t, newSeeder(t, a.DB))
	const path = "/v1/revenue?granularity=hour&tz=UTC&from=2026-11-26&to=2026-11-27"
	for i := 0; i < 2; i++ {
		ans := a.do(t, http.MethodGet, path, a.Keys[ScopeRead], nil)
		if ans.Header.Get("X-Cache") != cacheBypass || !strings.Contains(string(ans.Body), `"revenue_minor":5200`) {
			t.Fatalf("%d: %s %s", i, ans.Header.Get("X-Cache"), ans.Body)
		}
	}
	if m := scrape(t, a); !strings.Contains(m, `shoppulse_api_cache_lookups_total{query="revenue",result="bypass"} 2`+"\n") {
		t.Errorf("metrics:\n%s", grep(m, "cache"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return fmt.Sprint(strings.Join(out, "\n"))
}
