package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClickEvent is one valid clickstream event, flattened, with its place in
// the log. Type is its event type (page_view, product_view, search,
// add_to_cart, remove_from_cart, checkout_started).
type ClickEvent struct {
	EventID    string
	Type       string
	EventTime  time.Time
	SessionID  string
	CustomerID string
	Device     string
	Page       string
	Referrer   string
	ProductID  string
	Offset     int64
}

// ClickstreamBatch is one micro-batch of one partition of the clickstream
// topic: the messages at offsets [Start, End), each an event or a dead letter.
type ClickstreamBatch struct {
	BatchMeta
	Events []ClickEvent
	// SessionGap ends a session: a session id's events more than SessionGap
	// apart (by event time) belong to different sessions.
	SessionGap time.Duration
}

// DefaultSessionGap is the session gap when a batch names none.
const DefaultSessionGap = 30 * time.Minute

type trafficDelta struct {
	pageViews, productViews, searches, cartAdds, cartRemoves, checkouts, started, late int64
}

// CommitClickstreamBatch stores a batch's clickstream events (once per event
// id), adds their counts to traffic_minute, and rebuilds the sessions of
// every session id that got a new event, all under the offset fence of
// CommitBatch.
//
// Sessions are rebuilt from clickstream_events, the facts in Postgres, not
// from memory: a session id's events sorted by event time (then event id)
// are cut wherever two neighbours are more than SessionGap apart. So
// sessions depend only on the set of events stored, never on arrival order,
// batching or restarts. A late or out-of-order event therefore joins the
// session it falls within the gap of, extending its start or end; one
// within the gap of two sessions merges them; one within the gap of none
// opens a session of its own. traffic_minute.sessions_started takes the
// rebuilt sessions' old starts off and adds their new ones.
func (db *DB) CommitClickstreamBatch(ctx context.Context, b ClickstreamBatch) (BatchResult, error) {
	if b.SessionGap <= 0 {
		b.SessionGap = DefaultSessionGap
	}
	days := map[string]bool{}
	for _, e := range b.Events {
		days[e.EventTime.UTC().Format(time.DateOnly)] = true
	}
	if err := db.ensureDays(ctx, days); err != nil {
		return BatchResult{}, err
	}
	return db.CommitBatch(ctx, b.BatchMeta, func(ctx context.Context, tx pgx.Tx, wm time.Time) (BatchResult, error) {
		return applyClickstream(ctx, tx, b, wm)
	})
}

func applyClickstream(ctx context.Context, tx pgx.Tx, b ClickstreamBatch, wm time.Time) (BatchResult, error) {
	var res BatchResult
	evs := make([]ClickEvent, len(b.Events))
	copy(evs, b.Events)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Offset < evs[j].Offset })
	inserted, err := insertClickEvents(ctx, tx, b.Topic, b.Partition, evs)
	if err != nil {
		return res, err
	}
	deltas := map[time.Time]*trafficDelta{}
	minute := func(t time.Time) *trafficDelta {
		k := t.UTC().Truncate(time.Minute)
		d := deltas[k]
		if d == nil {
			d = &trafficDelta{}
			deltas[k] = d
		}
		return d
	}
	touched := map[string]bool{}
	for _, e := range evs {
		if !inserted[e.EventID] {
			res.Duplicates++
			continue
		}
		delete(inserted, e.EventID) // a repeat inside the batch counts once
		res.Applied++
		touched[e.SessionID] = true
		d := minute(e.EventTime)
		switch e.Type {
		case "page_view":
			d.pageViews++
		case "product_view":
			d.productViews++
		case "search":
			d.searches++
		case "add_to_cart":
			d.cartAdds++
		case "remove_from_cart":
			d.cartRemoves++
		case "checkout_started":
			d.checkouts++
		}
		if isLateMinute(wm, e.EventTime) {
			d.late++
			res.Late++
		}
		if e.EventTime.After(res.Watermark) {
			res.Watermark = e.EventTime.UTC()
		}
	}
	if len(touched) == 0 {
		return res, nil
	}
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	oldStarts, newStarts, err := rebuildSessions(ctx, tx, ids, b.SessionGap)
	if err != nil {
		return res, err
	}
	for _, t := range oldStarts {
		minute(t).started--
	}
	for _, t := range newStarts {
		minute(t).started++
	}
	return res, upsertTraffic(ctx, tx, deltas)
}

// rebuildSessions replaces the sessions of the session ids (sorted) with
// those computed from their stored events, returning the start times of the
// sessions removed and of those added. A session whose key (session id and
// start) is rebuilt again is updated in place, not deleted and inserted: on
// the stream most touched sessions only grow at their end, and an update
// that changes no indexed column is a HOT update that writes no index entry
// (the table keeps free space on its pages for it). Its start is neither
// removed nor added, which is the net effect of a delete and an insert.
func rebuildSessions(ctx context.Context, tx pgx.Tx, ids []string, gap time.Duration) (oldStarts, newStarts []time.Time, err error) {
	// An event opens a session when it is its session id's first or comes
	// more than the gap after the previous one; the running count of
	// openings numbers the sessions of a session id.
	rows, err := tx.Query(ctx, `
		WITH ev AS (
		    SELECT e.*, CASE WHEN e.event_time - lag(e.event_time) OVER w <= ($2::bigint * interval '1 microsecond') THEN 0 ELSE 1 END AS opens
		      FROM clickstream_events e
		     WHERE e.session_id = ANY($1::text[])
		    WINDOW w AS (PARTITION BY e.session_id ORDER BY e.event_time, e.event_id)
		), numbered AS (
		    SELECT ev.*, sum(opens) OVER (PARTITION BY session_id ORDER BY event_time, event_id) AS n
		      FROM ev
		)
		INSERT INTO click_sessions AS t (session_key, session_id, customer_id, started_at, ended_at, timeout_at,
		                            events, pages, page_views, product_views, products_viewed, searches,
		                            cart_adds, cart_removes, checkout, device, entry_page, referrer)
		SELECT session_id || '@' || to_char(min(event_time) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		       session_id,
		       coalesce((array_agg(customer_id ORDER BY event_time DESC, event_id DESC) FILTER (WHERE customer_id <> ''))[1], ''),
		       min(event_time), max(event_time), max(event_time) + ($2::bigint * interval '1 microsecond'),
		       count(*),
		       count(*) FILTER (WHERE type IN ('page_view', 'product_view')),
		       count(*) FILTER (WHERE type = 'page_view'),
		       count(*) FILTER (WHERE type = 'product_view'),
		       count(DISTINCT product_id) FILTER (WHERE type = 'product_view'),
		       count(*) FILTER (WHERE type = 'search'),
		       count(*) FILTER (WHERE type = 'add_to_cart'),
		       count(*) FILTER (WHERE type = 'remove_from_cart'),
		       bool_or(type = 'checkout_started'),
		       (array_agg(device ORDER BY event_time, event_id))[1],
		       (array_agg(page ORDER BY event_time, event_id))[1],
		       (array_agg(referrer ORDER BY event_time, event_id))[1]
		  FROM numbered
		 GROUP BY session_id, n
		ON CONFLICT (session_key) DO UPDATE SET
		       customer_id = excluded.customer_id, ended_at = excluded.ended_at, timeout_at = excluded.timeout_at,
		       events = excluded.events, pages = excluded.pages, page_views = excluded.page_views,
		       product_views = excluded.product_views, products_viewed = excluded.products_viewed,
		       searches = excluded.searches, cart_adds = excluded.cart_adds, cart_removes = excluded.cart_removes,
		       checkout = excluded.checkout, device = excluded.device, entry_page = excluded.entry_page,
		       referrer = excluded.referrer, updated_at = now()
		RETURNING session_key, started_at, (xmax = 0) AS added`, ids, gap.Microseconds())
	if err != nil {
		return nil, nil, fmt.Errorf("rebuild sessions: %w", err)
	}
	var keys []string
	var key string
	var started time.Time
	var added bool
	if _, err := pgx.ForEachRow(rows, []any{&key, &started, &added}, func() error {
		keys = append(keys, key)
		if added {
			newStarts = append(newStarts, started)
		}
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("rebuild sessions: %w", err)
	}
	// Sessions the rebuild no longer has (a late event merged two, or moved
	// a start) go.
	rows, err = tx.Query(ctx, `
		DELETE FROM click_sessions WHERE session_id = ANY($1::text[]) AND session_key <> ALL($2::text[])
		RETURNING started_at`, ids, keys)
	if err != nil {
		return nil, nil, fmt.Errorf("delete sessions: %w", err)
	}
	if oldStarts, err = pgx.CollectRows(rows, pgx.RowTo[time.Time]); err != nil {
		return nil, nil, fmt.Errorf("delete sessions: %w", err)
	}
	return oldStarts, newStarts, nil
}

// insertClickEvents stores events, skipping event ids already stored, and
// returns the set of event ids it inserted.
func insertClickEvents(ctx context.Context, tx pgx.Tx, topic string, partition int, evs []ClickEvent) (map[string]bool, error) {
	inserted := make(map[string]bool, len(evs))
	if len(evs) == 0 {
		return inserted, nil
	}
	n := len(evs)
	ids, types, sessions, customers := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	devices, pages, referrers, products := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times, offsets := make([]time.Time, n), make([]int64, n)
	for i, e := range evs {
		ids[i], types[i], sessions[i], customers[i] = e.EventID, e.Type, e.SessionID, e.CustomerID
		devices[i], pages[i], referrers[i], products[i] = e.Device, e.Page, e.Referrer, e.ProductID
		times[i], offsets[i] = e.EventTime.UTC(), e.Offset
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO clickstream_events (event_id, event_time, type, session_id, customer_id, device, page,
		                                referrer, product_id, kafka_offset, topic, partition)
		SELECT u.*, $11, $12
		  FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		              $8::text[], $9::text[], $10::bigint[]) AS u
		ON CONFLICT (event_id, event_time) DO NOTHING
		RETURNING event_id`,
		ids, times, types, sessions, customers, devices, pages, referrers, products, offsets, topic, partition)
	if err != nil {
		return nil, fmt.Errorf("insert clickstream events: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("insert clickstream events: %w", err)
	}
	for _, id := range got {
		inserted[id] = true
	}
	return inserted, nil
}

// upsertTraffic adds the deltas to traffic_minute, in minute order so two
// transactions touching the same minutes lock them in the same order.
func upsertTraffic(ctx context.Context, tx pgx.Tx, deltas map[time.Time]*trafficDelta) error {
	keys := make([]time.Time, 0, len(deltas))
	for k := range deltas {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Before(keys[j]) })
	n := len(keys)
	pv, prv, se, ca, cr, co, st, la := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n),
		make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	for i, k := range keys {
		d := deltas[k]
		pv[i], prv[i], se[i], ca[i], cr[i], co[i], st[i], la[i] = d.pageViews, d.productViews, d.searches, d.cartAdds,
			d.cartRemoves, d.checkouts, d.started, d.late
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO traffic_minute AS t (minute, page_views, product_views, searches, cart_adds, cart_removes,
		                                 checkouts, sessions_started, late_events)
		SELECT * FROM unnest($1::timestamptz[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
		                     $7::bigint[], $8::bigint[], $9::bigint[])
		ON CONFLICT (minute) DO UPDATE SET
			page_views = t.page_views + excluded.page_views,
			product_views = t.product_views + excluded.product_views,
			searches = t.searches + excluded.searches,
			cart_adds = t.cart_adds + excluded.cart_adds,
			cart_removes = t.cart_removes + excluded.cart_removes,
			checkouts = t.checkouts + excluded.checkouts,
			sessions_started = t.sessions_started + excluded.sessions_started,
			late_events = t.late_events + excluded.late_events,
			updated_at = now()`,
		keys, pv, prv, se, ca, cr, co, st, la)
	if err != nil {
		return fmt.Errorf("upsert traffic per minute: %w", err)
	}
	return nil
}

// Session is one row of the sessions view.
type Session struct {
	SessionKey, SessionID, CustomerID               string
	StartedAt, EndedAt                              time.Time
	Events, Pages, PageViews, ProductViews          int64
	ProductsViewed, Searches, CartAdds, CartRemoves int64
	Checkout, Purchase                              bool
	Orders, RevenueMinor                            int64
	Currency, Device, EntryPage, Referrer           string
}

const sessionColumns = `session_key, session_id, customer_id, started_at, ended_at, events, pages, page_views,
	product_views, products_viewed, searches, cart_adds, cart_removes, checkout, purchase, orders, revenue_minor,
	currency, device, entry_page, referrer`

func scanSession(r pgx.CollectableRow) (Session, error) {
	var s Session
	err := r.Scan(&s.SessionKey, &s.SessionID, &s.CustomerID, &s.StartedAt, &s.EndedAt, &s.Events, &s.Pages,
		&s.PageViews, &s.ProductViews, &s.ProductsViewed, &s.Searches, &s.CartAdds, &s.CartRemoves, &s.Checkout,
		&s.Purchase, &s.Orders, &s.RevenueMinor, &s.Currency, &s.Device, &s.EntryPage, &s.Referrer)
	return s, err
}

// Sessions returns every session, by start time and session key.
func (db *DB) Sessions(ctx context.Context) ([]Session, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions ORDER BY started_at, session_key`)
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	return out, nil
}

// JourneyStep is one session or one order of a customer's journey.
type JourneyStep struct {
	At   time.Time
	Kind string // "session" or "order"
	// Session is set when Kind is "session".
	Session *Session
	// Order fields are set when Kind is "order".
	OrderID, SessionID, Currency string
	// EventID is the order event's id (the read API pages by it).
	EventID    string
	TotalMinor int64
}

// CustomerJourney returns a customer's sessions (those where the customer
// was known) and orders, in time order (a session at its start).
func (db *DB) CustomerJourney(ctx context.Context, customerID string) ([]JourneyStep, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE customer_id = $1 ORDER BY started_at, session_key`, customerID)
	if err != nil {
		return nil, fmt.Errorf("read journey of %s: %w", customerID, err)
	}
	ss, err := pgx.CollectRows(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("read journey of %s: %w", customerID, err)
	}
	rows, err = db.Pool.Query(ctx, `
		SELECT o.event_time, o.order_id, coalesce(sp.session_id, ''), o.currency, o.total_minor
		  FROM orders o LEFT JOIN session_purchases sp ON sp.event_id = o.event_id
		 WHERE o.customer_id = $1 ORDER BY o.event_time, o.event_id`, customerID)
	if err != nil {
		return nil, fmt.Errorf("read journey of %s: %w", customerID, err)
	}
	orders, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (JourneyStep, error) {
		st := JourneyStep{Kind: "order"}
		err := r.Scan(&st.At, &st.OrderID, &st.SessionID, &st.Currency, &st.TotalMinor)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("read journey of %s: %w", customerID, err)
	}
	out := make([]JourneyStep, 0, len(ss)+len(orders))
	for i := range ss {
		out = append(out, JourneyStep{At: ss[i].StartedAt, Kind: "session", Session: &ss[i], SessionID: ss[i].SessionID})
	}
	out = append(out, orders...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// insertSessionPurchases links the batch's newly inserted orders that name a
// session to it, once per order event.
func insertSessionPurchases(ctx context.Context, tx pgx.Tx, b OrderBatch, inserted map[string]bool) error {
	var ids, sessions, orderIDs, customers, currencies []string
	var times []time.Time
	var totals []int64
	seen := map[string]bool{}
	for _, po := range b.Orders {
		o := po.Order
		if o.SessionID == "" || !inserted[o.EventID] || seen[o.EventID] {
			continue
		}
		seen[o.EventID] = true
		ids, sessions, orderIDs = append(ids, o.EventID), append(sessions, o.SessionID), append(orderIDs, o.OrderID)
		customers, currencies = append(customers, o.CustomerID), append(currencies, o.Currency)
		times, totals = append(times, o.EventTime.UTC()), append(totals, o.TotalMinor)
	}
	if len(ids) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO session_purchases (event_id, event_time, session_id, order_id, customer_id, total_minor, currency)
		SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[])
		ON CONFLICT (event_id) DO NOTHING`,
		ids, times, sessions, orderIDs, customers, totals, currencies)
	if err != nil {
		return fmt.Errorf("insert session purchases: %w", err)
	}
	return nil
}
