package api

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/internal/testenv"
)

// samplePath fills a route's path parameters with plausible values.
func samplePath(pattern string) string {
	r := strings.NewReplacer("{id}", "1", "{customer_id}", "c-1", "{order_id}", "o-1", "{dimension}", "products",
		"{type}", "order_placed", "{file...}", "", "{po_id}", "po-1", "{product_id}", "sku-1")
	p := r.Replace(pattern)
	if strings.HasPrefix(pattern, "/v1/admin/keys/") {
		p = "/v1/admin/keys/0123456789abcdef"
	}
	return p
}

// TestScopeMatrix sends every route a request with no key, a revoked key,
// and a key of each single scope: a public route never asks for a key; any
// other answers 401 without a valid key, 403 with a key lacking its scope,
// and gets past auth only with its scope. Every answer is also checked
// against the document (statuses and schemas).
func TestScopeMatrix(t *testing.T) {
	a := newReadAPI(t, Config{})
	revoked := createKey(t, a.DB, "revoked", Scopes...)
	id, _, _ := parseToken(revoked)
	if _, err := a.DB.RevokeAPIKey(testenv.Context(t, time.Minute), id); err != nil {
		t.Fatal(err)
	}
	authStatus := func(st int) bool { return st == http.StatusUnauthorized || st == http.StatusForbidden }
	for _, rt := range a.Server.routes {
		path := samplePath(rt.path)
		var body any
		if rt.method != http.MethodGet {
			body = map[string]any{}
		}
		name := rt.method + " " + rt.path
		ans := a.do(t, rt.method, path, "", body)
		if rt.scope == "" {
			if authStatus(ans.Status) {
				t.Errorf("%s is public but answered %d without a key", name, ans.Status)
			}
		} else if ans.Status != http.StatusUnauthorized || ans.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s without a key: %d", name, ans.Status)
		}
		if rt.scope != "" {
			if ans := a.do(t, rt.method, path, revoked, body); ans.Status != http.StatusUnauthorized {
				t.Errorf("%s with a revoked key: %d", name, ans.Status)
			}
		}
		for _, sc := range Scopes {
			ans := a.do(t, rt.method, path, a.Keys[sc], body)
			switch {
			case rt.scope == "" || rt.scope == sc:
				if authStatus(ans.Status) {
					t.Errorf("%s with scope %s: %d %s", name, sc, ans.Status, ans.Body)
				}
			case ans.Status != http.StatusForbidden:
				t.Errorf("%s needs %s; with only %s it answered %d", name, rt.scope, sc, ans.Status)
			}
		}
	}
}

func TestRateLimitPerKey(t *testing.T) {
	a := newReadAPI(t, Config{RateLimit: 0.001, RateBurst: 2})
	for i := 0; i < 2; i++ {
		if ans := a.do(t, http.MethodGet, "/v1/alerts", a.Keys[ScopeRead], nil); ans.Status != 200 {
			t.Fatalf("request %d: %d", i, ans.Status)
		}
	}
	ans := a.do(t, http.MethodGet, "/v1/alerts", a.Keys[ScopeRead], nil)
	p := decode[Problem](t, ans.Body)
	// One token per 1000 s: the next is at most 1000 s away.
	if ans.Status != http.StatusTooManyRequests || p.Type != ProblemRateLimited || ans.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d %s %s", ans.Status, ans.Header.Get("Retry-After"), ans.Body)
	}
	if ra := ans.Header.Get("Retry-After"); ra < "1" || len(ra) > 4 || p.RetryAfterSeconds < 900 || p.RetryAfterSeconds > 1000 {
		t.Errorf("Retry-After %s (%d s)", ra, p.RetryAfterSeconds)
	}
	// Another key has its own bucket.
	if ans := a.do(t, http.MethodPut, "/v1/fraud/orders/o-1/label", a.Keys[ScopeOperate], LabelRequest{Label: "fraud"}); ans.Status != http.StatusNotFound {
		t.Errorf("other key: %d %s", ans.Status, ans.Body)
	}
	if m := scrape(t, a); !strings.Contains(m, "shoppulse_api_rate_limited_total 1\n") {
		t.Errorf("metrics:\n%s", m)
	}
}

func scrape(t testing.TB, a *readAPI) string {
	t.Helper()
	ans := a.do(t, http.MethodGet, "/metrics", "", nil)
	if ans.Status != 200 {
		t.Fatalf("/metrics: %d", ans.Status)
	}
	return string(ans.Body)
}

func TestDocsPageIsServedWithoutExternalAssets(t *testing.T) {
	a := newReadAPI(t, Config{})
	resp, err := http.Get(a.URL + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `<script src="/docs/docs.js">`) {
		t.Fatalf("/docs: %d %s", resp.StatusCode, b)
	}
	ext := regexp.MustCompile(`(src|href)="(https?:)?//`)
	for _, f := range []string{"/docs/", "/docs/docs.js", "/docs/docs.css"} {
		ans := a.do(t, http.MethodGet, f, "", nil)
		if ans.Status != 200 || ext.Match(ans.Body) || strings.Contains(string(ans.Body), "fetch(\"http") {
			t.Errorf("%s: %d, or it loads something from elsewhere", f, ans.Status)
		}
	}
}

func TestReadyzReportsEachDependency(t *testing.T) {
	a := newReadAPI(t, Config{RedisURL: testenv.Redis(t), CacheKeyPrefix: testenv.Name("t") + ":"})
	r := decode[Readiness](t, a.do(t, http.MethodGet, "/readyz", "", nil).Body)
	if r.Status != "ready" || r.Checks["postgres"].Status != "up" || r.Checks["kafka"].Status != "up" ||
		r.Checks["redis"].Status != "up" || r.Checks["temporal"].Status != "not_configured" {
		t.Errorf("all up: %s", mustJSON(r))
	}
	down := newReadAPI(t, Config{Brokers: []string{"127.0.0.1:1"}, RedisURL: "redis://127.0.0.1:1/0"})
	ans := down.do(t, http.MethodGet, "/readyz", "", nil)
	r = decode[Readiness](t, ans.Body)
	if ans.Status != http.StatusServiceUnavailable || r.Status != "not_ready" || r.Checks["kafka"].Status != "down" || r.Checks["kafka"].Error == "" ||
		r.Checks["redis"].Status != "down" || r.Checks["postgres"].Status != "up" {
		t.Errorf("kafka and redis down: %d %s", ans.Status, ans.Body)
	}
	// Reads work without the cache: a Redis that is down is bypassed.
	ans = down.do(t, http.MethodGet, "/v1/revenue?tz=UTC", down.Keys[ScopeRead], nil)
	if ans.Status != 200 || ans.Header.Get("X-Cache") != cacheError {
		t.Errorf("revenue with redis down: %d %s %s", ans.Status, ans.Header.Get("X-Cache"), ans.Body)
	}
}

func TestWorkflowRoutesAnswer503WithoutTemporal(t *testing.T) {
	a := newReadAPI(t, Config{})
	for _, p := range []string{"/v1/schedules", "/v1/workflows/runs"} {
		ans := a.do(t, http.MethodGet, p, a.Keys[ScopeRead], nil)
		if pr := decode[Problem](t, ans.Body); ans.Status != http.StatusServiceUnavailable || pr.Type != ProblemUnavailable || ans.Header.Get("Retry-After") == "" {
			t.Errorf("%s: %d %s", p, ans.Status, ans.Body)
		}
	}
}
