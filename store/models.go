package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Model statuses in the registry.
const (
	ModelCandidate = "candidate"
	ModelActive    = "active"
	ModelRetired   = "retired"
)

// ModelVersion is one row of the model registry.
type ModelVersion struct {
	Model     string // fraud, segmentation, churn, recommendations, forecast, pricing, ...
	Version   string
	Algorithm string
	Status    string
	// TrainFrom and TrainTo bound the training data by event time; zero when
	// the model has no training window (rules, say).
	TrainFrom, TrainTo time.Time
	Params             json.RawMessage
	Metrics            json.RawMessage
	TrainedBy          string
	PromotedBy         string
	PromotedAt         time.Time
	CreatedAt          time.Time
}

// RegisterModel stores m as a candidate (or as m.Status when set). Registering
// the same model and version again changes nothing, so a retried training
// activity is harmless. A version registered as active is promoted with
// PromoteModel's rules.
func (db *DB) RegisterModel(ctx context.Context, m ModelVersion) error {
	if m.Model == "" || m.Version == "" || m.Algorithm == "" {
		return fmt.Errorf("register model: model, version and algorithm are required")
	}
	status := m.Status
	if status == "" {
		status = ModelCandidate
	}
	if status != ModelCandidate && status != ModelActive && status != ModelRetired {
		return fmt.Errorf("register model %s/%s: status %q is not candidate, active or retired", m.Model, m.Version, status)
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `
			INSERT INTO model_registry (model, version, algorithm, status, train_from, train_to, params, metrics, trained_by)
			VALUES ($1, $2, $3, 'candidate', $4, $5, $6, $7, $8)
			ON CONFLICT (model, version) DO NOTHING`,
			m.Model, m.Version, m.Algorithm, nullTime(m.TrainFrom), nullTime(m.TrainTo),
			jsonOr(m.Params), jsonOr(m.Metrics), m.TrainedBy)
		if err != nil {
			return fmt.Errorf("register model %s/%s: %w", m.Model, m.Version, err)
		}
		switch status {
		case ModelActive:
			return promoteModel(ctx, tx, m.Model, m.Version, m.PromotedBy)
		case ModelRetired:
			_, err := tx.Exec(ctx, `UPDATE model_registry SET status = 'retired' WHERE model = $1 AND version = $2`, m.Model, m.Version)
			if err != nil {
				return fmt.Errorf("retire model %s/%s: %w", m.Model, m.Version, err)
			}
		}
		return nil
	})
}

// PromoteModel makes version the only active version of model, retiring the
// one active before it, and records who promoted it. Promoting the active
// version again changes nothing.
func (db *DB) PromoteModel(ctx context.Context, model, version, by string) error {
	return db.inTx(ctx, func(tx pgx.Tx) error { return promoteModel(ctx, tx, model, version, by) })
}

func promoteModel(ctx context.Context, tx pgx.Tx, model, version, by string) error {
	var status string
	err := tx.QueryRow(ctx, `SELECT status FROM model_registry WHERE model = $1 AND version = $2 FOR UPDATE`, model, version).Scan(&status)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("promote model %s/%s: %w", model, version, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("promote model %s/%s: %w", model, version, err)
	}
	if status == ModelActive {
		return nil
	}
	if by == "" {
		by = "unknown"
	}
	if _, err := tx.Exec(ctx, `UPDATE model_registry SET status = 'retired' WHERE model = $1 AND status = 'active'`, model); err != nil {
		return fmt.Errorf("retire active %s model: %w", model, err)
	}
	if _, err := tx.Exec(ctx, `
		UPDATE model_registry SET status = 'active', promoted_by = $3, promoted_at = now()
		WHERE model = $1 AND version = $2`, model, version, by); err != nil {
		return fmt.Errorf("promote model %s/%s: %w", model, version, err)
	}
	return nil
}

// ActiveModel returns the active version of model, or ErrNotFound.
func (db *DB) ActiveModel(ctx context.Context, model string) (ModelVersion, error) {
	ms, err := db.queryModels(ctx, `WHERE model = $1 AND status = 'active'`, model)
	if err != nil {
		return ModelVersion{}, err
	}
	if len(ms) == 0 {
		return ModelVersion{}, fmt.Errorf("active %s model: %w", model, ErrNotFound)
	}
	return ms[0], nil
}

// Models lists the versions of model, newest first; every model's when model
// is empty.
func (db *DB) Models(ctx context.Context, model string) ([]ModelVersion, error) {
	if model == "" {
		return db.queryModels(ctx, `ORDER BY model, created_at DESC, version DESC`)
	}
	return db.queryModels(ctx, `WHERE model = $1 ORDER BY created_at DESC, version DESC`, model)
}

func (db *DB) queryModels(ctx context.Context, where string, args ...any) ([]ModelVersion, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT model, version, algorithm, status, train_from, train_to, params, metrics,
		       trained_by, coalesce(promoted_by, ''), promoted_at, created_at
		FROM model_registry `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("read model registry: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ModelVersion, error) {
		var m ModelVersion
		var from, to, promoted *time.Time
		err := r.Scan(&m.Model, &m.Version, &m.Algorithm, &m.Status, &from, &to, &m.Params, &m.Metrics,
			&m.TrainedBy, &m.PromotedBy, &promoted, &m.CreatedAt)
		m.TrainFrom, m.TrainTo, m.PromotedAt = deref(from), deref(to), deref(promoted)
		return m, err
	})
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func jsonOr(b json.RawMessage) []byte {
	if len(b) == 0 {
		return []byte("{}")
	}
	return b
}
