package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/events"
)

// PositionedPriceChange is a valid price_changed with its place in the log.
type PositionedPriceChange struct {
	Change events.PriceChanged
	Offset int64
}

// PositionedCompetitorPrice is a valid competitor_price with its place in
// the log.
type PositionedCompetitorPrice struct {
	Price  events.CompetitorPrice
	Offset int64
}

// MarketBatch is one micro-batch of one partition of the market topic.
type MarketBatch struct {
	BatchMeta
	PriceChanges     []PositionedPriceChange
	CompetitorPrices []PositionedCompetitorPrice
}

// CommitMarketBatch stores a batch's price changes and competitor prices as
// facts (once per event id) and moves competitor_prices_latest to the
// latest price of each product and competitor by (event time, event id),
// under the offset fence of CommitBatch. The latest row depends only on the
// set of prices stored, never on arrival order.
func (db *DB) CommitMarketBatch(ctx context.Context, b MarketBatch) (BatchResult, error) {
	return db.CommitBatch(ctx, b.BatchMeta, func(ctx context.Context, tx pgx.Tx, wm time.Time) (BatchResult, error) {
		var res BatchResult
		apply := func(inserted map[string]bool, id string, at time.Time) bool {
			if !inserted[id] {
				res.Duplicates++
				return false
			}
			delete(inserted, id)
			res.Applied++
			if isLateMinute(wm, at) {
				res.Late++
			}
			if at.After(res.Watermark) {
				res.Watermark = at.UTC()
			}
			return true
		}
		inserted, err := insertPriceChanges(ctx, tx, b)
		if err != nil {
			return res, err
		}
		for _, pc := range b.PriceChanges {
			apply(inserted, pc.Change.EventID, pc.Change.EventTime)
		}
		if inserted, err = insertCompetitorPrices(ctx, tx, b); err != nil {
			return res, err
		}
		type key struct{ product, competitor string }
		latest := map[key]events.CompetitorPrice{}
		for _, cp := range b.CompetitorPrices {
			p := cp.Price
			if !apply(inserted, p.EventID, p.EventTime) {
				continue
			}
			k := key{p.ProductID, p.Competitor}
			if cur, ok := latest[k]; !ok || laterEvent(p.EventTime, p.EventID, cur.EventTime, cur.EventID) {
				latest[k] = p
			}
		}
		rows := make([]events.CompetitorPrice, 0, len(latest))
		for _, p := range latest {
			rows = append(rows, p)
		}
		sort.Slice(rows, func(i, j int) bool {
			if rows[i].ProductID != rows[j].ProductID {
				return rows[i].ProductID < rows[j].ProductID
			}
			return rows[i].Competitor < rows[j].Competitor
		})
		return res, upsertLatestCompetitorPrices(ctx, tx, rows)
	})
}

// laterEvent orders events by event time, then event id.
func laterEvent(at time.Time, id string, than time.Time, thanID string) bool {
	if !at.Equal(than) {
		return at.After(than)
	}
	return id > thanID
}

func insertPriceChanges(ctx context.Context, tx pgx.Tx, b MarketBatch) (map[string]bool, error) {
	if len(b.PriceChanges) == 0 {
		return map[string]bool{}, nil
	}
	n := len(b.PriceChanges)
	ids, products, currencies, reasons := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	olds, news, offsets := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, pc := range b.PriceChanges {
		c := pc.Change
		ids[i], products[i], currencies[i], reasons[i] = c.EventID, c.ProductID, c.Currency, c.Reason
		times[i], olds[i], news[i], offsets[i] = c.EventTime.UTC(), c.OldPriceMinor, c.NewPriceMinor, pc.Offset
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO price_changes (event_id, event_time, product_id, old_price_minor, new_price_minor, currency, reason,
		                           kafka_offset, topic, partition)
		SELECT u.event_id, u.event_time, u.product_id, u.old_price, u.new_price, u.currency, nullif(u.reason, ''),
		       u.kafka_offset, $9, $10
		  FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[], $8::bigint[])
		       AS u(event_id, event_time, product_id, old_price, new_price, currency, reason, kafka_offset)
		ON CONFLICT (event_id) DO NOTHING
		RETURNING event_id`,
		ids, times, products, olds, news, currencies, reasons, offsets, b.Topic, b.Partition)
	if err != nil {
		return nil, fmt.Errorf("insert price changes: %w", err)
	}
	return collectIDs(rows, "price changes")
}

func insertCompetitorPrices(ctx context.Context, tx pgx.Tx, b MarketBatch) (map[string]bool, error) {
	if len(b.CompetitorPrices) == 0 {
		return map[string]bool{}, nil
	}
	n := len(b.CompetitorPrices)
	ids, products, competitors, currencies := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	prices, offsets := make([]int64, n), make([]int64, n)
	inStock := make([]bool, n)
	for i, cp := range b.CompetitorPrices {
		p := cp.Price
		ids[i], products[i], competitors[i], currencies[i] = p.EventID, p.ProductID, p.Competitor, p.Currency
		times[i], prices[i], offsets[i], inStock[i] = p.EventTime.UTC(), p.PriceMinor, cp.Offset, p.InStock
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO competitor_prices (event_id, event_time, product_id, competitor, price_minor, currency, in_stock,
		                               kafka_offset, topic, partition)
		SELECT u.*, $8, $9
		  FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::boolean[], $10::bigint[]) AS u
		ON CONFLICT (event_id) DO NOTHING
		RETURNING event_id`,
		ids, times, products, competitors, prices, currencies, inStock, b.Topic, b.Partition, offsets)
	if err != nil {
		return nil, fmt.Errorf("insert competitor prices: %w", err)
	}
	return collectIDs(rows, "competitor prices")
}

// upsertLatestCompetitorPrices keeps, per product and competitor, the row
// with the greatest (event time, event id). rows are sorted by key, the
// order their rows are locked in.
func upsertLatestCompetitorPrices(ctx context.Context, tx pgx.Tx, rows []events.CompetitorPrice) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	products, competitors, ids, currencies := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	prices := make([]int64, n)
	inStock := make([]bool, n)
	for i, p := range rows {
		products[i], competitors[i], ids[i], currencies[i] = p.ProductID, p.Competitor, p.EventID, p.Currency
		times[i], prices[i], inStock[i] = p.EventTime.UTC(), p.PriceMinor, p.InStock
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO competitor_prices_latest AS t (product_id, competitor, event_time, event_id, price_minor, currency, in_stock)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::bigint[], $6::text[], $7::boolean[])
		ON CONFLICT (product_id, competitor) DO UPDATE SET
			event_time = excluded.event_time, event_id = excluded.event_id, price_minor = excluded.price_minor,
			currency = excluded.currency, in_stock = excluded.in_stock
		WHERE (excluded.event_time, excluded.event_id) > (t.event_time, t.event_id)`,
		products, competitors, times, ids, prices, currencies, inStock)
	if err != nil {
		return fmt.Errorf("upsert latest competitor prices: %w", err)
	}
	return nil
}

// CompetitorPrice is the latest price of one product at one competitor.
type CompetitorPrice struct {
	ProductID, Competitor string
	EventTime             time.Time
	PriceMinor            int64
	Currency              string
	InStock               bool
}

// LatestCompetitorPrices returns the latest price of every product at every
// competitor, by product and competitor.
func (db *DB) LatestCompetitorPrices(ctx context.Context) ([]CompetitorPrice, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT product_id, competitor, event_time, price_minor, currency, in_stock
		  FROM competitor_prices_latest ORDER BY product_id, competitor`)
	if err != nil {
		return nil, fmt.Errorf("read competitor prices: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (CompetitorPrice, error) {
		var p CompetitorPrice
		err := r.Scan(&p.ProductID, &p.Competitor, &p.EventTime, &p.PriceMinor, &p.Currency, &p.InStock)
		p.EventTime = p.EventTime.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("read competitor prices: %w", err)
	}
	return out, nil
}
