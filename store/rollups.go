package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Rollup grains: the length of the periods the rollup tables hold.
const (
	GrainHour = "hour"
	GrainDay  = "day"
)

// PeriodBounds returns the period of grain that holds t: its start and end
// (UTC), or an error for an unknown grain.
func PeriodBounds(grain string, t time.Time) (time.Time, time.Time, error) {
	t = t.UTC()
	switch grain {
	case GrainHour:
		s := t.Truncate(time.Hour)
		return s, s.Add(time.Hour), nil
	case GrainDay:
		s := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return s, s.AddDate(0, 0, 1), nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("grain %q: want %q or %q", grain, GrainHour, GrainDay)
}

// WatermarksPassed is WatermarkPassed over several topics: ready when every
// partition of every topic has passed until. Lagging names the partitions
// that have not, as "topic/partition", sorted.
func (db *DB) WatermarksPassed(ctx context.Context, topics []string, until time.Time) (WatermarkResult, error) {
	res := WatermarkResult{Ready: len(topics) > 0}
	for _, topic := range topics {
		r, err := db.WatermarkPassed(ctx, topic, until)
		if err != nil {
			return WatermarkResult{}, err
		}
		if !r.Ready {
			res.Ready = false
			if len(r.Lagging) == 0 {
				res.LaggingPartitions = append(res.LaggingPartitions, topic+"/none")
			}
			for _, p := range r.Lagging {
				res.Lagging = append(res.Lagging, p)
				res.LaggingPartitions = append(res.LaggingPartitions, fmt.Sprintf("%s/%d", topic, p))
			}
		}
	}
	slices.Sort(res.LaggingPartitions)
	return res, nil
}

// PeriodRollupRequest is one period of one grain to roll up.
type PeriodRollupRequest struct {
	Grain    string
	Start    time.Time
	RunID    string
	Workflow string
	// Topics are the topics whose positions (offsets and watermarks) the
	// lineage records.
	Topics []string
	// Complete records whether every partition's watermark had passed the
	// period's end when the rollup ran.
	Complete bool
}

// PeriodRollupResult counts the rows a period rollup wrote, per table.
type PeriodRollupResult struct {
	Grain        string
	Start, End   time.Time
	SalesRows    int64
	TrafficRows  int64
	PaymentsRows int64
	RevenueMinor int64
	MarginMinor  int64
}

// rollupTables are the tables a period rollup replaces, in write order.
var rollupTables = []string{"rollup_sales", "rollup_traffic", "rollup_payments"}

// RollupPeriod replaces one period's rows of rollup_sales, rollup_traffic and
// rollup_payments from the minute tables and the order facts, and records
// the run's lineage, in one transaction. Running it twice gives the same rows
// (only run_id and computed_at differ).
func (db *DB) RollupPeriod(ctx context.Context, r PeriodRollupRequest) (PeriodRollupResult, error) {
	start, end, err := PeriodBounds(r.Grain, r.Start)
	if err != nil {
		return PeriodRollupResult{}, err
	}
	res := PeriodRollupResult{Grain: r.Grain, Start: start, End: end}
	started := time.Now()
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		for _, t := range rollupTables {
			if _, err := tx.Exec(ctx, `DELETE FROM `+t+` WHERE grain = $1 AND period_start = $2`, r.Grain, start); err != nil {
				return fmt.Errorf("clear %s: %w", t, err)
			}
		}
		// Totals from revenue_minute (order totals and cancellations), with
		// the cost and costed revenue of their lines.
		err := tx.QueryRow(ctx, `
			WITH totals AS (
				SELECT currency, sum(orders) AS orders, sum(units) AS units, sum(revenue_minor) AS revenue_minor,
				       sum(cancellations) AS cancellations, sum(cancelled_minor) AS cancelled_minor
				  FROM revenue_minute WHERE minute >= $2 AND minute < $3 GROUP BY currency
			), lines AS (`+pricedLinesSQL+`
			), line_totals AS (
				SELECT currency,
				       coalesce(sum(quantity) FILTER (WHERE unit_cost_minor IS NOT NULL), 0) AS costed_units,
				       coalesce(sum(revenue_minor) FILTER (WHERE unit_cost_minor IS NOT NULL), 0) AS costed_revenue_minor,
				       coalesce(sum(quantity * unit_cost_minor), 0) AS cost_minor
				  FROM lines GROUP BY currency
			), ins AS (
				INSERT INTO rollup_sales (grain, period_start, dimension, value, currency, orders, units, revenue_minor,
				                          cancellations, cancelled_minor, costed_units, costed_revenue_minor, cost_minor, complete, run_id)
				SELECT $1, $2, 'total', '', t.currency, t.orders, t.units, t.revenue_minor, t.cancellations, t.cancelled_minor,
				       coalesce(l.costed_units, 0), coalesce(l.costed_revenue_minor, 0), coalesce(l.cost_minor, 0), $4, $5
				  FROM totals t LEFT JOIN line_totals l USING (currency)
				RETURNING revenue_minor, costed_revenue_minor - cost_minor AS margin)
			SELECT count(*), coalesce(sum(revenue_minor), 0), coalesce(sum(margin), 0) FROM ins`,
			r.Grain, start, end, r.Complete, r.RunID).Scan(&res.SalesRows, &res.RevenueMinor, &res.MarginMinor)
		if err != nil {
			return fmt.Errorf("sales totals: %w", err)
		}
		var dims int64
		err = tx.QueryRow(ctx, `
			WITH lines AS (`+pricedLinesSQL+`
			), ins AS (
				INSERT INTO rollup_sales (grain, period_start, dimension, value, currency, orders, units, revenue_minor,
				                          costed_units, costed_revenue_minor, cost_minor, complete, run_id)
				SELECT $1, $2,
				       CASE WHEN GROUPING(product_id) = 0 THEN 'product' WHEN GROUPING(category) = 0 THEN 'category'
				            WHEN GROUPING(country) = 0 THEN 'country' ELSE 'channel' END,
				       CASE WHEN GROUPING(product_id) = 0 THEN product_id WHEN GROUPING(category) = 0 THEN category
				            WHEN GROUPING(country) = 0 THEN country ELSE channel END,
				       currency, count(DISTINCT order_id), sum(quantity), sum(revenue_minor),
				       coalesce(sum(quantity) FILTER (WHERE unit_cost_minor IS NOT NULL), 0),
				       coalesce(sum(revenue_minor) FILTER (WHERE unit_cost_minor IS NOT NULL), 0),
				       coalesce(sum(quantity * unit_cost_minor), 0), $4, $5
				  FROM lines
				 GROUP BY GROUPING SETS ((product_id, currency), (category, currency), (country, currency), (channel, currency))
				RETURNING 1)
			SELECT count(*) FROM ins`,
			r.Grain, start, end, r.Complete, r.RunID).Scan(&dims)
		if err != nil {
			return fmt.Errorf("sales by dimension: %w", err)
		}
		res.SalesRows += dims
		err = tx.QueryRow(ctx, `
			WITH t AS (
				SELECT coalesce(sum(page_views), 0) AS page_views, coalesce(sum(product_views), 0) AS product_views,
				       coalesce(sum(searches), 0) AS searches, coalesce(sum(cart_adds), 0) AS cart_adds,
				       coalesce(sum(cart_removes), 0) AS cart_removes, coalesce(sum(checkouts), 0) AS checkouts
				  FROM traffic_minute WHERE minute >= $2 AND minute < $3
			), f AS (
				SELECT count(*) AS sessions,
				       count(*) FILTER (WHERE product_views > 0) AS product_view,
				       count(*) FILTER (WHERE cart_adds > 0) AS add_to_cart,
				       count(*) FILTER (WHERE checkout) AS checkout,
				       count(*) FILTER (WHERE purchase) AS purchase,
				       coalesce(sum(orders), 0) AS orders
				  FROM sessions WHERE started_at >= $2 AND started_at < $3
			), ins AS (
				INSERT INTO rollup_traffic (grain, period_start, page_views, product_views, searches, cart_adds, cart_removes,
				                            checkouts, sessions, funnel_product_view, funnel_add_to_cart, funnel_checkout,
				                            funnel_purchase, session_orders, complete, run_id)
				SELECT $1, $2, t.page_views, t.product_views, t.searches, t.cart_adds, t.cart_removes, t.checkouts,
				       f.sessions, f.product_view, f.add_to_cart, f.checkout, f.purchase, f.orders, $4, $5
				  FROM t, f
				 WHERE t.page_views + t.product_views + t.searches + t.cart_adds + t.cart_removes + t.checkouts + f.sessions > 0
				RETURNING 1)
			SELECT count(*) FROM ins`,
			r.Grain, start, end, r.Complete, r.RunID).Scan(&res.TrafficRows)
		if err != nil {
			return fmt.Errorf("traffic: %w", err)
		}
		err = tx.QueryRow(ctx, `
			WITH ins AS (
				INSERT INTO rollup_payments (grain, period_start, currency, authorized, failed, authorized_minor, refunds,
				                             refunded_minor, chargebacks, chargeback_minor, complete, run_id)
				SELECT $1, $2, currency, sum(authorized), sum(failed), sum(authorized_minor), sum(refunds),
				       sum(refunded_minor), sum(chargebacks), sum(chargeback_minor), $4, $5
				  FROM payments_minute WHERE minute >= $2 AND minute < $3 GROUP BY currency
				RETURNING 1)
			SELECT count(*) FROM ins`,
			r.Grain, start, end, r.Complete, r.RunID).Scan(&res.PaymentsRows)
		if err != nil {
			return fmt.Errorf("payments: %w", err)
		}
		positions, err := streamPositionsTx(ctx, tx, r.Topics)
		if err != nil {
			return err
		}
		return recordLineage(ctx, tx, Lineage{
			RunID: r.RunID, Workflow: r.Workflow, Step: "rollup-" + r.Grain + "-" + start.Format(time.RFC3339), Started: started,
			Inputs: map[string]any{
				"tables": []string{"revenue_minute", "order_lines", "orders", "inventory_movements", "traffic_minute", "sessions", "payments_minute"},
				"from":   start, "to": end, "complete": r.Complete, "stream_positions": positions,
			},
			Outputs: map[string]any{
				"tables":        rollupTables,
				"rows":          map[string]int64{"rollup_sales": res.SalesRows, "rollup_traffic": res.TrafficRows, "rollup_payments": res.PaymentsRows},
				"revenue_minor": res.RevenueMinor, "margin_minor": res.MarginMinor,
			},
		})
	})
	if err != nil {
		return PeriodRollupResult{}, fmt.Errorf("roll up %s %s: %w", r.Grain, start.Format(time.RFC3339), err)
	}
	return res, nil
}

// pricedLinesSQL selects the order lines of the event-time range [$2, $3)
// with their order's currency, country and channel, priced at the unit cost
// in force at $3: the last receipt cost before it, else the first after
// (NULL when the product has no receipt in that currency).
const pricedLinesSQL = `
	WITH raw AS (
		SELECT l.order_id, l.product_id, l.category, o.currency::text AS currency, o.country::text AS country, o.channel,
		       l.quantity, l.quantity * l.unit_price_minor AS revenue_minor
		  FROM order_lines l
		  JOIN orders o ON o.event_id = l.event_id AND o.event_time = l.event_time
		 WHERE l.event_time >= $2 AND l.event_time < $3 AND o.event_time >= $2 AND o.event_time < $3
	), costs AS (
		SELECT k.product_id, k.currency, c.unit_cost_minor
		  FROM (SELECT DISTINCT product_id, currency FROM raw) k
		  JOIN LATERAL (
			SELECT m.unit_cost_minor FROM inventory_movements m
			 WHERE m.product_id = k.product_id AND m.currency = k.currency AND m.unit_cost_minor > 0
			 ORDER BY m.event_time >= $3, abs(extract(epoch FROM m.event_time - $3)), m.event_id
			 LIMIT 1) c ON true
	)
	SELECT raw.*, costs.unit_cost_minor FROM raw LEFT JOIN costs USING (product_id, currency)`

// StreamPosition is a partition's stored position, as lineage records it.
type StreamPosition struct {
	NextOffset int64     `json:"next_offset"`
	Watermark  time.Time `json:"watermark"`
}

// streamPositionsTx returns topic -> partition -> position for the topics.
func streamPositionsTx(ctx context.Context, tx pgx.Tx, topics []string) (map[string]map[string]StreamPosition, error) {
	out := map[string]map[string]StreamPosition{}
	rows, err := tx.Query(ctx, `
		SELECT topic, partition, next_offset, coalesce(watermark, 'epoch')
		  FROM stream_offsets WHERE topic = ANY($1) ORDER BY topic, partition`, topics)
	if err != nil {
		return nil, fmt.Errorf("read stream positions: %w", err)
	}
	var topic string
	var p int
	var pos StreamPosition
	_, err = pgx.ForEachRow(rows, []any{&topic, &p, &pos.NextOffset, &pos.Watermark}, func() error {
		if out[topic] == nil {
			out[topic] = map[string]StreamPosition{}
		}
		out[topic][fmt.Sprint(p)] = pos
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read stream positions: %w", err)
	}
	return out, nil
}

// RaiseAlertNow opens an alert in its own transaction (see RaiseAlert). It
// reports whether it opened one: false while one with the key is open.
func (db *DB) RaiseAlertNow(ctx context.Context, a NewAlert) (bool, error) {
	var opened bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		opened, err = RaiseAlert(ctx, tx, a)
		return err
	})
	return opened, err
}

// ResolveAlertNow resolves the open alert with the key, if any, in its own
// transaction.
func (db *DB) ResolveAlertNow(ctx context.Context, dedupKey string, at time.Time, resolution map[string]any) (bool, error) {
	var resolved bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		resolved, err = ResolveAlert(ctx, tx, dedupKey, at, resolution)
		return err
	})
	return resolved, err
}
