package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Purchase order statuses.
const (
	PODraft            = "draft"
	POAwaitingApproval = "awaiting_approval"
	POApproved         = "approved"
	PORejected         = "rejected"
	POExpired          = "expired"
	POSent             = "sent"
	POReceived         = "received"
	POLate             = "late"
)

// AlertSupplierLate is raised when a purchase order's receipt is overdue.
const AlertSupplierLate = "supplier_late"

// ErrPOState is returned when a purchase order is not in a status the
// change is allowed from (approving a rejected order, say).
var ErrPOState = errors.New("purchase order is not in a status that allows this")

// PurchaseOrder is one row of purchase_orders.
type PurchaseOrder struct {
	ID            string          `json:"po_id"`
	ProductID     string          `json:"product_id"`
	WarehouseID   string          `json:"warehouse_id"`
	SupplierID    string          `json:"supplier_id"`
	Quantity      int64           `json:"quantity"`
	UnitCostMinor int64           `json:"unit_cost_minor"`
	Currency      string          `json:"currency"`
	ValueMinor    int64           `json:"value_minor"`
	LeadTimeDays  int             `json:"lead_time_days"`
	Status        string          `json:"status"`
	Plan          json.RawMessage `json:"plan,omitempty"`
	WorkflowID    string          `json:"workflow_id"`
	RunID         string          `json:"run_id"`
	DecidedBy     string          `json:"decided_by,omitempty"`
	DecidedAt     time.Time       `json:"decided_at,omitzero"`
	DecisionNote  string          `json:"decision_note,omitempty"`
	// ApprovalDeadline is when an order awaiting approval expires.
	ApprovalDeadline time.Time `json:"approval_deadline,omitzero"`
	SentAt           time.Time `json:"sent_at,omitzero"`
	DueAt            time.Time `json:"due_at,omitzero"`
	ReceivedAt       time.Time `json:"received_at,omitzero"`
	ReceiptEventID   string    `json:"receipt_event_id,omitempty"`
	ReceivedQuantity int64     `json:"received_quantity,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
}

// Open reports whether the order may still bring stock: approved, sent or late.
func (p PurchaseOrder) Open() bool {
	return p.Status == POApproved || p.Status == POSent || p.Status == POLate
}

const poColumns = `po_id, product_id, warehouse_id, supplier_id, quantity, unit_cost_minor, currency, value_minor,
	lead_time_days, status, plan, workflow_id, run_id, coalesce(decided_by, ''), decided_at, decision_note,
	approval_deadline, sent_at, due_at, received_at, coalesce(receipt_event_id, ''), coalesce(received_quantity, 0), created_at`

func scanPO(r pgx.CollectableRow) (PurchaseOrder, error) {
	var p PurchaseOrder
	var decided, deadline, sent, due, received *time.Time
	err := r.Scan(&p.ID, &p.ProductID, &p.WarehouseID, &p.SupplierID, &p.Quantity, &p.UnitCostMinor, &p.Currency,
		&p.ValueMinor, &p.LeadTimeDays, &p.Status, &p.Plan, &p.WorkflowID, &p.RunID, &p.DecidedBy, &decided,
		&p.DecisionNote, &deadline, &sent, &due, &received, &p.ReceiptEventID, &p.ReceivedQuantity, &p.CreatedAt)
	p.DecidedAt, p.ApprovalDeadline, p.SentAt, p.DueAt, p.ReceivedAt = utc(decided), utc(deadline), utc(sent), utc(due), utc(received)
	p.CreatedAt = p.CreatedAt.UTC()
	return p, err
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func queryPOs(ctx context.Context, q pgx.Tx, where string, args ...any) ([]PurchaseOrder, error) {
	rows, err := q.Query(ctx, `SELECT `+poColumns+` FROM purchase_orders `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read purchase orders: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanPO)
	if err != nil {
		return nil, fmt.Errorf("read purchase orders: %w", err)
	}
	return out, nil
}

// PurchaseOrder returns one purchase order, or ErrNotFound.
func (db *DB) PurchaseOrder(ctx context.Context, id string) (PurchaseOrder, error) {
	var out PurchaseOrder
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = onePO(ctx, tx, id, false)
		return err
	})
	return out, err
}

func onePO(ctx context.Context, tx pgx.Tx, id string, lock bool) (PurchaseOrder, error) {
	where := `WHERE po_id = $1`
	if lock {
		where += ` FOR UPDATE`
	}
	ps, err := queryPOs(ctx, tx, where, id)
	if err != nil {
		return PurchaseOrder{}, err
	}
	if len(ps) == 0 {
		return PurchaseOrder{}, fmt.Errorf("purchase order %s: %w", id, ErrNotFound)
	}
	return ps[0], nil
}

// PurchaseOrders returns the purchase orders of a product and warehouse,
// oldest first; every one when k is zero.
func (db *DB) PurchaseOrders(ctx context.Context, k StockKey) ([]PurchaseOrder, error) {
	var out []PurchaseOrder
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = queryPOs(ctx, tx, `WHERE ($1 = '' OR (product_id = $1 AND warehouse_id = $2)) ORDER BY created_at, po_id`,
			k.ProductID, k.WarehouseID)
		return err
	})
	return out, err
}

// ReplenishmentKeys returns up to limit product and warehouse pairs of
// stock_levels after the key after (zero: from the start), in key order.
func (db *DB) ReplenishmentKeys(ctx context.Context, after StockKey, limit int) ([]StockKey, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT product_id, warehouse_id FROM stock_levels
		 WHERE (product_id, warehouse_id) > ($1, $2)
		 ORDER BY product_id, warehouse_id LIMIT $3`, after.ProductID, after.WarehouseID, limit)
	if err != nil {
		return nil, fmt.Errorf("read replenishment keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StockKey, error) {
		var k StockKey
		err := r.Scan(&k.ProductID, &k.WarehouseID)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("read replenishment keys: %w", err)
	}
	return out, nil
}

// SupplyTerms are a product's supplier, lead time and unit cost in a
// warehouse, from its latest receipt.
type SupplyTerms struct {
	Known         bool   `json:"known"` // a receipt with a supplier was found
	SupplierID    string `json:"supplier_id"`
	LeadTimeDays  int    `json:"lead_time_days"`
	UnitCostMinor int64  `json:"unit_cost_minor"`
	Currency      string `json:"currency"`
}

// ReplenishmentState is what a replenishment decision reads for one product
// and warehouse at one time.
type ReplenishmentState struct {
	OnHand int64
	Supply SupplyTerms
	// Open are the orders that may still bring stock (approved, sent or
	// late and not abandoned), oldest first.
	Open []PurchaseOrder
	// Pending is the order awaiting approval, if any.
	Pending *PurchaseOrder
}

// ReplenishmentState reads the stock on hand, supply terms and open
// purchase orders of k. Orders late for longer than abandonAfter past their
// due time at now are not counted.
func (db *DB) ReplenishmentState(ctx context.Context, k StockKey, now time.Time, abandonAfter time.Duration) (ReplenishmentState, error) {
	var st ReplenishmentState
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT coalesce((SELECT on_hand FROM stock_levels WHERE product_id = $1 AND warehouse_id = $2), 0)`,
			k.ProductID, k.WarehouseID).Scan(&st.OnHand)
		if err != nil {
			return fmt.Errorf("read stock of %s: %w", k, err)
		}
		err = tx.QueryRow(ctx, `
			SELECT supplier_id, lead_time_days, unit_cost_minor, currency FROM inventory_movements
			 WHERE product_id = $1 AND warehouse_id = $2 AND reason = 'receipt' AND supplier_id <> ''
			 ORDER BY event_time DESC, event_id DESC LIMIT 1`, k.ProductID, k.WarehouseID).
			Scan(&st.Supply.SupplierID, &st.Supply.LeadTimeDays, &st.Supply.UnitCostMinor, &st.Supply.Currency)
		switch {
		case err == nil:
			st.Supply.Known = true
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("read supply terms of %s: %w", k, err)
		}
		pos, err := queryPOs(ctx, tx, `
			WHERE product_id = $1 AND warehouse_id = $2
			  AND status IN ('draft', 'awaiting_approval', 'approved', 'sent', 'late')
			ORDER BY created_at, po_id`, k.ProductID, k.WarehouseID)
		if err != nil {
			return err
		}
		for i := range pos {
			p := pos[i]
			switch {
			case p.Status == PODraft || p.Status == POAwaitingApproval:
				st.Pending = &p
			case p.Status == POLate && !p.DueAt.IsZero() && now.Sub(p.DueAt) > abandonAfter:
				// Given up on: neither counted nor waited for.
			default:
				st.Open = append(st.Open, p)
			}
		}
		return nil
	})
	return st, err
}

// DraftPurchaseOrder stores po (its ID is the idempotency key) with status
// awaiting_approval when needsApproval, else approved by "auto", and the
// lineage of the decision, in one transaction. A second call with the same
// ID changes nothing and returns the stored order.
func (db *DB) DraftPurchaseOrder(ctx context.Context, po PurchaseOrder, needsApproval bool, lin Lineage) (PurchaseOrder, error) {
	if po.ID == "" || po.ProductID == "" || po.WarehouseID == "" || po.Quantity <= 0 {
		return PurchaseOrder{}, fmt.Errorf("draft purchase order: id, product, warehouse and a positive quantity are required")
	}
	var out PurchaseOrder
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		status, decidedBy := POApproved, "auto:below-threshold"
		if needsApproval {
			status, decidedBy = POAwaitingApproval, ""
		}
		tag, err := tx.Exec(ctx, `
			INSERT INTO purchase_orders (po_id, product_id, warehouse_id, supplier_id, quantity, unit_cost_minor, currency,
			                             value_minor, lead_time_days, status, plan, workflow_id, run_id,
			                             decided_by, decided_at, approval_deadline)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, nullif($14, ''),
			        CASE WHEN $14 <> '' THEN now() END, $15)
			ON CONFLICT (po_id) DO NOTHING`,
			po.ID, po.ProductID, po.WarehouseID, po.SupplierID, po.Quantity, po.UnitCostMinor, po.Currency,
			po.Quantity*po.UnitCostMinor, po.LeadTimeDays, status, jsonOr(po.Plan), po.WorkflowID, po.RunID,
			decidedBy, nullTime(po.ApprovalDeadline))
		if err != nil {
			return fmt.Errorf("draft purchase order %s: %w", po.ID, err)
		}
		if tag.RowsAffected() == 1 {
			lin.Outputs["purchase_orders"] = 1
			lin.Outputs["status"] = status
			if err := recordLineage(ctx, tx, lin); err != nil {
				return err
			}
		}
		out, err = onePO(ctx, tx, po.ID, false)
		return err
	})
	return out, err
}

// DecidePurchaseOrder approves or rejects an order awaiting approval,
// recording who and why; an approver may lower or raise the quantity
// (quantity > 0; 0 keeps it). Deciding again the way it was decided changes
// nothing; any other change of a decided order is ErrPOState.
func (db *DB) DecidePurchaseOrder(ctx context.Context, id string, approve bool, by, note string, quantity int64) (PurchaseOrder, error) {
	want := PORejected
	if approve {
		want = POApproved
	}
	var out PurchaseOrder
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		p, err := onePO(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if p.Status != POAwaitingApproval {
			if p.DecidedBy == by && (p.Status == want || (approve && p.Open()) || (approve && p.Status == POReceived)) {
				out = p
				return nil
			}
			return fmt.Errorf("decide purchase order %s (%s): %w", id, p.Status, ErrPOState)
		}
		if quantity <= 0 {
			quantity = p.Quantity
		}
		if _, err := tx.Exec(ctx, `
			UPDATE purchase_orders SET status = $2, decided_by = $3, decided_at = now(), decision_note = $4,
			       quantity = $5, value_minor = $5 * unit_cost_minor, updated_at = now()
			 WHERE po_id = $1`, id, want, by, note, quantity); err != nil {
			return fmt.Errorf("decide purchase order %s: %w", id, err)
		}
		out, err = onePO(ctx, tx, id, false)
		return err
	})
	return out, err
}

// ExpirePurchaseOrder expires an order still awaiting approval and returns
// it; an order decided meanwhile is returned as it is.
func (db *DB) ExpirePurchaseOrder(ctx context.Context, id string) (PurchaseOrder, error) {
	return db.transitionPO(ctx, id, POAwaitingApproval, func(ctx context.Context, tx pgx.Tx, p PurchaseOrder) error {
		_, err := tx.Exec(ctx, `UPDATE purchase_orders SET status = 'expired', decided_by = 'expired', decided_at = now(), updated_at = now() WHERE po_id = $1`, id)
		return err
	})
}

// SendPurchaseOrder marks an approved order sent (to its supplier) now,
// due its lead time later; an order already sent, late or received is
// returned as it is.
func (db *DB) SendPurchaseOrder(ctx context.Context, id string) (PurchaseOrder, error) {
	return db.transitionPO(ctx, id, POApproved, func(ctx context.Context, tx pgx.Tx, p PurchaseOrder) error {
		_, err := tx.Exec(ctx, `
			UPDATE purchase_orders SET status = 'sent', sent_at = now(),
			       due_at = now() + make_interval(days => lead_time_days), updated_at = now()
			 WHERE po_id = $1`, id)
		return err
	})
}

// transitionPO applies change when the order is in status from, and returns
// the order after. An order in a later status is returned unchanged (a
// retried activity); one in an earlier or unrelated status is ErrPOState.
func (db *DB) transitionPO(ctx context.Context, id, from string, change func(context.Context, pgx.Tx, PurchaseOrder) error) (PurchaseOrder, error) {
	var out PurchaseOrder
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		p, err := onePO(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if p.Status == from {
			if err := change(ctx, tx, p); err != nil {
				return fmt.Errorf("purchase order %s from %s: %w", id, from, err)
			}
		} else if from == POApproved && p.Status != POSent && p.Status != POLate && p.Status != POReceived {
			return fmt.Errorf("send purchase order %s (%s): %w", id, p.Status, ErrPOState)
		}
		out, err = onePO(ctx, tx, id, false)
		return err
	})
	return out, err
}

// ReceivePurchaseOrder looks for the receipt of a sent or late order: the
// earliest inventory movement with reason receipt for its product and
// warehouse at or after the order was drafted that no other order has
// claimed. When there is one, it claims it, marks the order received (at
// the receipt's event time) and resolves its supplier_late alert, in one
// transaction, and reports true. A receipt stored before this is called is
// found all the same: the wait polls stored facts, so it cannot miss one.
func (db *DB) ReceivePurchaseOrder(ctx context.Context, id string) (PurchaseOrder, bool, error) {
	var out PurchaseOrder
	var got bool
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		p, err := onePO(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if p.Status == POReceived {
			out, got = p, true
			return nil
		}
		if p.Status != POSent && p.Status != POLate {
			return fmt.Errorf("receive purchase order %s (%s): %w", id, p.Status, ErrPOState)
		}
		var eventID string
		var at time.Time
		var qty int64
		err = tx.QueryRow(ctx, `
			SELECT m.event_id, m.event_time, m.delta FROM inventory_movements m
			 WHERE m.product_id = $1 AND m.warehouse_id = $2 AND m.reason = 'receipt' AND m.delta > 0
			   AND m.event_time >= $3
			   AND NOT EXISTS (SELECT 1 FROM purchase_orders o WHERE o.receipt_event_id = m.event_id)
			 ORDER BY m.event_time, m.event_id LIMIT 1`, p.ProductID, p.WarehouseID, p.CreatedAt).Scan(&eventID, &at, &qty)
		if errors.Is(err, pgx.ErrNoRows) {
			out = p
			return nil
		}
		if err != nil {
			return fmt.Errorf("find receipt of %s: %w", id, err)
		}
		if _, err := tx.Exec(ctx, `
			UPDATE purchase_orders SET status = 'received', received_at = $2, receipt_event_id = $3,
			       received_quantity = $4, updated_at = now()
			 WHERE po_id = $1`, id, at, eventID, qty); err != nil {
			return fmt.Errorf("receive purchase order %s: %w", id, err)
		}
		if _, err := ResolveAlert(ctx, tx, AlertSupplierLate+":"+id, at, map[string]any{
			"receipt_event_id": eventID, "received_quantity": qty,
		}); err != nil {
			return err
		}
		got = true
		out, err = onePO(ctx, tx, id, false)
		return err
	})
	return out, got, err
}

// MarkPurchaseOrderLate marks a sent order late and opens its supplier_late
// alert (once), in one transaction; a late or received order is returned
// as it is.
func (db *DB) MarkPurchaseOrderLate(ctx context.Context, id string, at time.Time) (PurchaseOrder, error) {
	var out PurchaseOrder
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		p, err := onePO(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if p.Status == POLate || p.Status == POReceived {
			out = p
			return nil
		}
		if p.Status != POSent {
			return fmt.Errorf("mark purchase order %s late (%s): %w", id, p.Status, ErrPOState)
		}
		if _, err := tx.Exec(ctx, `UPDATE purchase_orders SET status = 'late', updated_at = now() WHERE po_id = $1`, id); err != nil {
			return fmt.Errorf("mark purchase order %s late: %w", id, err)
		}
		if _, err := RaiseAlert(ctx, tx, NewAlert{
			Type: AlertSupplierLate, Entity: StockKey{p.ProductID, p.WarehouseID}.String(), Severity: SeverityWarning,
			DedupKey: AlertSupplierLate + ":" + id, OpenedAt: at,
			Details: map[string]any{
				"po_id": id, "supplier_id": p.SupplierID, "product_id": p.ProductID, "warehouse_id": p.WarehouseID,
				"quantity": p.Quantity, "sent_at": p.SentAt, "due_at": p.DueAt, "lead_time_days": p.LeadTimeDays,
			},
		}); err != nil {
			return err
		}
		out, err = onePO(ctx, tx, id, false)
		return err
	})
	return out, err
}

// RecordLineage stores what one step of a batch run read and wrote; a
// retried step keeps one row, the last.
func (db *DB) RecordLineage(ctx context.Context, l Lineage) error {
	return db.inTx(ctx, func(tx pgx.Tx) error { return recordLineage(ctx, tx, l) })
}

// DailySales returns the units of k sold per UTC day over the days
// [from, to), oldest first, zeros included: the sale movements of the
// inventory topic, as order lines carry no warehouse.
func (db *DB) DailySales(ctx context.Context, k StockKey, from, to time.Time) ([]float64, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT coalesce(sum(-m.delta), 0)::float8
		  FROM generate_series($3::date, $4::date - 1, interval '1 day') AS d(day)
		  LEFT JOIN inventory_movements m
		    ON m.product_id = $1 AND m.warehouse_id = $2 AND m.reason = 'sale'
		   AND m.event_time >= d.day AT TIME ZONE 'UTC' AND m.event_time < (d.day + interval '1 day') AT TIME ZONE 'UTC'
		 GROUP BY d.day ORDER BY d.day`, k.ProductID, k.WarehouseID, from.UTC().Format(time.DateOnly), to.UTC().Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("read daily sales of %s: %w", k, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[float64])
	if err != nil {
		return nil, fmt.Errorf("read daily sales of %s: %w", k, err)
	}
	return out, nil
}
