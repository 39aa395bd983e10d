package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

// hostileRaw are values sent in path and query parameters, already
// percent-encoded as they go on the request line (so NUL bytes, invalid
// UTF-8 and encoded slashes reach the server as such).
var hostileRaw = []string{
	// SQL injection
	url.QueryEscape("' OR 1=1--"), url.QueryEscape("'; DROP TABLE orders;--"), url.QueryEscape(`" OR ""="`),
	url.QueryEscape("1; SELECT pg_sleep(10)"), url.QueryEscape(`\'; --`),
	// huge and odd numbers, wrong types
	"1e400", "-1e400", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
	strings.Repeat("9", 400), "-1", "0", "-0", "NaN", "Infinity", "0x10", "1.5", "true", "null",
	"%5B%5D", "%7B%7D", "%5B1%2C2%5D",
	// empty, NUL, invalid UTF-8 (a lone continuation byte, an overlong '/', a surrogate)
	"", "%00", "a%00b", "%FF%FE", "%C0%AF", "%ED%A0%80", "%80",
	// path tricks
	"..", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2f", "%2e%2e", "%2F%2F", "a%2Fb", "%5C..%5Cwindows", "%2Fetc%2Fpasswd",
	// bad time zones and timestamps
	"Local", "Europe%2FNowhere", "..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%2Fusr%2Fshare%2Fzoneinfo%2FUTC", "UTC%2B25", "Etc%2FGMT%2B99",
	"2026-02-30", "2026-11-26T25%3A61%3A00Z", "10000-01-01", "-0001-01-01", "0000-00-00", "2026-11-26T10%3A00%3A00%2B99%3A99",
	"2026-11-26T10%3A00%3A00", "1969-12-31T23%3A59%3A59Z", "9999-12-31T23%3A59%3A59.999999999Z",
	// unicode look-alikes and invisible characters: Cyrillic "о", fullwidth
	// "ＵＴＣ", right-to-left override, zero-width space, BOM
	url.QueryEscape("оrder_placed"), url.QueryEscape("ＵＴＣ"), url.QueryEscape("Europe\u2044London"),
	url.QueryEscape("\u202eevil"), url.QueryEscape("p\u200b-1"), url.QueryEscape("\ufeffUTC"),
	// a cursor-shaped value and base64 of a hostile key
	url.QueryEscape("1." + "eyJpZCI6IicgT1IgMT0xLS0ifQ"), url.QueryEscape("1.%%%"),
	// large values: 64 KiB reach the handler; past the server's 1 MiB
	// header limit net/http refuses the request itself (431).
	strings.Repeat("A", 64<<10), strings.Repeat("%41", 2<<20/3),
}

// hostileJSON are values put in place of every leaf of a valid body.
var hostileJSON = []string{
	`"' OR 1=1--"`, `"'; DROP TABLE orders;--"`, `""`, `"\u0000"`, `"a\u0000b"`, `"\ud800"`, "\"\xff\xfe\"", `"\u202eevil"`,
	`"оrder_placed"`, `"ＵＴＣ"`, `"../../etc/passwd"`, `"2026-02-30T00:00:00Z"`, `"0001-01-01T00:00:00Z"`, `"9999-12-31T23:59:59Z"`,
	`1e400`, `-1e400`, `9223372036854775808`, `-9223372036854775809`, `-1`, `0`, `1.5`, `true`, `null`, `[]`, `{}`,
	`["' OR 1=1--"]`, `{"$ne":null}`,
	`"` + strings.Repeat("x", 10<<20) + `"`,
}

// legitWrites are the tables a mutating route may change when it ACCEPTS a
// request (2xx): a hostile string that is valid input is stored as the
// literal text it is. A rejected request (4xx) may change nothing at all.
// A route missing here that accepts a request and changes a row fails the
// test: add its tables after checking the write is intended.
var legitWrites = map[string][]string{
	"POST /v1/events":                       {"ingest_event_ids"},
	"POST /v1/admin/keys":                   {"api_keys"},
	"DELETE /v1/admin/keys/{id}":            {"api_keys"},
	"POST /v1/alerts/{id}/acknowledge":      {"alerts"},
	"POST /v1/alerts/{id}/resolve":          {"alerts"},
	"PUT /v1/fraud/orders/{order_id}/label": {"fraud_labels"},
}

// TestHostileInput_NeverA5xxNeverAChangedRow drives every route of the
// OpenAPI document, with a key holding every scope, with hostile values in
// every path parameter, every declared query parameter (the others valid),
// unknown and repeated parameters, and, for routes with a body, hostile
// values in every field of a valid body and hostile whole bodies and
// content types. Every answer must be 2xx, 4xx (a problem+json document) or
// the mux's redirect to a cleaned path; none 5xx; and a checksum of every
// table of the test's schema must be unchanged by every request that was
// rejected. The routes come from the document (checked equal to the mux by
// TestOpenAPIMatchesRoutes), so a route added later is covered as it lands.
func TestHostileInput_NeverA5xxNeverAChangedRow(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of requests")
	}
	brokers := testenv.Brokers(t)
	tc, err := client.Dial(client.Options{HostPort: testenv.TemporalAddress(t), Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	// Fresh topics: accepted events must not reach the catalogue topics a
	// running `shoppulse dev` consumes.
	ctx := testenv.Context(t, 10*time.Minute)
	topics := map[string]string{}
	var specs []streaming.TopicSpec
	for _, spec := range streaming.CatalogueTopics(1, 1) {
		topics[spec.Name] = testenv.Name("hostile." + spec.Name)
		specs = append(specs, streaming.TopicSpec{Name: topics[spec.Name], Partitions: 1, ReplicationFactor: 1})
	}
	if _, err := streaming.EnsureTopics(ctx, brokers, specs...); err != nil {
		t.Fatal(err)
	}
	testenv.DropTopicsAtEnd(t, brokers, slices.Collect(maps.Values(topics))...)
	a := newReadAPI(t, Config{Temporal: tc, Topics: topics, RateLimit: -1, Brokers: brokers})
	all := createKey(t, a.DB, "all-scopes", Scopes...)
	seedHostile(t, a.DB)
	snap := newSnapshotter(t, a.DB)
	sendAll(t, a, all, snap)
}

// seedHostile fills the tables the reads look at, so hostile filters meet
// rows: orders, clicks, stock with open alerts, payments, a fraud score.
func seedHostile(t *testing.T, db *store.DB) {
	sd := newSeeder(t, db)
	seedRevenue(t, sd)
	at := day.Add(9 * time.Hour)
	sd.clicks(click("k1", events.TypePageView, "s-1", "c-1", at, ""), click("k2", events.TypeProductView, "s-1", "c-1", at.Add(time.Minute), "p-shoe"))
	sd.stock(at, [3]any{"p-1", "w-1", 20}, [3]any{"p-3", "w-1", 3})
	sd.stock(at.Add(time.Minute), [3]any{"p-1", "w-1", -15}, [3]any{"p-3", "w-1", -3})
	sd.payments(events.Payment{Header: events.Header{EventID: "pay-1", Type: events.TypePaymentAuthorized, SchemaVersion: 1, EventTime: at},
		PaymentID: "pay-1", OrderID: "o-1", CustomerID: "c-1", AmountMinor: 2700, Currency: "GBP", Method: "card"})
}

// hostileRoute is one operation of the document.
type hostileRoute struct {
	method, path string // path as the document writes it
	pathParams   []docParam
	queryParams  []docParam
	body         json.RawMessage // a valid body, nil without one
	bodyCTs      []string
}

type docParam struct {
	Name     string `json:"name"`
	In       string `json:"in"`
	Required bool   `json:"required"`
	Example  any    `json:"example"`
}

func (r hostileRoute) key() string { return r.method + " " + r.path }

// documentRoutes reads the routes, their parameters and a valid body of each
// from the served document, and checks the mux has no route it lacks.
func documentRoutes(t *testing.T, s *Server) []hostileRoute {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters  []docParam `json:"parameters"`
			RequestBody *struct {
				Content map[string]struct {
					Schema json.RawMessage `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(s.openapi, &doc); err != nil {
		t.Fatal(err)
	}
	var full map[string]any
	_ = json.Unmarshal(s.openapi, &full)
	var out []hostileRoute
	for _, path := range slices.Sorted(maps.Keys(doc.Paths)) {
		for _, m := range slices.Sorted(maps.Keys(doc.Paths[path])) {
			op := doc.Paths[path][m]
			r := hostileRoute{method: strings.ToUpper(m), path: path}
			for _, p := range op.Parameters {
				switch p.In {
				case "path":
					r.pathParams = append(r.pathParams, p)
				case "query":
					r.queryParams = append(r.queryParams, p)
				}
			}
			if op.RequestBody != nil {
				r.bodyCTs = slices.Sorted(maps.Keys(op.RequestBody.Content))
				var sch any
				_ = json.Unmarshal(op.RequestBody.Content["application/json"].Schema, &sch)
				r.body, _ = json.Marshal(sampleOf(full, sch, 0))
				if r.key() == "POST /v1/events" {
					// The catalogue's events are validated beyond the
					// envelope's schema: start from a valid order.
					r.body = array(orderJSON("hostile-1", "c-1", time.Now().Add(-time.Minute)))
				}
			}
			out = append(out, r)
		}
	}
	for _, rt := range s.routes {
		if !slices.ContainsFunc(out, func(r hostileRoute) bool { return r.method+" "+r.path == rt.method+" "+docPath(rt.path) }) {
			t.Errorf("%s %s is served but not in the document: it would escape this test", rt.method, rt.path)
		}
	}
	return out
}

// sampleOf builds a valid value of a JSON schema of the document: its
// example, the first enum value, a required-fields object, or a plain value
// of its type.
func sampleOf(doc map[string]any, schema any, depth int) any {
	sch, _ := schema.(map[string]any)
	if sch == nil || depth > 8 {
		return nil
	}
	if ref, ok := sch["$ref"].(string); ok {
		return sampleOf(doc, dig(doc, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...), depth+1)
	}
	if ex, ok := sch["example"]; ok {
		return ex
	}
	if exs, ok := sch["examples"].([]any); ok && len(exs) > 0 {
		return exs[0]
	}
	if en, ok := sch["enum"].([]any); ok && len(en) > 0 {
		return en[0]
	}
	switch sch["type"] {
	case "object":
		out := map[string]any{}
		props, _ := sch["properties"].(map[string]any)
		for name, p := range props {
			out[name] = sampleOf(doc, p, depth+1)
		}
		return out
	case "array":
		return []any{sampleOf(doc, sch["items"], depth+1)}
	case "integer", "number":
		return 1
	case "boolean":
		return true
	case "string":
		if sch["format"] == "date-time" {
			return time.Now().UTC().Format(time.RFC3339)
		}
		return "x"
	}
	return nil
}

// basePath fills the path parameters with their examples (a plausible value
// when the document gives none), except `hostile` in parameter `name`.
func basePath(r hostileRoute, name, hostile string) string {
	p := r.path
	for _, pp := range r.pathParams {
		v := hostile
		if pp.Name != name {
			v = fmt.Sprint(pp.Example)
			if pp.Example == nil {
				v = strings.Trim(samplePath("/{"+pp.Name+"}"), "/")
			}
			if pp.Name == "id" && strings.HasPrefix(r.path, "/v1/admin/keys/") {
				v = "0123456789abcdef" // no such key
			}
			if pp.Name == "file" {
				v = "docs.js"
			}
			v = url.PathEscape(v)
		}
		p = strings.Replace(p, "{"+pp.Name+"}", v, 1)
	}
	return p
}

// baseQuery gives every required query parameter its example, except
// `name`, which gets `hostile` (raw).
func baseQuery(r hostileRoute, name, hostile string) []string {
	var q []string
	for _, qp := range r.queryParams {
		switch {
		case qp.Name == name:
			q = append(q, url.QueryEscape(qp.Name)+"="+hostile)
		case qp.Required:
			q = append(q, url.QueryEscape(qp.Name)+"="+url.QueryEscape(fmt.Sprint(qp.Example)))
		}
	}
	if name != "" && !slices.ContainsFunc(r.queryParams, func(p docParam) bool { return p.Name == name }) {
		q = append(q, name+"="+hostile)
	}
	return q
}

// hostileReq is one request to send.
type hostileReq struct {
	desc, path, query, ct string
	body                  []byte
}

func requestsFor(r hostileRoute) []hostileReq {
	var out []hostileReq
	body, ct := r.body, ""
	if body != nil {
		ct = "application/json"
	}
	add := func(desc, path string, q []string, ct string, b []byte) {
		out = append(out, hostileReq{desc: desc, path: path, query: strings.Join(q, "&"), ct: ct, body: b})
	}
	short := func(v string) string {
		if len(v) > 60 {
			return fmt.Sprintf("%s...(%d bytes)", v[:20], len(v))
		}
		return v
	}
	for _, pp := range r.pathParams {
		for _, h := range hostileRaw {
			add("path "+pp.Name+"="+short(h), basePath(r, pp.Name, h), baseQuery(r, "", ""), ct, body)
		}
	}
	for _, qp := range r.queryParams {
		for _, h := range hostileRaw {
			add("query "+qp.Name+"="+short(h), basePath(r, "", ""), baseQuery(r, qp.Name, h), ct, body)
		}
		// repeated, valueless, and repeated with one empty
		ex := url.QueryEscape(fmt.Sprint(qp.Example))
		name := url.QueryEscape(qp.Name)
		add("query "+qp.Name+" twice", basePath(r, "", ""), append(baseQuery(r, qp.Name, ex), name+"="+ex), ct, body)
		add("query "+qp.Name+" without =", basePath(r, "", ""), append(baseQuery(r, "", ""), name), ct, body)
		add("query "+qp.Name+" empty and set", basePath(r, "", ""), append(baseQuery(r, qp.Name, ""), name+"="+ex), ct, body)
	}
	for _, unknown := range []string{"zzz=1", url.QueryEscape("' OR 1=1--") + "=1", "%00=%00", "%FF=1", "limit%00=1",
		"LIMIT=1", "tz=UTC&tz=" + url.QueryEscape("' OR 1=1--"), "=", "&&&", ";", "a=" + strings.Repeat("B", 10<<20)} {
		add("unknown "+short(unknown), basePath(r, "", ""), append(baseQuery(r, "", ""), unknown), ct, body)
	}
	if r.body == nil {
		return out
	}
	// Every leaf of the valid body replaced by each hostile value.
	var sample any
	_ = json.Unmarshal(r.body, &sample)
	for _, leaf := range leaves(sample, "") {
		for _, h := range hostileJSON {
			b, err := replaceLeaf(sample, leaf, json.RawMessage(h))
			if err != nil {
				panic(err)
			}
			add("body "+leaf+"="+short(h), basePath(r, "", ""), nil, "application/json", b)
		}
		// an unknown field beside it
		b, _ := replaceLeaf(sample, leaf+"_x", json.RawMessage(`"' OR 1=1--"`))
		add("body unknown field "+leaf+"_x", basePath(r, "", ""), nil, "application/json", b)
	}
	deep := func(open, close string, n int) []byte {
		return []byte(strings.Repeat(open, n) + "1" + strings.Repeat(close, n))
	}
	big := bytes.Repeat(append(append([]byte(nil), r.body...), ','), (10<<20)/max(len(r.body), 1)+1)
	whole := map[string][]byte{
		"empty":               {},
		"null":                []byte("null"),
		"array":               []byte("[]"),
		"object":              []byte("{}"),
		"string":              []byte(`"' OR 1=1--"`),
		"number":              []byte("1e400"),
		"truncated":           r.body[:len(r.body)/2],
		"two documents":       append(append([]byte(nil), r.body...), r.body...),
		"duplicate keys":      []byte(`{"a":1,"a":2}`),
		"deep arrays":         deep("[", "]", 100000),
		"deep objects":        deep(`{"a":`, "}", 100000),
		"oversized 10 MB":     append(append([]byte("["), big[:len(big)-1]...), ']'),
		"invalid UTF-8":       append([]byte{0xff, 0xfe, 0xc0, 0xaf}, r.body...),
		"NUL bytes":           append([]byte{0, 0, 0}, r.body...),
		"BOM":                 append([]byte("\ufeff"), r.body...),
		"UTF-16":              []byte{0xff, 0xfe, '{', 0, '}', 0},
		"NUL inside":          bytes.Replace(r.body, []byte(`"`), []byte("\"\x00"), 1),
		"form encoded":        []byte("name=%27+OR+1%3D1--&scopes=admin"),
		"xml":                 []byte(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`),
		"huge number literal": []byte(`[` + strings.Repeat("9", 1<<20) + `]`),
	}
	for _, name := range slices.Sorted(maps.Keys(whole)) {
		add("body "+name, basePath(r, "", ""), nil, "application/json", whole[name])
	}
	for _, wrong := range []string{"", "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
		"application/json; charset=utf-16", "application/jsonx", "application/x-ndjson", "*/*", "ａpplication/json"} {
		add("content type "+fmt.Sprintf("%q", wrong), basePath(r, "", ""), nil, wrong, r.body)
	}
	return out
}

// leaves lists the JSON pointers of a value's leaves (arrays' first item).
func leaves(v any, at string) []string {
	switch x := v.(type) {
	case map[string]any:
		var out []string
		for _, k := range slices.Sorted(maps.Keys(x)) {
			out = append(out, leaves(x[k], at+"/"+k)...)
		}
		if len(out) == 0 {
			out = append(out, at+"/x")
		}
		return out
	case []any:
		if len(x) == 0 {
			return []string{at + "/0"}
		}
		return append([]string{at}, leaves(x[0], at+"/0")...)
	}
	return []string{at}
}

// replaceLeaf returns v with the value at the pointer (created when
// missing) replaced by raw.
func replaceLeaf(v any, ptr string, raw json.RawMessage) ([]byte, error) {
	b, _ := json.Marshal(v)
	var cp any
	_ = json.Unmarshal(b, &cp)
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	if ptr == "" {
		return raw, nil
	}
	cur := cp
	for i, p := range parts {
		last := i == len(parts)-1
		switch c := cur.(type) {
		case map[string]any:
			if last {
				c[p] = raw
			} else {
				cur = c[p]
			}
		case []any:
			var n int
			if _, err := fmt.Sscan(p, &n); err != nil || n >= len(c) {
				if last {
					return json.Marshal([]any{raw})
				}
				return nil, fmt.Errorf("pointer %s", ptr)
			}
			if last {
				c[n] = raw
			} else {
				cur = c[n]
			}
		default:
			return nil, fmt.Errorf("pointer %s meets %T", ptr, cur)
		}
	}
	return json.Marshal(cp)
}

// hostileClient sends requests as built: the request line carries the path
// and query exactly (the Opaque form), redirects are not followed.
var hostileClient = &http.Client{
	Timeout:       time.Minute,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// result is what a request got.
type result struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func send(ctx context.Context, base *url.URL, method, key string, hr hostileReq) result {
	req, err := http.NewRequestWithContext(ctx, method, base.String(), bytes.NewReader(hr.body))
	if err != nil {
		return result{err: err}
	}
	req.URL.Opaque = "//" + base.Host + hr.path
	req.URL.RawQuery = hr.query
	if hr.body == nil {
		req.Body, req.ContentLength = nil, 0
	}
	if hr.ct != "" {
		req.Header.Set("Content-Type", hr.ct)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := hostileClient.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	res := result{status: resp.StatusCode, header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return res // the live stream never ends: its status is the answer
	}
	res.body, res.err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return res
}

// netHTTP431 is net/http's own answer to a request line or headers over the
// server's limit (http.Server.MaxHeaderBytes, 1 MiB): written before any
// handler runs, so it cannot be a problem document.
var netHTTP431 = regexp.MustCompile(`^431 Request Header Fields Too Large`)

// checkAnswer reports what is wrong with an answer: a 5xx, a 4xx that is
// not problem+json, or a redirect other than the mux's to a cleaned path.
func checkAnswer(res result) string {
	switch {
	case res.err != nil:
		return "no answer: " + res.err.Error()
	case res.status >= 500:
		return fmt.Sprintf("%d %s", res.status, res.body)
	case res.status == http.StatusRequestHeaderFieldsTooLarge && netHTTP431.Match(res.body):
		return ""
	case res.status >= 400:
		if ct := res.header.Get("Content-Type"); ct != "application/problem+json" {
			return fmt.Sprintf("%d with Content-Type %q, not application/problem+json: %.200s", res.status, ct, res.body)
		}
		var p Problem
		if err := json.Unmarshal(res.body, &p); err != nil || p.Status != res.status || p.Type == "" || p.Title == "" {
			return fmt.Sprintf("%d: not an RFC 9457 problem (%v): %.200s", res.status, err, res.body)
		}
	case res.status >= 300:
		// ServeMux answers a path with ".." or "//" by a redirect to its
		// cleaned form on the same server (no handler ran), and /docs
		// redirects to /docs/. Nothing may redirect elsewhere.
		loc := res.header.Get("Location")
		if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
			return fmt.Sprintf("%d to %q", res.status, loc)
		}
	case res.status < 200:
		return fmt.Sprintf("%d", res.status)
	}
	return ""
}

func sendAll(t *testing.T, a *readAPI, key string, snap *snapshotter) {
	base, _ := url.Parse(a.URL)
	ctx := testenv.Context(t, 15*time.Minute)
	routes := documentRoutes(t, a.Server)
	total := 0
	for _, r := range routes {
		reqs := requestsFor(r)
		mutating := r.method != http.MethodGet && r.method != http.MethodHead
		before := snap.take(ctx)
		statuses := map[int]int{}
		for _, hr := range reqs {
			res := send(ctx, base, r.method, key, hr)
			total++
			statuses[res.status]++
			if msg := checkAnswer(res); msg != "" {
				t.Errorf("%s %s?%.120s [%s]: %s", r.method, hr.path[:min(len(hr.path), 120)], hr.query, hr.desc, msg)
			}
			if !mutating {
				continue
			}
			after := snap.take(ctx)
			changed := diff(before, after)
			if len(changed) > 0 {
				if res.status < 200 || res.status > 299 {
					t.Errorf("%s [%s] was rejected (%d) but changed %v", r.key(), hr.desc, res.status, changed)
				} else if extra := slices.DeleteFunc(changed, func(tb string) bool { return slices.Contains(legitWrites[r.key()], tb) }); len(extra) > 0 {
					t.Errorf("%s [%s] answered %d and changed %v beyond the route's own tables %v", r.key(), hr.desc, res.status, extra, legitWrites[r.key()])
				}
			}
			before = after
		}
		if !mutating {
			if changed := diff(before, snap.take(ctx)); len(changed) > 0 {
				t.Errorf("GET %s changed %v", r.path, changed)
			}
		}
		t.Logf("%s: %d requests, statuses %v", r.key(), len(reqs), statuses)
	}
	t.Logf("%d routes, %d requests", len(routes), total)
}

// snapshotter checksums every table of the test's schema in one query.
type snapshotter struct {
	db    *store.DB
	query string
}

func newSnapshotter(t *testing.T, db *store.DB) *snapshotter {
	ctx := testenv.Context(t, time.Minute)
	var schema string
	if err := db.Pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Pool.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`, schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(names) < 10 {
		t.Fatalf("tables of %s: %v %v", schema, names, err)
	}
	var parts []string
	for _, n := range names {
		row := "to_jsonb(t)"
		if n == "api_keys" {
			// Excluded column: every authenticated request records its
			// key's last use (TouchAPIKey), rejected or not; that is the
			// audit the admin list shows, not data a request chose.
			row = "to_jsonb(t) - 'last_used_at'"
		}
		id := pgx.Identifier{schema, n}.Sanitize()
		parts = append(parts, fmt.Sprintf("SELECT %s::text, (SELECT coalesce(md5(string_agg((%s)::text, ',' ORDER BY (%s)::text)), '') FROM %s t)",
			"'"+strings.ReplaceAll(n, "'", "''")+"'", row, row, id))
	}
	return &snapshotter{db: db, query: strings.Join(parts, " UNION ALL ")}
}

func (s *snapshotter) take(ctx context.Context) map[string]string {
	rows, err := s.db.Pool.Query(ctx, s.query)
	if err != nil {
		panic(fmt.Sprintf("snapshot: %v", err))
	}
	out := map[string]string{}
	for rows.Next() {
		var n, sum string
		if err := rows.Scan(&n, &sum); err != nil {
			panic(err)
		}
		out[n] = sum
	}
	if err := rows.Err(); err != nil {
		panic(fmt.Sprintf("snapshot: %v", err))
	}
	return out
}

func diff(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}
