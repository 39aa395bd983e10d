package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds the read API's queries. Time series take a bucket width
// (minute, hour or day) and an IANA time zone: buckets start at the zone's
// local minute, hour or midnight (date_trunc with a zone), so a day in
// Europe/London is 23, 24 or 25 hours long. Lists page by keyset: each takes
// the last row's key of the page before (zero for the first page) and returns
// at most Limit rows after it.

// Granularities of a series.
const (
	GranularityMinute = "minute"
	GranularityHour   = "hour"
	GranularityDay    = "day"
)

// SeriesRange is the time range and bucketing of a series: [From, To), in
// buckets of Granularity starting at local times of Zone.
type SeriesRange struct {
	From, To    time.Time
	Granularity string
	Zone        string
}

func (r SeriesRange) check() error {
	switch r.Granularity {
	case GranularityMinute, GranularityHour, GranularityDay:
	default:
		return fmt.Errorf("granularity %q: want minute, hour or day", r.Granularity)
	}
	if r.Zone == "" {
		return errors.New("no time zone")
	}
	return nil
}

// RevenueQuery selects a revenue series. At most one of Dimension is set
// (with its Value): the series then comes from revenue_minute_dim and counts
// only the lines of that category, product, country or channel.
type RevenueQuery struct {
	SeriesRange
	Currency         string
	Dimension, Value string
}

// RevenuePoint is one bucket of one currency. Cancellations are tracked for
// the whole shop only, refunds per dimension only; the other is nil.
type RevenuePoint struct {
	Bucket         time.Time
	Currency       string
	Orders, Units  int64
	RevenueMinor   int64
	Cancellations  *int64
	CancelledMinor *int64
	Refunds        *int64
	RefundedMinor  *int64
}

// RevenueSeries returns the revenue per bucket and currency, by bucket and
// currency. Buckets without orders are absent.
func (db *DB) RevenueSeries(ctx context.Context, q RevenueQuery) ([]RevenuePoint, error) {
	if err := q.check(); err != nil {
		return nil, fmt.Errorf("revenue series: %w", err)
	}
	var rows pgx.Rows
	var err error
	if q.Dimension == "" {
		rows, err = db.Pool.Query(ctx, `
			SELECT date_trunc($1, minute, $2), currency::text, sum(orders)::bigint, sum(units)::bigint, sum(revenue_minor)::bigint,
			       sum(cancellations)::bigint, sum(cancelled_minor)::bigint, NULL::bigint, NULL::bigint
			  FROM revenue_minute
			 WHERE minute >= $3 AND minute < $4 AND ($5 = '' OR currency = $5)
			 GROUP BY 1, 2 ORDER BY 1, 2`,
			q.Granularity, q.Zone, q.From.UTC(), q.To.UTC(), q.Currency)
	} else {
		rows, err = db.Pool.Query(ctx, `
			SELECT date_trunc($1, minute, $2), currency::text, sum(orders)::bigint, sum(units)::bigint, sum(revenue_minor)::bigint,
			       NULL::bigint, NULL::bigint, sum(refunds)::bigint, sum(refunded_minor)::bigint
			  FROM revenue_minute_dim
			 WHERE dimension = $6 AND value = $7 AND minute >= $3 AND minute < $4 AND ($5 = '' OR currency = $5)
			 GROUP BY 1, 2 ORDER BY 1, 2`,
			q.Granularity, q.Zone, q.From.UTC(), q.To.UTC(), q.Currency, q.Dimension, q.Value)
	}
	if err != nil {
		return nil, fmt.Errorf("read revenue series: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RevenuePoint, error) {
		var p RevenuePoint
		err := r.Scan(&p.Bucket, &p.Currency, &p.Orders, &p.Units, &p.RevenueMinor,
			&p.Cancellations, &p.CancelledMinor, &p.Refunds, &p.RefundedMinor)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read revenue series: %w", err)
	}
	return out, nil
}

// FunnelPoint is the funnel of the sessions that started in one bucket: how
// many reached each step.
type FunnelPoint struct {
	Bucket                                   time.Time
	Sessions, ProductView, AddToCart         int64
	Checkout, Purchase, Orders, RevenueMinor int64
}

// FunnelSeries returns the funnel per bucket of session start, by bucket.
func (db *DB) FunnelSeries(ctx context.Context, r SeriesRange) ([]FunnelPoint, error) {
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("funnel series: %w", err)
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT date_trunc($1, started_at, $2), count(*), count(*) FILTER (WHERE product_views > 0),
		       count(*) FILTER (WHERE cart_adds > 0), count(*) FILTER (WHERE checkout),
		       count(*) FILTER (WHERE purchase), coalesce(sum(orders), 0)::bigint, coalesce(sum(revenue_minor), 0)::bigint
		  FROM sessions WHERE started_at >= $3 AND started_at < $4
		 GROUP BY 1 ORDER BY 1`, r.Granularity, r.Zone, r.From.UTC(), r.To.UTC())
	if err != nil {
		return nil, fmt.Errorf("read funnel: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FunnelPoint, error) {
		var p FunnelPoint
		err := r.Scan(&p.Bucket, &p.Sessions, &p.ProductView, &p.AddToCart, &p.Checkout, &p.Purchase, &p.Orders, &p.RevenueMinor)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read funnel: %w", err)
	}
	return out, nil
}

// PaymentPoint is one bucket of one currency of payments_minute.
type PaymentPoint struct {
	Bucket                              time.Time
	Currency                            string
	Authorized, Failed, AuthorizedMinor int64
	Refunds, RefundedMinor              int64
	Chargebacks, ChargebackMinor, Late  int64
}

// PaymentSeries returns the payment figures per bucket and currency.
func (db *DB) PaymentSeries(ctx context.Context, r SeriesRange, currency string) ([]PaymentPoint, error) {
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("payment series: %w", err)
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT date_trunc($1, minute, $2), currency::text, sum(authorized)::bigint, sum(failed)::bigint, sum(authorized_minor)::bigint,
		       sum(refunds)::bigint, sum(refunded_minor)::bigint, sum(chargebacks)::bigint, sum(chargeback_minor)::bigint,
		       sum(late_events)::bigint
		  FROM payments_minute
		 WHERE minute >= $3 AND minute < $4 AND ($5 = '' OR currency = $5)
		 GROUP BY 1, 2 ORDER BY 1, 2`, r.Granularity, r.Zone, r.From.UTC(), r.To.UTC(), currency)
	if err != nil {
		return nil, fmt.Errorf("read payment series: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (PaymentPoint, error) {
		var p PaymentPoint
		err := r.Scan(&p.Bucket, &p.Currency, &p.Authorized, &p.Failed, &p.AuthorizedMinor, &p.Refunds, &p.RefundedMinor,
			&p.Chargebacks, &p.ChargebackMinor, &p.Late)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read payment series: %w", err)
	}
	return out, nil
}

// TopQuery ranks the values of one dimension (product, category, country or
// channel) by revenue, units or orders over [From, To).
type TopQuery struct {
	Dimension string
	From, To  time.Time
	Currency  string
	// By is "revenue", "units" or "orders".
	By    string
	Limit int
}

// TopRow is one ranked value in one currency.
type TopRow struct {
	Value, Currency             string
	Orders, Units, RevenueMinor int64
	Refunds, RefundedMinor      int64
}

var topOrder = map[string]string{
	"revenue": "sum(revenue_minor) DESC",
	"units":   "sum(units) DESC",
	"orders":  "sum(orders) DESC",
}

// Top returns the first q.Limit values of the dimension, best first (ties by
// value and currency).
func (db *DB) Top(ctx context.Context, q TopQuery) ([]TopRow, error) {
	order, ok := topOrder[q.By]
	if !ok {
		return nil, fmt.Errorf("top %s: rank by %q: want revenue, units or orders", q.Dimension, q.By)
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT value, currency::text, sum(orders)::bigint, sum(units)::bigint, sum(revenue_minor)::bigint,
		       sum(refunds)::bigint, sum(refunded_minor)::bigint
		  FROM revenue_minute_dim
		 WHERE dimension = $1 AND minute >= $2 AND minute < $3 AND ($4 = '' OR currency = $4)
		 GROUP BY 1, 2 ORDER BY `+order+`, value, currency LIMIT $5`,
		q.Dimension, q.From.UTC(), q.To.UTC(), q.Currency, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read top %s: %w", q.Dimension, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TopRow, error) {
		var t TopRow
		err := r.Scan(&t.Value, &t.Currency, &t.Orders, &t.Units, &t.RevenueMinor, &t.Refunds, &t.RefundedMinor)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("read top %s: %w", q.Dimension, err)
	}
	return out, nil
}

// TimeKey is the keyset position of a list ordered by a time and an id.
type TimeKey struct {
	At time.Time
	ID string
}

// OrderQuery selects orders, newest first.
type OrderQuery struct {
	From, To                     time.Time // To zero: no upper bound
	CustomerID, Country, Channel string
	After                        *TimeKey
	Limit                        int
}

// OrderRow is one order fact.
type OrderRow struct {
	EventID, OrderID, CustomerID string
	EventTime                    time.Time
	Country, Currency, Channel   string
	TotalMinor, Units            int64
	Lines                        int
	Cancelled                    bool
}

// Orders returns a page of orders by event time descending, then event id
// descending.
func (db *DB) Orders(ctx context.Context, q OrderQuery) ([]OrderRow, error) {
	to := q.To
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	after := TimeKey{At: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), ID: ""}
	hasAfter := q.After != nil
	if hasAfter {
		after = *q.After
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT o.event_id, o.order_id, o.customer_id, o.event_time, o.country::text, o.currency::text, o.channel,
		       o.total_minor, o.units, o.line_count,
		       EXISTS (SELECT 1 FROM order_cancellations c WHERE c.order_id = o.order_id)
		  FROM orders o
		 WHERE o.event_time >= $1 AND o.event_time < $2
		   AND ($3 = '' OR o.customer_id = $3) AND ($4 = '' OR o.country = $4) AND ($5 = '' OR o.channel = $5)
		   AND (NOT $6 OR (o.event_time, o.event_id) < ($7, $8))
		 ORDER BY o.event_time DESC, o.event_id DESC LIMIT $9`,
		q.From.UTC(), to.UTC(), q.CustomerID, q.Country, q.Channel, hasAfter, after.At.UTC(), after.ID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OrderRow, error) {
		var o OrderRow
		err := r.Scan(&o.EventID, &o.OrderID, &o.CustomerID, &o.EventTime, &o.Country, &o.Currency, &o.Channel,
			&o.TotalMinor, &o.Units, &o.Lines, &o.Cancelled)
		o.EventTime = o.EventTime.UTC()
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("read orders: %w", err)
	}
	return out, nil
}

// SessionQuery selects sessions, newest first.
type SessionQuery struct {
	From, To   time.Time // To zero: no upper bound
	CustomerID string
	After      *TimeKey // started_at, session_key
	Limit      int
}

// SessionPage returns a page of sessions by start descending, then session
// key descending.
func (db *DB) SessionPage(ctx context.Context, q SessionQuery) ([]Session, error) {
	to := q.To
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var after TimeKey
	hasAfter := q.After != nil
	if hasAfter {
		after = *q.After
	}
	rows, err := db.Pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		 WHERE started_at >= $1 AND started_at < $2 AND ($3 = '' OR customer_id = $3)
		   AND (NOT $4 OR (started_at, session_key) < ($5, $6))
		 ORDER BY started_at DESC, session_key DESC LIMIT $7`,
		q.From.UTC(), to.UTC(), q.CustomerID, hasAfter, after.At.UTC(), after.ID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	for i := range out {
		out[i].StartedAt, out[i].EndedAt = out[i].StartedAt.UTC(), out[i].EndedAt.UTC()
	}
	return out, nil
}

// JourneyKey is the keyset position in a customer's journey: steps are
// ordered by time, then kind ("order" before "session"), then id (the
// order's event id or the session key).
type JourneyKey struct {
	At   time.Time
	Kind string
	ID   string
}

// JourneyStepKey is the keyset position of a step.
func JourneyStepKey(s JourneyStep) JourneyKey {
	if s.Kind == "session" {
		return JourneyKey{At: s.At, Kind: s.Kind, ID: s.Session.SessionKey}
	}
	return JourneyKey{At: s.At, Kind: s.Kind, ID: s.EventID}
}

// JourneyPage returns up to limit steps of a customer's journey (sessions
// where the customer was known, and orders) after the key, in journey
// order.
func (db *DB) JourneyPage(ctx context.Context, customerID string, after *JourneyKey, limit int) ([]JourneyStep, error) {
	k := JourneyKey{At: time.Time{}, Kind: "", ID: ""}
	if after != nil {
		k = *after
	}
	rows, err := db.Pool.Query(ctx, `SELECT `+sessionColumns+` FROM sessions
		 WHERE customer_id = $1 AND (started_at, 'session', session_key) > ($2, $3::text, $4::text)
		 ORDER BY started_at, session_key LIMIT $5`, customerID, k.At.UTC(), k.Kind, k.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("read journey of %s: %w", customerID, err)
	}
	ss, err := pgx.CollectRows(rows, scanSession)
	if err != nil {
		return nil, fmt.Errorf("read journey of %s: %w", customerID, err)
	}
	rows, err = db.Pool.Query(ctx, `
		SELECT o.event_time, o.event_id, o.order_id, coalesce(sp.session_id, ''), o.currency::text, o.total_minor
		  FROM orders o LEFT JOIN session_purchases sp ON sp.event_id = o.event_id
		 WHERE o.customer_id = $1 AND (o.event_time, 'order', o.event_id) > ($2, $3::text, $4::text)
		 ORDER BY o.event_time, o.event_id LIMIT $5`, customerID, k.At.UTC(), k.Kind, k.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("read journey of %s: %w", customerID, err)
	}
	orders, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (JourneyStep, error) {
		st := JourneyStep{Kind: "order"}
		err := r.Scan(&st.At, &st.EventID, &st.OrderID, &st.SessionID, &st.Currency, &st.TotalMinor)
		st.At = st.At.UTC()
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("read journey of %s: %w", customerID, err)
	}
	out := make([]JourneyStep, 0, len(ss)+len(orders))
	for i := range ss {
		ss[i].StartedAt, ss[i].EndedAt = ss[i].StartedAt.UTC(), ss[i].EndedAt.UTC()
		out = append(out, JourneyStep{At: ss[i].StartedAt, Kind: "session", Session: &ss[i], SessionID: ss[i].SessionID})
	}
	out = append(out, orders...)
	sort.Slice(out, func(i, j int) bool {
		a, b := JourneyStepKey(out[i]), JourneyStepKey(out[j])
		if !a.At.Equal(b.At) {
			return a.At.Before(b.At)
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.ID < b.ID
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// StockQuery selects stock levels by product and warehouse.
type StockQuery struct {
	ProductID, WarehouseID string
	// LowOnly keeps the levels at or below their reorder point.
	LowOnly bool
	// DefaultReorderPoint applies where reorder_points has no row, as on the
	// hot path.
	DefaultReorderPoint int64
	After               *StockKey
	Limit               int
}

// StockRow is a stock level with its reorder point.
type StockRow struct {
	StockKey
	OnHand, ReorderPoint int64
	Low, Out             bool
	UpdatedAt            time.Time
}

// StockPage returns a page of stock levels by product and warehouse.
func (db *DB) StockPage(ctx context.Context, q StockQuery) ([]StockRow, error) {
	var after StockKey
	hasAfter := q.After != nil
	if hasAfter {
		after = *q.After
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT s.product_id, s.warehouse_id, s.on_hand, coalesce(r.reorder_point, $3), s.updated_at
		  FROM stock_levels s LEFT JOIN reorder_points r USING (product_id, warehouse_id)
		 WHERE ($1 = '' OR s.product_id = $1) AND ($2 = '' OR s.warehouse_id = $2)
		   AND (NOT $4 OR s.on_hand <= coalesce(r.reorder_point, $3))
		   AND (NOT $5 OR (s.product_id, s.warehouse_id) > ($6, $7))
		 ORDER BY s.product_id, s.warehouse_id LIMIT $8`,
		q.ProductID, q.WarehouseID, q.DefaultReorderPoint, q.LowOnly, hasAfter, after.ProductID, after.WarehouseID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StockRow, error) {
		var s StockRow
		err := r.Scan(&s.ProductID, &s.WarehouseID, &s.OnHand, &s.ReorderPoint, &s.UpdatedAt)
		s.Low, s.Out, s.UpdatedAt = s.OnHand <= s.ReorderPoint, s.OnHand <= 0, s.UpdatedAt.UTC()
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read stock: %w", err)
	}
	return out, nil
}

// Alert states for AlertQuery.Status.
const (
	AlertStatusOpen           = "open"           // not resolved
	AlertStatusUnacknowledged = "unacknowledged" // open and not acknowledged
	AlertStatusAcknowledged   = "acknowledged"   // open and acknowledged
	AlertStatusResolved       = "resolved"
	AlertStatusAll            = "all"
)

// AlertQuery selects alerts, newest (highest id) first.
type AlertQuery struct {
	Status, Type, Severity string
	AfterID                int64 // 0: first page
	Limit                  int
}

// AlertRow is an alert with who acknowledged and resolved it.
type AlertRow struct {
	Alert
	AcknowledgedAt time.Time // zero when not acknowledged
	AcknowledgedBy string
	ResolvedBy     string
}

const alertRowColumns = alertColumns + `, coalesce(acknowledged_at, 'epoch'), coalesce(acknowledged_by, ''), coalesce(resolved_by, '')`

func scanAlertRow(r pgx.CollectableRow) (AlertRow, error) {
	var a AlertRow
	err := r.Scan(&a.ID, &a.Type, &a.Entity, &a.Severity, &a.DedupKey, &a.OpenedAt, &a.ResolvedAt,
		&a.Details, &a.CreatedAt, &a.DeliveredAt, &a.AcknowledgedAt, &a.AcknowledgedBy, &a.ResolvedBy)
	a.OpenedAt, a.CreatedAt = a.OpenedAt.UTC(), a.CreatedAt.UTC()
	for _, t := range []*time.Time{&a.ResolvedAt, &a.DeliveredAt, &a.AcknowledgedAt} {
		if t.Unix() == 0 {
			*t = time.Time{}
		} else {
			*t = t.UTC()
		}
	}
	return a, err
}

// AlertPage returns a page of alerts by id descending.
func (db *DB) AlertPage(ctx context.Context, q AlertQuery) ([]AlertRow, error) {
	var cond string
	switch q.Status {
	case AlertStatusOpen:
		cond = "resolved_at IS NULL"
	case AlertStatusUnacknowledged:
		cond = "resolved_at IS NULL AND acknowledged_at IS NULL"
	case AlertStatusAcknowledged:
		cond = "resolved_at IS NULL AND acknowledged_at IS NOT NULL"
	case AlertStatusResolved:
		cond = "resolved_at IS NOT NULL"
	case AlertStatusAll, "":
		cond = "true"
	default:
		return nil, fmt.Errorf("alerts: status %q", q.Status)
	}
	rows, err := db.Pool.Query(ctx, `SELECT `+alertRowColumns+` FROM alerts
		 WHERE `+cond+` AND ($1 = '' OR type = $1) AND ($2 = '' OR severity = $2) AND ($3 = 0 OR id < $3)
		 ORDER BY id DESC LIMIT $4`, q.Type, q.Severity, q.AfterID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanAlertRow)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return out, nil
}

// ErrConflict is a change the row's state does not allow (an alert already
// resolved, for instance).
var ErrConflict = errors.New("conflict")

// alertRow reads one alert row, or ErrNotFound.
func alertRowTx(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, id int64) (AlertRow, error) {
	rows, err := q.Query(ctx, `SELECT `+alertRowColumns+` FROM alerts WHERE id = $1`, id)
	if err != nil {
		return AlertRow{}, fmt.Errorf("read alert %d: %w", id, err)
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanAlertRow)
	if errors.Is(err, pgx.ErrNoRows) {
		return AlertRow{}, fmt.Errorf("alert %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return AlertRow{}, fmt.Errorf("read alert %d: %w", id, err)
	}
	return a, nil
}

// AlertRowByID returns one alert with its acknowledgement, or ErrNotFound.
func (db *DB) AlertRowByID(ctx context.Context, id int64) (AlertRow, error) {
	return alertRowTx(ctx, db.Pool, id)
}

// AcknowledgeAlert marks an open alert acknowledged by who at at. Acknowledging
// again keeps the first acknowledgement. A resolved alert is ErrConflict, an
// unknown one ErrNotFound.
func (db *DB) AcknowledgeAlert(ctx context.Context, id int64, who string, at time.Time) (AlertRow, error) {
	var out AlertRow
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		a, err := alertRowTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if !a.ResolvedAt.IsZero() {
			return fmt.Errorf("acknowledge alert %d: already resolved: %w", id, ErrConflict)
		}
		if _, err := tx.Exec(ctx, `UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, $2),
			acknowledged_by = coalesce(acknowledged_by, $3) WHERE id = $1`, id, at.UTC(), who); err != nil {
			return fmt.Errorf("acknowledge alert %d: %w", id, err)
		}
		out, err = alertRowTx(ctx, tx, id)
		return err
	})
	return out, err
}

// ResolveAlertByID resolves an open alert by hand: who and a note go into
// its details under "resolution". Resolving a resolved alert is ErrConflict.
// A stock alert resolved while the stock is still low is raised again by the
// next movement of that product, as on any new crossing.
func (db *DB) ResolveAlertByID(ctx context.Context, id int64, who, note string, at time.Time) (AlertRow, error) {
	var out AlertRow
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
			UPDATE alerts SET resolved_at = greatest(opened_at, $2), resolved_by = $3,
			       details = details || jsonb_build_object('resolution', jsonb_build_object('by', $3::text, 'note', $4::text, 'manual', true))
			 WHERE id = $1 AND resolved_at IS NULL`, id, at.UTC(), who, note)
		if err != nil {
			return fmt.Errorf("resolve alert %d: %w", id, err)
		}
		out, err = alertRowTx(ctx, tx, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("resolve alert %d: already resolved: %w", id, ErrConflict)
		}
		return nil
	})
	return out, err
}

// Fraud labels.
const (
	LabelFraud      = "fraud"
	LabelLegitimate = "legitimate"
)

// FraudLabel is a person's decision on an order of the fraud queue.
type FraudLabel struct {
	OrderID, Label, DecidedBy, Note string
	DecidedAt                       time.Time
}

// FraudQueueKey is the keyset position in the fraud queue: score
// descending, then event time and event id ascending.
type FraudQueueKey struct {
	Score   float64
	At      time.Time
	EventID string
}

// FraudQueueQuery selects scored orders.
type FraudQueueQuery struct {
	From, To time.Time // To zero: no upper bound
	MinScore float64
	// Status is "unlabelled", "labelled" or "all".
	Status string
	After  *FraudQueueKey
	Limit  int
}

// FraudQueueItem is a scored order with its order figures and label.
type FraudQueueItem struct {
	FraudScore
	TotalMinor int64
	Currency   string
	Country    string
	Label      *FraudLabel
}

// FraudQueue returns a page of scored orders, highest score first.
func (db *DB) FraudQueue(ctx context.Context, q FraudQueueQuery) ([]FraudQueueItem, error) {
	var cond string
	switch q.Status {
	case "unlabelled":
		cond = "l.order_id IS NULL"
	case "labelled":
		cond = "l.order_id IS NOT NULL"
	case "all", "":
		cond = "true"
	default:
		return nil, fmt.Errorf("fraud queue: status %q", q.Status)
	}
	to := q.To
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var k FraudQueueKey
	hasAfter := q.After != nil
	if hasAfter {
		k = *q.After
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT f.event_id, f.event_time, f.order_id, f.customer_id, f.score, f.model_version, f.features,
		       coalesce(o.total_minor, 0), coalesce(o.currency::text, ''), coalesce(o.country::text, ''),
		       l.order_id IS NOT NULL, coalesce(l.label, ''), coalesce(l.decided_by, ''), coalesce(l.decided_at, 'epoch'), coalesce(l.note, '')
		  FROM fraud_scores f
		  LEFT JOIN orders o ON o.event_id = f.event_id AND o.event_time = f.event_time
		  LEFT JOIN fraud_labels l ON l.order_id = f.order_id
		 WHERE `+cond+` AND f.event_time >= $1 AND f.event_time < $2 AND f.score >= $3
		   AND (NOT $4 OR f.score < $5 OR (f.score = $5 AND (f.event_time, f.event_id) > ($6, $7)))
		 ORDER BY f.score DESC, f.event_time, f.event_id LIMIT $8`,
		q.From.UTC(), to.UTC(), q.MinScore, hasAfter, k.Score, k.At.UTC(), k.EventID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read fraud queue: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FraudQueueItem, error) {
		var it FraudQueueItem
		var feats []byte
		var labelled bool
		var l FraudLabel
		if err := r.Scan(&it.EventID, &it.EventTime, &it.OrderID, &it.CustomerID, &it.Score, &it.ModelVersion, &feats,
			&it.TotalMinor, &it.Currency, &it.Country, &labelled, &l.Label, &l.DecidedBy, &l.DecidedAt, &l.Note); err != nil {
			return it, err
		}
		it.EventTime = it.EventTime.UTC()
		if labelled {
			l.OrderID, l.DecidedAt = it.OrderID, l.DecidedAt.UTC()
			it.Label = &l
		}
		return it, json.Unmarshal(feats, &it.Features)
	})
	if err != nil {
		return nil, fmt.Errorf("read fraud queue: %w", err)
	}
	return out, nil
}

// LabelOrder records (or replaces) the label of an order. An order never
// stored is ErrNotFound.
func (db *DB) LabelOrder(ctx context.Context, l FraudLabel) (FraudLabel, error) {
	if l.Label != LabelFraud && l.Label != LabelLegitimate {
		return FraudLabel{}, fmt.Errorf("label order %s: label %q: want fraud or legitimate", l.OrderID, l.Label)
	}
	var out FraudLabel
	err := db.Pool.QueryRow(ctx, `
		INSERT INTO fraud_labels (order_id, label, decided_by, decided_at, note)
		SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM orders WHERE order_id = $1)
		ON CONFLICT (order_id) DO UPDATE SET label = excluded.label, decided_by = excluded.decided_by,
			decided_at = excluded.decided_at, note = excluded.note
		RETURNING order_id, label, decided_by, decided_at, note`,
		l.OrderID, l.Label, l.DecidedBy, l.DecidedAt.UTC(), l.Note).
		Scan(&out.OrderID, &out.Label, &out.DecidedBy, &out.DecidedAt, &out.Note)
	if errors.Is(err, pgx.ErrNoRows) {
		return FraudLabel{}, fmt.Errorf("order %s: %w", l.OrderID, ErrNotFound)
	}
	if err != nil {
		return FraudLabel{}, fmt.Errorf("label order %s: %w", l.OrderID, err)
	}
	out.DecidedAt = out.DecidedAt.UTC()
	return out, nil
}

// AnomalyQuery selects anomaly scores, newest first.
type AnomalyQuery struct {
	Series        string
	From, To      time.Time // To zero: no upper bound
	AnomalousOnly bool
	After         *TimeKey // minute, series
	Limit         int
}

// AnomalyRow is one scored minute of one series.
type AnomalyRow struct {
	AnomalyScore
	RunID     string
	UpdatedAt time.Time
}

// AnomalyPage returns a page of anomaly scores by minute descending, then
// series descending.
func (db *DB) AnomalyPage(ctx context.Context, q AnomalyQuery) ([]AnomalyRow, error) {
	to := q.To
	if to.IsZero() {
		to = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	var k TimeKey
	hasAfter := q.After != nil
	if hasAfter {
		k = *q.After
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT series, minute, actual, expected, deviation, z, anomalous, sustained, run_id, updated_at
		  FROM anomaly_scores
		 WHERE ($1 = '' OR series = $1) AND minute >= $2 AND minute < $3 AND (NOT $4 OR anomalous)
		   AND (NOT $5 OR (minute, series) < ($6, $7))
		 ORDER BY minute DESC, series DESC LIMIT $8`,
		q.Series, q.From.UTC(), to.UTC(), q.AnomalousOnly, hasAfter, k.At.UTC(), k.ID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read anomalies: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AnomalyRow, error) {
		var a AnomalyRow
		var expected, deviation, z *float64
		err := r.Scan(&a.Series, &a.Minute, &a.Actual, &expected, &deviation, &z, &a.Anomalous, &a.Sustained, &a.RunID, &a.UpdatedAt)
		a.Minute, a.UpdatedAt = a.Minute.UTC(), a.UpdatedAt.UTC()
		if expected != nil {
			a.Scored, a.Expected = true, *expected
		}
		if deviation != nil {
			a.Deviation = *deviation
		}
		if z != nil {
			a.Z = *z
		}
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("read anomalies: %w", err)
	}
	return out, nil
}

// LineageQuery selects lineage rows of one run, or of the runs that read or
// wrote one table (named in inputs.tables or outputs.tables).
type LineageQuery struct {
	RunID, Table string
	After        *LineageKey
	Limit        int
}

// LineageKey is the keyset position in lineage: finished_at descending, then
// run id and step ascending.
type LineageKey struct {
	FinishedAt  time.Time
	RunID, Step string
}

// LineageRow is one step of a batch run.
type LineageRow struct {
	RunID, Workflow, Step string
	Inputs, Outputs       json.RawMessage
	StartedAt, FinishedAt time.Time
}

// LineagePage returns a page of lineage rows, latest first.
func (db *DB) LineagePage(ctx context.Context, q LineageQuery) ([]LineageRow, error) {
	var k LineageKey
	hasAfter := q.After != nil
	if hasAfter {
		k = *q.After
	}
	rows, err := db.Pool.Query(ctx, `
		SELECT run_id, workflow, step, inputs, outputs, started_at, finished_at
		  FROM lineage
		 WHERE ($1 = '' OR run_id = $1)
		   AND ($2 = '' OR coalesce(inputs->'tables', '[]') ? $2 OR coalesce(outputs->'tables', '[]') ? $2)
		   AND (NOT $3 OR finished_at < $4 OR (finished_at = $4 AND (run_id, step) > ($5, $6)))
		 ORDER BY finished_at DESC, run_id, step LIMIT $7`,
		q.RunID, q.Table, hasAfter, k.FinishedAt.UTC(), k.RunID, k.Step, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("read lineage: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LineageRow, error) {
		var l LineageRow
		err := r.Scan(&l.RunID, &l.Workflow, &l.Step, &l.Inputs, &l.Outputs, &l.StartedAt, &l.FinishedAt)
		l.StartedAt, l.FinishedAt = l.StartedAt.UTC(), l.FinishedAt.UTC()
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("read lineage: %w", err)
	}
	return out, nil
}

// StreamGeneration changes whenever a batch of one of the topics commits:
// it is the sum of their committed offsets and the time of the last commit.
// The API's cache keys hot queries by it, so a cached answer is never older
// than the last committed batch.
func (db *DB) StreamGeneration(ctx context.Context, topics []string) (string, error) {
	var sum int64
	var last time.Time
	err := db.Pool.QueryRow(ctx, `
		SELECT coalesce(sum(next_offset), 0)::bigint, coalesce(max(updated_at), 'epoch')
		  FROM stream_offsets WHERE topic = ANY($1)`, topics).Scan(&sum, &last)
	if err != nil {
		return "", fmt.Errorf("read stream generation: %w", err)
	}
	return fmt.Sprintf("%d.%d", sum, last.UnixMicro()), nil
}

// Ping checks that Postgres answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}
