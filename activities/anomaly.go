package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/store"
)

// Registered names of the anomaly activities (see names.go: never rename).
const (
	NameListAnomalySeries = "ListAnomalySeries"
	NameScoreAnomalies    = "ScoreAnomalies"
)

// Anomalies scores the minute series against their seasonal baselines.
type Anomalies struct {
	DB *store.DB
	// Config tunes the detector; zero fields take analytics' defaults.
	// Rate series (store.SeriesPaymentFailureRate) use RateMinScale as their
	// MinScale.
	Config       analytics.AnomalyConfig
	RateMinScale float64
}

// DefaultRateMinScale is the smallest scale of a rate series: with the
// default z of 4, a failure rate must move by at least 4 points to count.
const DefaultRateMinScale = 0.01

// DefaultAnomalyBootstrap is how much history the first run of a series
// learns from.
const DefaultAnomalyBootstrap = 28 * 24 * time.Hour

// AnomalySeriesInput names the topics whose watermarks complete the series.
type AnomalySeriesInput struct {
	OrdersTopic, ClickstreamTopic, PaymentsTopic string
}

// AnomalySeriesResult lists the series to score, sorted.
type AnomalySeriesResult struct {
	Series []store.AnomalySeriesRef
}

// ListAnomalySeries lists the series to score.
func (a *Anomalies) ListAnomalySeries(ctx context.Context, in AnomalySeriesInput) (AnomalySeriesResult, error) {
	s, err := a.DB.AnomalySeries(ctx, in.OrdersTopic, in.ClickstreamTopic, in.PaymentsTopic)
	return AnomalySeriesResult{Series: s}, err
}

// ScoreAnomaliesInput is one series to bring up to date.
type ScoreAnomaliesInput struct {
	Series, Topic   string
	RunID, Workflow string
	// Bootstrap: default DefaultAnomalyBootstrap.
	Bootstrap time.Duration
	// MaxMinutes per call: default a week of minutes.
	MaxMinutes int
}

// ScoreAnomaliesResult is what one call scored.
type ScoreAnomaliesResult = store.AnomalyRunResult

// ScoreAnomalies scores the series' complete minutes not scored yet (up to
// MaxMinutes), stores the scores, opens or resolves the series' anomaly
// alert and saves the detector's state, in one transaction. Running it twice
// gives the same rows: the second run finds nothing new.
func (a *Anomalies) ScoreAnomalies(ctx context.Context, in ScoreAnomaliesInput) (ScoreAnomaliesResult, error) {
	if in.Bootstrap <= 0 {
		in.Bootstrap = DefaultAnomalyBootstrap
	}
	cfg := a.Config
	if in.Series == store.SeriesPaymentFailureRate {
		cfg.MinScale = a.RateMinScale
		if cfg.MinScale <= 0 {
			cfg.MinScale = DefaultRateMinScale
		}
	}
	return a.DB.ScoreAnomalies(ctx, store.AnomalyRun{
		Series: in.Series, Topic: in.Topic, RunID: in.RunID, Workflow: in.Workflow,
		Bootstrap: in.Bootstrap, MaxMinutes: in.MaxMinutes,
	}, func(raw json.RawMessage, points []store.AnomalyPoint) (store.AnomalyOutcome, error) {
		return ScoreSeries(cfg, in.Series, raw, points)
	})
}

// ScoreSeries runs points through a detector continuing from the marshalled
// state (empty: cold) and returns the rows, alert changes and new state.
func ScoreSeries(cfg analytics.AnomalyConfig, series string, raw json.RawMessage, points []store.AnomalyPoint) (store.AnomalyOutcome, error) {
	var st analytics.AnomalyState
	if len(raw) > 0 && string(raw) != "{}" {
		if err := json.Unmarshal(raw, &st); err != nil {
			return store.AnomalyOutcome{}, fmt.Errorf("detector state of %s: %w", series, err)
		}
	}
	d := analytics.NewAnomalyDetector(cfg, st)
	eff := d.Config()
	rule := fmt.Sprintf("%d of the last %d minutes with |z| >= %g", eff.K, eff.M, eff.Z)
	var out store.AnomalyOutcome
	for _, p := range points {
		s := d.Observe(p.Minute, p.Value)
		out.Scores = append(out.Scores, store.AnomalyScore{
			Series: series, Minute: s.Minute, Actual: s.Actual, Scored: s.Scored,
			Expected: s.Expected, Deviation: s.Deviation, Z: s.Z, Anomalous: s.Beyond, Sustained: s.Sustained,
		})
		details := map[string]any{
			"series": series, "minute": s.Minute, "actual": s.Actual,
			"expected": s.Expected, "deviation": s.Deviation, "z": s.Z, "rule": rule,
		}
		switch {
		case s.Opened:
			out.Alerts = append(out.Alerts, store.AnomalyAlertChange{Open: true, At: s.Minute, Details: details})
		case s.Closed:
			out.Alerts = append(out.Alerts, store.AnomalyAlertChange{At: s.Minute, Details: details})
		}
	}
	b, err := json.Marshal(d.State())
	if err != nil {
		return store.AnomalyOutcome{}, fmt.Errorf("detector state of %s: %w", series, err)
	}
	out.State = b
	return out, nil
}
