package oracle

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

// row is one table row's compared columns, in the order of its table's cols.
type row []int64

// table holds the expected rows of one result table by key.
type table map[string]row

func (t table) add(key string, width int, col int, v int64) {
	r, ok := t[key]
	if !ok {
		r = make(row, width)
		t[key] = r
	}
	r[col] += v
}

// totals is what the log says the database should hold.
type totals struct {
	revenue  table // revenue_minute: minute/currency
	traffic  table // traffic_minute: minute
	stock    table // stock_levels: product/warehouse
	payments table // payments_minute: minute/currency
	facts    table // counts of stored facts per table: name

	clicks   map[string][]time.Time // session id -> event times
	sessions table                  // click_sessions: session_id/started_at -> events, ended_at (unix µs)
}

var (
	revenueCols  = []string{"orders", "units", "revenue_minor", "cancellations", "cancelled_minor"}
	trafficCols  = []string{"page_views", "product_views", "searches", "cart_adds", "cart_removes", "checkouts", "sessions_started"}
	stockCols    = []string{"on_hand"}
	paymentCols  = []string{"authorized", "failed", "authorized_minor", "refunds", "refunded_minor", "chargebacks", "chargeback_minor"}
	factCols     = []string{"rows"}
	sessionCols  = []string{"events", "ended_at_us"}
	factTables   = []string{"orders", "order_lines", "order_cancellations", "inventory_movements", "clickstream_events", "payments", "refunds", "chargebacks"}
	trafficIndex = map[string]int{
		events.TypePageView: 0, events.TypeProductView: 1, events.TypeSearch: 2,
		events.TypeAddToCart: 3, events.TypeRemoveFromCart: 4, events.TypeCheckoutStarted: 5,
	}
)

func newTotals() *totals {
	t := &totals{revenue: table{}, traffic: table{}, stock: table{}, payments: table{}, facts: table{},
		clicks: map[string][]time.Time{}, sessions: table{}}
	for _, f := range factTables {
		t.facts.add(f, 1, 0, 0)
	}
	return t
}

func minuteKey(at time.Time) string { return at.UTC().Truncate(time.Minute).Format(time.RFC3339) }

// add applies one distinct valid event.
func (t *totals) add(ev events.Event) {
	switch e := ev.(type) {
	case *events.OrderPlaced:
		k := fmtKey(minuteKey(e.EventTime), e.Currency)
		t.revenue.add(k, 5, 0, 1)
		var units int64
		for _, l := range e.Lines {
			units += l.Quantity
		}
		t.revenue.add(k, 5, 1, units)
		t.revenue.add(k, 5, 2, e.TotalMinor)
		t.facts.add("orders", 1, 0, 1)
		t.facts.add("order_lines", 1, 0, int64(len(e.Lines)))
	case *events.OrderCancelled:
		k := fmtKey(minuteKey(e.EventTime), e.Currency)
		t.revenue.add(k, 5, 3, 1)
		t.revenue.add(k, 5, 4, e.AmountMinor)
		t.facts.add("order_cancellations", 1, 0, 1)
	case *events.InventoryAdjusted:
		t.stock.add(fmtKey(e.ProductID, e.WarehouseID), 1, 0, e.Delta)
		t.facts.add("inventory_movements", 1, 0, 1)
	case *events.PageView:
		t.click(e.Header, e.SessionID)
	case *events.ProductView:
		t.click(e.Header, e.SessionID)
	case *events.Search:
		t.click(e.Header, e.SessionID)
	case *events.CartChange:
		t.click(e.Header, e.SessionID)
	case *events.CheckoutStarted:
		t.click(e.Header, e.SessionID)
	case *events.Payment:
		k := fmtKey(minuteKey(e.EventTime), e.Currency)
		if e.Type == events.TypePaymentFailed {
			t.payments.add(k, 7, 1, 1)
		} else {
			t.payments.add(k, 7, 0, 1)
			t.payments.add(k, 7, 2, e.AmountMinor)
		}
		t.facts.add("payments", 1, 0, 1)
	case *events.Refund:
		k := fmtKey(minuteKey(e.EventTime), e.Currency)
		t.payments.add(k, 7, 3, 1)
		t.payments.add(k, 7, 4, e.AmountMinor)
		t.facts.add("refunds", 1, 0, 1)
	case *events.Chargeback:
		k := fmtKey(minuteKey(e.EventTime), e.Currency)
		t.payments.add(k, 7, 5, 1)
		t.payments.add(k, 7, 6, e.AmountMinor)
		t.facts.add("chargebacks", 1, 0, 1)
	}
}

func (t *totals) click(h events.Header, session string) {
	t.traffic.add(minuteKey(h.EventTime), 7, trafficIndex[h.Type], 1)
	t.clicks[session] = append(t.clicks[session], h.EventTime)
	t.facts.add("clickstream_events", 1, 0, 1)
}

// sessionize cuts each session id's events wherever two neighbours are more
// than gap apart, and counts each session's start in traffic_minute.
func (t *totals) sessionize(gap time.Duration) {
	for id, times := range t.clicks {
		sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
		start, n := 0, int64(0)
		flush := func(end int) {
			started, ended := times[start].UTC(), times[end].UTC()
			k := fmtKey(id, started.Format("2006-01-02T15:04:05.000000Z"))
			t.sessions[k] = row{n, ended.UnixMicro()}
			t.traffic.add(minuteKey(started), 7, 6, 1)
		}
		for i := range times {
			if i > start && times[i].Sub(times[i-1]) > gap {
				flush(i - 1)
				start, n = i, 0
			}
			n++
		}
		flush(len(times) - 1)
	}
}

// compareTables reads each result table and compares it with the totals.
func (c *checker) compareTables(ctx context.Context) error {
	t := c.cfg.Topics
	checks := []struct {
		on    bool
		name  string
		cols  []string
		want  table
		query string
	}{
		{t.Orders != "", "revenue_minute", revenueCols, c.want.revenue, `
			SELECT to_char(minute AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '/' || currency,
			       orders, units, revenue_minor, cancellations, cancelled_minor FROM revenue_minute`},
		{t.Clickstream != "", "traffic_minute", trafficCols, c.want.traffic, `
			SELECT to_char(minute AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
			       page_views, product_views, searches, cart_adds, cart_removes, checkouts, sessions_started FROM traffic_minute`},
		{t.Clickstream != "", "click_sessions", sessionCols, c.want.sessions, `
			SELECT session_id || '/' || to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), events, (extract(epoch FROM ended_at) * 1000000)::bigint FROM click_sessions`},
		{t.Inventory != "", "stock_levels", stockCols, c.want.stock, `
			SELECT product_id || '/' || warehouse_id, on_hand FROM stock_levels`},
		{t.Payments != "", "payments_minute", paymentCols, c.want.payments, `
			SELECT to_char(minute AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '/' || currency,
			       authorized, failed, authorized_minor, refunds, refunded_minor, chargebacks, chargeback_minor FROM payments_minute`},
	}
	for _, ch := range checks {
		if !ch.on {
			continue
		}
		got, err := c.readTable(ctx, ch.query, len(ch.cols))
		if err != nil {
			return fmt.Errorf("oracle: read %s: %w", ch.name, err)
		}
		c.compare(ch.name, ch.cols, ch.want, got)
	}
	facts := table{}
	for _, f := range factTables {
		if !c.factOn(f) {
			delete(c.want.facts, f)
			continue
		}
		var n int64
		if err := c.db.Pool.QueryRow(ctx, `SELECT count(*) FROM `+f).Scan(&n); err != nil {
			return fmt.Errorf("oracle: count %s: %w", f, err)
		}
		facts[f] = row{n}
	}
	c.compare("facts", factCols, c.want.facts, facts)
	return nil
}

func (c *checker) factOn(f string) bool {
	t := c.cfg.Topics
	switch f {
	case "orders", "order_lines", "order_cancellations":
		return t.Orders != ""
	case "inventory_movements":
		return t.Inventory != ""
	case "clickstream_events":
		return t.Clickstream != ""
	}
	return t.Payments != ""
}

func (c *checker) readTable(ctx context.Context, query string, width int) (table, error) {
	rows, err := c.db.Pool.Query(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := table{}
	for rows.Next() {
		var key string
		r := make(row, width)
		dst := []any{&key}
		for i := range r {
			dst = append(dst, &r[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, err
		}
		out[key] = r
	}
	return out, rows.Err()
}

// compare reports every key whose columns differ; a row missing on one side
// counts as zeros, so an all-zero row on the other side is no difference.
func (c *checker) compare(name string, cols []string, want, got table) {
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	for k := range keys {
		c.report.Compared++
		w, g := want[k], got[k]
		if w == nil {
			w = make(row, len(cols))
		}
		if g == nil {
			g = make(row, len(cols))
		}
		var wd, gd []string
		for i, col := range cols {
			if w[i] != g[i] {
				wd = append(wd, fmt.Sprintf("%s=%d", col, w[i]))
				gd = append(gd, fmt.Sprintf("%s=%d", col, g[i]))
			}
		}
		if len(wd) > 0 {
			c.diff(name, k, strings.Join(wd, " "), strings.Join(gd, " "))
		}
	}
}
