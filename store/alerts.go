package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Alert types raised on the hot path.
const (
	AlertLowStock = "low_stock"
	AlertStockout = "stockout"
)

// Alert severities.
const (
	SeverityWarning  = "warning"
	SeverityCritical = "critical"
)

// NewAlert is an alert to raise. DedupKey names what it is about: while an
// alert with the same key is open, raising it again changes nothing.
type NewAlert struct {
	Type, Entity, Severity, DedupKey string
	// OpenedAt is the event time of what raised it.
	OpenedAt time.Time
	Details  map[string]any
}

// Alert is one row of alerts.
type Alert struct {
	ID                               int64
	Type, Entity, Severity, DedupKey string
	OpenedAt                         time.Time
	// ResolvedAt is zero while the alert is open.
	ResolvedAt  time.Time
	Details     json.RawMessage
	CreatedAt   time.Time
	DeliveredAt time.Time
}

// RaiseAlert opens an alert inside tx, the transaction of the data that
// raised it, unless one with the same dedup key is open. It reports whether
// it opened one.
func RaiseAlert(ctx context.Context, tx pgx.Tx, a NewAlert) (bool, error) {
	details, err := json.Marshal(a.Details)
	if err != nil {
		return false, fmt.Errorf("raise %s alert: details: %w", a.Type, err)
	}
	if a.Details == nil {
		details = []byte("{}")
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO alerts (type, entity, severity, dedup_key, opened_at, details)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (dedup_key) WHERE resolved_at IS NULL DO NOTHING`,
		a.Type, a.Entity, a.Severity, a.DedupKey, a.OpenedAt.UTC(), details)
	if err != nil {
		return false, fmt.Errorf("raise %s alert on %s: %w", a.Type, a.Entity, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ResolveAlert resolves the open alert with the dedup key, if any, inside tx,
// at the event time at, and merges resolution into its details under
// "resolution". It reports whether an alert was open.
func ResolveAlert(ctx context.Context, tx pgx.Tx, dedupKey string, at time.Time, resolution map[string]any) (bool, error) {
	r, err := json.Marshal(resolution)
	if err != nil {
		return false, fmt.Errorf("resolve alert %s: details: %w", dedupKey, err)
	}
	tag, err := tx.Exec(ctx, `
		UPDATE alerts SET resolved_at = greatest(opened_at, $2),
		       details = details || jsonb_build_object('resolution', $3::jsonb)
		 WHERE dedup_key = $1 AND resolved_at IS NULL`, dedupKey, at.UTC(), r)
	if err != nil {
		return false, fmt.Errorf("resolve alert %s: %w", dedupKey, err)
	}
	return tag.RowsAffected() == 1, nil
}

// openAlertKeys returns which of the dedup keys have an open alert.
func openAlertKeys(ctx context.Context, tx pgx.Tx, keys []string) (map[string]bool, error) {
	open := map[string]bool{}
	if len(keys) == 0 {
		return open, nil
	}
	rows, err := tx.Query(ctx, `SELECT dedup_key FROM alerts WHERE dedup_key = ANY($1) AND resolved_at IS NULL`, keys)
	if err != nil {
		return nil, fmt.Errorf("read open alerts: %w", err)
	}
	ks, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read open alerts: %w", err)
	}
	for _, k := range ks {
		open[k] = true
	}
	return open, nil
}

const alertColumns = `id, type, entity, severity, dedup_key, opened_at, coalesce(resolved_at, 'epoch'),
	details, created_at, coalesce(delivered_at, 'epoch')`

func scanAlert(r pgx.CollectableRow) (Alert, error) {
	var a Alert
	err := r.Scan(&a.ID, &a.Type, &a.Entity, &a.Severity, &a.DedupKey, &a.OpenedAt, &a.ResolvedAt,
		&a.Details, &a.CreatedAt, &a.DeliveredAt)
	a.OpenedAt, a.CreatedAt = a.OpenedAt.UTC(), a.CreatedAt.UTC()
	if a.ResolvedAt.Unix() == 0 {
		a.ResolvedAt = time.Time{}
	}
	if a.DeliveredAt.Unix() == 0 {
		a.DeliveredAt = time.Time{}
	}
	return a, err
}

// AlertFilter selects alerts. Zero fields select everything.
type AlertFilter struct {
	Type        string
	Undelivered bool
	// Limit caps the rows returned; 0 means no cap.
	Limit int
}

// Alerts returns the alerts f selects, by id.
func (db *DB) Alerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.Pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts
		 WHERE ($1 = '' OR type = $1) AND (NOT $2 OR delivered_at IS NULL)
		 ORDER BY id LIMIT CASE WHEN $3::int < 0 THEN NULL ELSE $3::int END`, f.Type, f.Undelivered, limit)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanAlert)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return out, nil
}

// AlertByID returns one alert, or ErrNotFound.
func (db *DB) AlertByID(ctx context.Context, id int64) (Alert, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = $1`, id)
	if err != nil {
		return Alert{}, fmt.Errorf("read alert %d: %w", id, err)
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanAlert)
	if errors.Is(err, pgx.ErrNoRows) {
		return Alert{}, fmt.Errorf("alert %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Alert{}, fmt.Errorf("read alert %d: %w", id, err)
	}
	return a, nil
}

// AlertDelivery is one attempt to deliver an alert to a webhook.
type AlertDelivery struct {
	AlertID int64
	// Webhook is the webhook's URL (never its secret).
	Webhook    string
	Attempt    int
	StatusCode int
	Error      string
	Delivered  bool
	At         time.Time
}

// RecordDelivery stores one delivery attempt, numbered after the alert's
// earlier attempts to the same webhook, and returns its attempt number.
func (db *DB) RecordDelivery(ctx context.Context, d AlertDelivery) (int, error) {
	var attempt int
	err := db.Pool.QueryRow(ctx, `
		INSERT INTO alert_deliveries (alert_id, webhook, attempt, status_code, error, delivered)
		SELECT $1, $2, coalesce(max(attempt), 0) + 1, $3, $4, $5
		  FROM alert_deliveries WHERE alert_id = $1 AND webhook = $2
		RETURNING attempt`, d.AlertID, d.Webhook, d.StatusCode, d.Error, d.Delivered).Scan(&attempt)
	if err != nil {
		return 0, fmt.Errorf("record delivery of alert %d: %w", d.AlertID, err)
	}
	return attempt, nil
}

// AlertDeliveries returns every delivery attempt of an alert, by webhook and
// attempt.
func (db *DB) AlertDeliveries(ctx context.Context, alertID int64) ([]AlertDelivery, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT alert_id, webhook, attempt, status_code, error, delivered, at FROM alert_deliveries
		 WHERE alert_id = $1 ORDER BY webhook, attempt`, alertID)
	if err != nil {
		return nil, fmt.Errorf("read deliveries of alert %d: %w", alertID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AlertDelivery, error) {
		var d AlertDelivery
		err := r.Scan(&d.AlertID, &d.Webhook, &d.Attempt, &d.StatusCode, &d.Error, &d.Delivered, &d.At)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("read deliveries of alert %d: %w", alertID, err)
	}
	return out, nil
}

// MarkAlertDelivered records that every webhook accepted the alert. It is
// idempotent: an alert already marked keeps its first time.
func (db *DB) MarkAlertDelivered(ctx context.Context, alertID int64) error {
	if _, err := db.Pool.Exec(ctx, `UPDATE alerts SET delivered_at = coalesce(delivered_at, now()) WHERE id = $1`, alertID); err != nil {
		return fmt.Errorf("mark alert %d delivered: %w", alertID, err)
	}
	return nil
}
