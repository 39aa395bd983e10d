package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shoppulse/shoppulse/store"
)

// ProblemInvalidParameters is a 400 naming each bad query or path parameter.
const ProblemInvalidParameters = problemBase + "invalid-parameters"

// params reads and validates a request's parameters, collecting one error
// per bad field, so a client learns every mistake at once. Each reader marks
// its parameter used; a query parameter no reader asked for is an error too
// (a typo such as granulrity=hour must not silently fall back to a default).
type params struct {
	r    *http.Request
	q    map[string][]string
	used map[string]bool
	errs []ProblemError
}

func newParams(r *http.Request) *params {
	return &params{r: r, q: r.URL.Query(), used: map[string]bool{}}
}

func (p *params) fail(name, format string, args ...any) {
	for _, e := range p.errs {
		if e.Path == name {
			return // the first reason per field is enough
		}
	}
	p.errs = append(p.errs, ProblemError{Path: name, Reason: fmt.Sprintf(format, args...)})
}

// raw returns the parameter's single value; repeating it is an error.
func (p *params) raw(name string) (string, bool) {
	p.used[name] = true
	vs, ok := p.q[name]
	if !ok {
		return "", false
	}
	if len(vs) > 1 {
		p.fail(name, "given %d times; give it once", len(vs))
		return "", false
	}
	if !plainText(vs[0]) {
		p.fail(name, "not valid UTF-8, or contains a NUL character")
		return "", false
	}
	return vs[0], true
}

// plainText reports whether v is valid UTF-8 without NUL: PostgreSQL
// refuses anything else in a text value, which would surface as a 500.
func plainText(v string) bool {
	return utf8.ValidString(v) && !strings.ContainsRune(v, 0)
}

// path returns a path parameter, which must be non-empty and at most max
// bytes.
func (p *params) path(name string, max int) string {
	v := p.r.PathValue(name)
	if v == "" || len(v) > max {
		p.fail(name, "want 1 to %d characters", max)
	} else if !plainText(v) {
		p.fail(name, "not valid UTF-8, or contains a NUL character")
	}
	return v
}

// str returns an optional text parameter of at most max bytes.
func (p *params) str(name string, max int) string {
	v, ok := p.raw(name)
	if !ok {
		return ""
	}
	if v == "" || len(v) > max {
		p.fail(name, "want 1 to %d characters", max)
		return ""
	}
	return v
}

var (
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
	countryRE  = regexp.MustCompile(`^[A-Z]{2}$`)
)

// match returns an optional parameter that must match re.
func (p *params) match(name string, re *regexp.Regexp, what string) string {
	v, ok := p.raw(name)
	if !ok {
		return ""
	}
	if !re.MatchString(v) {
		p.fail(name, "%q is not %s", v, what)
		return ""
	}
	return v
}

// enum returns a parameter that must be one of allowed, def when absent.
func (p *params) enum(name, def string, allowed ...string) string {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	if !slices.Contains(allowed, v) {
		p.fail(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
		return def
	}
	return v
}

// intIn returns an integer parameter in [min, max], def when absent.
func (p *params) intIn(name string, def, min, max int) int {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < min || n > max {
		p.fail(name, "%q is not an integer from %d to %d", v, min, max)
		return def
	}
	return n
}

// floatIn returns a number parameter in [min, max], def when absent.
func (p *params) floatIn(name string, def, min, max float64) float64 {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < min || f > max {
		p.fail(name, "%q is not a number from %g to %g", v, min, max)
		return def
	}
	return f
}

// boolean returns a true/false parameter, def when absent.
func (p *params) boolean(name string, def bool) bool {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	p.fail(name, "%q is not true or false", v)
	return def
}

// zone returns the IANA time zone of the tz parameter. Series need it: a
// day or an hour starts at a local time, and the API never guesses whose.
func (p *params) zone(required bool) *time.Location {
	v, ok := p.raw("tz")
	if !ok {
		if required {
			p.fail("tz", "required: an IANA time zone such as UTC or Europe/London; buckets start at its local times")
		}
		return time.UTC
	}
	if v == "" || v == "Local" || strings.ContainsAny(v, " \\") {
		p.fail("tz", "%q is not an IANA time zone", v)
		return time.UTC
	}
	loc, err := time.LoadLocation(v)
	if err != nil {
		p.fail("tz", "%q is not an IANA time zone", v)
		return time.UTC
	}
	return loc
}

// instant returns a time parameter: RFC 3339 with an offset (Z or ±hh:mm),
// or a date (YYYY-MM-DD) meaning its midnight in loc. def when absent.
func (p *params) instant(name string, def time.Time, loc *time.Location) time.Time {
	v, ok := p.raw(name)
	if !ok {
		return def
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	if d, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		return d
	}
	p.fail(name, "%q is neither RFC 3339 with an offset (2026-11-26T10:00:00Z) nor a date (2026-11-26)", v)
	return def
}

// date returns an optional calendar date parameter (YYYY-MM-DD) as its
// midnight UTC, zero when absent: the as-of dates of the batch side's
// results are UTC days.
func (p *params) date(name string) time.Time {
	v, ok := p.raw(name)
	if !ok {
		return time.Time{}
	}
	d, err := time.Parse(time.DateOnly, v)
	if err != nil {
		p.fail(name, "%q is not a date (YYYY-MM-DD)", v)
		return time.Time{}
	}
	return d
}

// limit returns the page size: 1 to 500, 50 by default.
func (p *params) limit() int { return p.intIn("limit", 50, 1, 500) }

// cursorVersion prefixes every cursor, so a change of a list's key can
// refuse old cursors instead of misreading them.
const cursorVersion = "1."

// cursor decodes the opaque cursor parameter into dst (a pointer to the
// list's key) and reports whether there was one.
func (p *params) cursor(dst any) bool {
	v, ok := p.raw("cursor")
	if !ok {
		return false
	}
	rest, found := strings.CutPrefix(v, cursorVersion)
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if found && err == nil {
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if dec.Decode(dst) == nil {
			return true
		}
	}
	p.fail("cursor", "not a cursor of this list: pass next_cursor from the previous page unchanged")
	return false
}

// encodeCursor is the opaque cursor of a list key.
func encodeCursor(key any) string {
	b, err := json.Marshal(key)
	if err != nil {
		panic(fmt.Sprintf("encode cursor %T: %v", key, err)) // keys are plain structs
	}
	return cursorVersion + base64.RawURLEncoding.EncodeToString(b)
}

// ok reports whether every parameter was valid; otherwise it writes the 400
// naming each bad one. Call it after reading every parameter.
func (p *params) ok(w http.ResponseWriter) bool {
	var unknown []string
	for name := range p.q {
		if !p.used[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		p.fail(name, "unknown parameter")
	}
	if len(p.errs) == 0 {
		return true
	}
	names := make([]string, len(p.errs))
	for i, e := range p.errs {
		names[i] = e.Path
	}
	writeProblem(w, p.r, Problem{Type: ProblemInvalidParameters, Title: "Invalid parameters", Status: http.StatusBadRequest,
		Detail: "bad parameter(s): " + strings.Join(names, ", "), Errors: p.errs})
	return false
}

// timeRange reads from and to (to after from, at most maxSpan apart),
// defaulting to the span def ending now.
func (p *params) timeRange(now time.Time, def, maxSpan time.Duration, loc *time.Location) (from, to time.Time) {
	to = p.instant("to", now, loc)
	from = p.instant("from", to.Add(-def), loc)
	if !to.After(from) {
		p.fail("to", "must be after from")
	} else if to.Sub(from) > maxSpan {
		p.fail("from", "the range is longer than %s", maxSpan)
	}
	return from, to
}

// page is a list answer: the items and, when there are more, the cursor of
// the next page.
type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// pageOf cuts rows (fetched with limit+1) to limit and sets the cursor from
// the last item kept.
func pageOf[R, T any](rows []R, limit int, conv func(R) T, key func(R) any) page[T] {
	out := page[T]{Items: make([]T, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			c := encodeCursor(key(rows[i-1]))
			out.NextCursor = &c
			break
		}
		out.Items = append(out.Items, conv(r))
	}
	return out
}

// servePage answers a keyset-paginated list: when the parameters are valid
// it fetches one row more than the page's limit (at *limit, a field of *q)
// to learn whether a next page exists, and writes the page of conv(row)
// with a cursor made by key from the last row shown.
func servePage[Q, R, T any](s *Server, w http.ResponseWriter, r *http.Request, p *params,
	fetch func(context.Context, Q) ([]R, error), q *Q, limit *int, conv func(R) T, key func(R) any) {
	if !p.ok(w) {
		return
	}
	lim := *limit
	*limit = lim + 1
	rows, err := fetch(r.Context(), *q)
	if err != nil {
		s.internal(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, pageOf(rows, lim, conv, key))
}

// timeCursor is the position after which a list ordered by time (then id)
// resumes, from the cursor parameter; nil on the first page.
func (p *params) timeCursor() *store.TimeKey {
	var k timeKey
	if !p.cursor(&k) {
		return nil
	}
	return &store.TimeKey{At: k.At, ID: k.ID}
}

// ordered fails "to" when it is set and not after from.
func (p *params) ordered(from, to time.Time) {
	if !to.IsZero() && !to.After(from) {
		p.fail("to", "must be after from")
	}
}
