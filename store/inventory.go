package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/events"
)

// PositionedMovement is a valid inventory movement with its place in the log.
type PositionedMovement struct {
	Movement events.InventoryAdjusted
	Offset   int64
}

// InventoryBatch is one micro-batch of one partition of the inventory topic:
// the messages at offsets [Start, End), each a movement or a dead letter.
type InventoryBatch struct {
	BatchMeta
	Movements []PositionedMovement
	// DefaultReorderPoint applies to a product and warehouse without a row
	// in reorder_points.
	DefaultReorderPoint int64
}

// StockKey is one product in one warehouse.
type StockKey struct {
	ProductID, WarehouseID string
}

func (k StockKey) String() string { return k.ProductID + "/" + k.WarehouseID }

func stockKeyLess(a, b StockKey) bool {
	if a.ProductID != b.ProductID {
		return a.ProductID < b.ProductID
	}
	return a.WarehouseID < b.WarehouseID
}

// CommitInventoryBatch stores a batch's movements (once per event id), adds
// their deltas to stock_levels, and raises or resolves the low-stock and
// stockout alerts their crossings cause, all under the offset fence of
// CommitBatch.
//
// Crossings are found by walking the applied movements in offset order from
// the stock and open alerts stored in Postgres, so several movements of one
// product and warehouse in one batch, and a restart between batches, give the
// same alerts as one movement per batch: a low-stock alert opens when stock
// falls to the reorder point or below and none is open, and resolves when
// stock rises above it; a stockout alert likewise at zero.
func (db *DB) CommitInventoryBatch(ctx context.Context, b InventoryBatch) (BatchResult, error) {
	return db.CommitBatch(ctx, b.BatchMeta, func(ctx context.Context, tx pgx.Tx, wm time.Time) (BatchResult, error) {
		var res BatchResult
		moves := make([]PositionedMovement, len(b.Movements))
		copy(moves, b.Movements)
		sort.SliceStable(moves, func(i, j int) bool { return moves[i].Offset < moves[j].Offset })

		inserted, err := insertMovements(ctx, tx, b.Topic, b.Partition, moves)
		if err != nil {
			return res, err
		}
		applied := moves[:0:0]
		for _, pm := range moves {
			if !inserted[pm.Movement.EventID] {
				res.Duplicates++
				continue
			}
			delete(inserted, pm.Movement.EventID) // a repeat inside the batch counts once
			res.Applied++
			if isLateMinute(wm, pm.Movement.EventTime) {
				res.Late++
			}
			if pm.Movement.EventTime.After(res.Watermark) {
				res.Watermark = pm.Movement.EventTime.UTC()
			}
			applied = append(applied, pm)
		}
		if len(applied) == 0 {
			return res, nil
		}
		if err := applyStock(ctx, tx, b, applied); err != nil {
			return res, err
		}
		return res, nil
	})
}

// stockState is what the walk knows of one product and warehouse.
type stockState struct {
	onHand, reorderPoint, delta int64
	lowOpen, outOpen            bool
}

func applyStock(ctx context.Context, tx pgx.Tx, b InventoryBatch, applied []PositionedMovement) error {
	states := map[StockKey]*stockState{}
	for _, pm := range applied {
		k := StockKey{pm.Movement.ProductID, pm.Movement.WarehouseID}
		if states[k] == nil {
			states[k] = &stockState{reorderPoint: b.DefaultReorderPoint}
		}
	}
	keys := make([]StockKey, 0, len(states))
	for k := range states {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return stockKeyLess(keys[i], keys[j]) })
	products, warehouses := make([]string, len(keys)), make([]string, len(keys))
	dedup := make([]string, 0, 2*len(keys))
	for i, k := range keys {
		products[i], warehouses[i] = k.ProductID, k.WarehouseID
		dedup = append(dedup, AlertLowStock+":"+k.String(), AlertStockout+":"+k.String())
	}

	// Lock the stock rows in key order, so two batches touching the same
	// products cannot deadlock, and read where the walk starts.
	rows, err := tx.Query(ctx, `
		SELECT s.product_id, s.warehouse_id, s.on_hand
		  FROM stock_levels s JOIN unnest($1::text[], $2::text[]) AS k(p, w)
		    ON s.product_id = k.p AND s.warehouse_id = k.w
		 ORDER BY s.product_id, s.warehouse_id FOR UPDATE OF s`, products, warehouses)
	if err != nil {
		return fmt.Errorf("lock stock levels: %w", err)
	}
	var k StockKey
	var onHand int64
	_, err = pgx.ForEachRow(rows, []any{&k.ProductID, &k.WarehouseID, &onHand}, func() error {
		states[k].onHand = onHand
		return nil
	})
	if err != nil {
		return fmt.Errorf("lock stock levels: %w", err)
	}
	rows, err = tx.Query(ctx, `
		SELECT r.product_id, r.warehouse_id, r.reorder_point
		  FROM reorder_points r JOIN unnest($1::text[], $2::text[]) AS k(p, w)
		    ON r.product_id = k.p AND r.warehouse_id = k.w`, products, warehouses)
	if err != nil {
		return fmt.Errorf("read reorder points: %w", err)
	}
	var rp int64
	_, err = pgx.ForEachRow(rows, []any{&k.ProductID, &k.WarehouseID, &rp}, func() error {
		states[k].reorderPoint = rp
		return nil
	})
	if err != nil {
		return fmt.Errorf("read reorder points: %w", err)
	}
	open, err := openAlertKeys(ctx, tx, dedup)
	if err != nil {
		return err
	}
	for _, k := range keys {
		s := states[k]
		s.lowOpen, s.outOpen = open[AlertLowStock+":"+k.String()], open[AlertStockout+":"+k.String()]
	}

	// Walk in offset order; each change of state is one alert statement.
	for _, pm := range applied {
		m := pm.Movement
		k := StockKey{m.ProductID, m.WarehouseID}
		s := states[k]
		s.onHand += m.Delta
		s.delta += m.Delta
		cause := map[string]any{
			"product_id": m.ProductID, "warehouse_id": m.WarehouseID, "on_hand": s.onHand,
			"reorder_point": s.reorderPoint, "event_id": m.EventID, "reason": m.Reason,
			"topic": b.Topic, "partition": b.Partition, "offset": pm.Offset,
		}
		if err := crossing(ctx, tx, &s.lowOpen, s.onHand <= s.reorderPoint, NewAlert{
			Type: AlertLowStock, Entity: k.String(), Severity: SeverityWarning,
			DedupKey: AlertLowStock + ":" + k.String(), OpenedAt: m.EventTime, Details: cause,
		}); err != nil {
			return err
		}
		if err := crossing(ctx, tx, &s.outOpen, s.onHand <= 0, NewAlert{
			Type: AlertStockout, Entity: k.String(), Severity: SeverityCritical,
			DedupKey: AlertStockout + ":" + k.String(), OpenedAt: m.EventTime, Details: cause,
		}); err != nil {
			return err
		}
	}

	deltas := make([]int64, len(keys))
	for i, k := range keys {
		deltas[i] = states[k].delta
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO stock_levels AS t (product_id, warehouse_id, on_hand)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
		ON CONFLICT (product_id, warehouse_id) DO UPDATE SET
			on_hand = t.on_hand + excluded.on_hand, updated_at = now()`,
		products, warehouses, deltas); err != nil {
		return fmt.Errorf("upsert stock levels: %w", err)
	}
	return nil
}

// crossing opens the alert when the condition starts to hold and resolves it
// when it stops, tracking in *open whether one is open.
func crossing(ctx context.Context, tx pgx.Tx, open *bool, holds bool, a NewAlert) error {
	switch {
	case holds && !*open:
		if _, err := RaiseAlert(ctx, tx, a); err != nil {
			return err
		}
	case !holds && *open:
		if _, err := ResolveAlert(ctx, tx, a.DedupKey, a.OpenedAt, a.Details); err != nil {
			return err
		}
	default:
		return nil
	}
	*open = holds
	return nil
}

// insertMovements stores movements, skipping event ids already stored, and
// returns the set of event ids it inserted.
func insertMovements(ctx context.Context, tx pgx.Tx, topic string, partition int, moves []PositionedMovement) (map[string]bool, error) {
	inserted := make(map[string]bool, len(moves))
	if len(moves) == 0 {
		return inserted, nil
	}
	n := len(moves)
	ids, products, warehouses, reasons, suppliers, currencies := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	deltas, costs, offsets := make([]int64, n), make([]int64, n), make([]int64, n)
	leads := make([]int32, n)
	for i, pm := range moves {
		m := pm.Movement
		ids[i], products[i], warehouses[i], reasons[i] = m.EventID, m.ProductID, m.WarehouseID, m.Reason
		suppliers[i], currencies[i], times[i] = m.SupplierID, m.Currency, m.EventTime.UTC()
		deltas[i], costs[i], offsets[i], leads[i] = m.Delta, m.UnitCostMinor, pm.Offset, int32(m.LeadTimeDays)
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO inventory_movements (event_id, event_time, product_id, warehouse_id, delta, reason,
		                                 supplier_id, lead_time_days, unit_cost_minor, currency, kafka_offset, topic, partition)
		SELECT u.*, $12, $13
		  FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[], $6::text[],
		              $7::text[], $8::int[], $9::bigint[], $10::text[], $11::bigint[]) AS u
		ON CONFLICT (event_id) DO NOTHING
		RETURNING event_id`,
		ids, times, products, warehouses, deltas, reasons, suppliers, leads, costs, currencies, offsets, topic, partition)
	if err != nil {
		return nil, fmt.Errorf("insert inventory movements: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("insert inventory movements: %w", err)
	}
	for _, id := range got {
		inserted[id] = true
	}
	return inserted, nil
}

// StockLevel is one row of stock_levels.
type StockLevel struct {
	StockKey
	OnHand int64
}

// StockLevels returns every stock level, by product and warehouse.
func (db *DB) StockLevels(ctx context.Context) ([]StockLevel, error) {
	rows, err := db.Pool.Query(ctx, `SELECT product_id, warehouse_id, on_hand FROM stock_levels ORDER BY product_id, warehouse_id`)
	if err != nil {
		return nil, fmt.Errorf("read stock levels: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StockLevel, error) {
		var s StockLevel
		err := r.Scan(&s.ProductID, &s.WarehouseID, &s.OnHand)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read stock levels: %w", err)
	}
	return out, nil
}

// SetReorderPoint sets the reorder point of a product in a warehouse. It
// takes effect from the next inventory batch.
func (db *DB) SetReorderPoint(ctx context.Context, k StockKey, point int64) error {
	_, err := db.Pool.Exec(ctx, `
		INSERT INTO reorder_points (product_id, warehouse_id, reorder_point) VALUES ($1, $2, $3)
		ON CONFLICT (product_id, warehouse_id) DO UPDATE SET reorder_point = excluded.reorder_point, updated_at = now()`,
		k.ProductID, k.WarehouseID, point)
	if err != nil {
		return fmt.Errorf("set reorder point of %s: %w", k, err)
	}
	return nil
}
