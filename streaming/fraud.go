package streaming

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/store"
)

// Fraud scoring defaults.
const (
	// DefaultFraudAlertThreshold raises a fraud alert for an order scoring
	// at or above it.
	DefaultFraudAlertThreshold = 0.8
	// DefaultFraudModelReload is how often the active model is read again
	// from the registry.
	DefaultFraudModelReload = 30 * time.Second
)

// FraudScorer scores orders with the registry's active fraud model, or
// with analytics.FraudRules while none is active. It reads the registry at
// most once per Reload, so a newly promoted model is used within Reload of
// its promotion without a restart. Safe for concurrent use by the
// partitions of a consumer.
type FraudScorer struct {
	DB *store.DB
	// AlertThreshold raises a fraud alert at or above it (0:
	// DefaultFraudAlertThreshold; negative: no alerts).
	AlertThreshold float64
	// Reload bounds how stale the model may be (0: DefaultFraudModelReload).
	Reload time.Duration
	// Now is the clock of the reload (nil: time.Now).
	Now func() time.Time
	// Log reports an active model that cannot be used (nil: discarded).
	Log *slog.Logger

	mu       sync.Mutex
	model    analytics.FraudModel
	loadedAt time.Time
}

// NewFraudScorer returns a scorer over the registry in db. log may be nil.
func NewFraudScorer(db *store.DB, alertThreshold float64, log *slog.Logger) *FraudScorer {
	return &FraudScorer{DB: db, AlertThreshold: alertThreshold, Log: log}
}

// Model returns the model to score with, reading the registry when the one
// held is older than Reload. An error reading the registry is returned (the
// batch fails and is retried). An active row that cannot be parsed (unknown
// kind, bad params) is logged and the model held so far (the rules at
// first) stays in use until the next reload: a bad registration must not
// stop the stream, and every score still names the model that gave it.
func (s *FraudScorer) Model(ctx context.Context) (analytics.FraudModel, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	reload := s.Reload
	if reload <= 0 {
		reload = DefaultFraudModelReload
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.model != nil && now().Sub(s.loadedAt) < reload {
		return s.model, nil
	}
	row, err := s.DB.ActiveFraudModel(ctx)
	var m analytics.FraudModel
	switch {
	case errors.Is(err, store.ErrNotFound):
		m = analytics.FraudRules{}
	case err != nil:
		return nil, err
	default:
		if m, err = analytics.ParseFraudModel(row.Version, row.Kind, row.Params); err != nil {
			m = s.model
			if m == nil {
				m = analytics.FraudRules{}
			}
			if s.Log != nil {
				s.Log.Error("active fraud model unusable, keeping the current one", "err", err, "current", m.Version())
			}
		}
	}
	s.model, s.loadedAt = m, now()
	return m, nil
}

// scoring returns the store's scoring of one batch with the current model.
func (s *FraudScorer) scoring(ctx context.Context) (*store.FraudScoring, error) {
	m, err := s.Model(ctx)
	if err != nil {
		return nil, err
	}
	th := s.AlertThreshold
	if th == 0 {
		th = DefaultFraudAlertThreshold
	}
	return &store.FraudScoring{
		Version:        m.Version(),
		Score:          m.Score,
		AlertThreshold: th,
	}, nil
}
