package activities

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

// Quality runs the data quality checks.
type Quality struct {
	DB *store.DB
	// Brokers serve the topics whose schema drift is checked.
	Brokers []string
	// KafkaTLS, when set, secures the connections to the brokers.
	KafkaTLS *tls.Config
}

// CheckTableInput is one table and period to check.
type CheckTableInput struct {
	Table    string
	Grain    string
	Period   time.Time
	RunID    string
	Workflow string
}

// QualityResult is a table's or topic's checks and score for one period.
type QualityResult = store.DQResult

// CheckTable measures the table over the period, turns the measures into
// checks (DQChecks) and stores results, score, alerts and lineage.
// Idempotent: a re-run replaces the period's rows with the same ones.
func (a *Quality) CheckTable(ctx context.Context, in CheckTableInput) (QualityResult, error) {
	spec, ok := store.DQTableByName(in.Table)
	if !ok {
		return QualityResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("no data quality checks for table %q", in.Table), "InvalidInput", nil)
	}
	if _, _, err := store.PeriodBounds(in.Grain, in.Period); err != nil {
		return QualityResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}
	m, err := a.DB.MeasureTable(ctx, spec, in.Grain, in.Period)
	if err != nil {
		return QualityResult{}, err
	}
	res := store.DQResult{Table: spec.Table, Grain: in.Grain, Start: m.Start, Rows: m.Rows, Checks: DQChecks(spec, m)}
	if err := a.DB.RecordQuality(ctx, &res, in.RunID, in.Workflow, []string{spec.Table}); err != nil {
		return res, err
	}
	return res, nil
}

// DQChecks turns a period's measures into checks: freshness (the newest row
// within spec.Freshness of the period's end), volume (robust z of the row
// count against the same period of the previous days), the null rate of each
// column, the violation rate of each rule, and the duplicate rate of the
// natural key.
func DQChecks(spec store.DQTable, m store.DQMeasure) []store.DQCheck {
	var history []float64
	for _, c := range m.History {
		if c == 0 && len(history) == 0 {
			continue // before the table had data: not history
		}
		history = append(history, float64(c))
	}
	z, median, scale, ok := analytics.RobustZ(float64(m.Rows), history, store.VolumeMinHistory)
	vol := store.DQCheck{Name: store.CheckVolume, Value: z, Threshold: store.VolumeMaxZ, Passed: true,
		Details: map[string]any{"rows": m.Rows, "history": m.History, "median": median, "scale": scale}}
	switch {
	case !ok:
		vol.Skipped = true
		vol.Details["skipped"] = fmt.Sprintf("fewer than %d periods of history", store.VolumeMinHistory)
	case math.Abs(z) > store.VolumeMaxZ && math.Abs(float64(m.Rows)-median) > store.VolumeMinChange*median:
		vol.Passed = false
	}

	fresh := store.DQCheck{Name: store.CheckFreshness, Threshold: spec.Freshness.Seconds(), Passed: true}
	switch {
	case spec.Freshness <= 0:
		fresh.Skipped = true
		fresh.Details = map[string]any{"skipped": "no freshness bound for this table"}
	case m.Newest == nil && (!ok || median == 0):
		fresh.Skipped = true
		fresh.Details = map[string]any{"skipped": "no rows, none expected"}
	default:
		lag := m.End.Sub(m.Start)
		if m.Newest != nil {
			lag = m.End.Sub(*m.Newest)
		}
		fresh.Value = lag.Seconds()
		fresh.Passed = lag <= spec.Freshness
		fresh.Details = map[string]any{"newest": m.Newest, "lag": lag.String()}
	}
	checks := []store.DQCheck{fresh, vol}

	rate := func(n int64) float64 {
		if m.Rows == 0 {
			return 0
		}
		return float64(n) / float64(m.Rows)
	}
	for i, n := range spec.Nulls {
		r := rate(m.Nulls[i])
		checks = append(checks, store.DQCheck{Name: "null_rate:" + n.Column, Value: r, Threshold: n.MaxRate, Passed: r <= n.MaxRate,
			Details: map[string]any{"rows": m.Nulls[i]}})
	}
	for i, rg := range spec.Ranges {
		r := rate(m.Ranges[i])
		checks = append(checks, store.DQCheck{Name: "range:" + rg.Name, Value: r, Threshold: rg.MaxRate, Passed: r <= rg.MaxRate,
			Details: map[string]any{"rows": m.Ranges[i], "violation": rg.Violation}})
	}
	if len(spec.DuplicateKey) > 0 {
		dups := max(m.Rows-m.Distinct, 0)
		r := rate(dups)
		checks = append(checks, store.DQCheck{Name: store.CheckDuplicates, Value: r, Threshold: spec.MaxDuplicateRate, Passed: r <= spec.MaxDuplicateRate,
			Details: map[string]any{"rows": dups, "key": spec.DuplicateKey}})
	}
	return checks
}

// DriftInput is one topic and period whose sample is compared with the
// event schemas.
type DriftInput struct {
	Topic      string
	Grain      string
	Period     time.Time
	SampleSize int
	RunID      string
	Workflow   string
}

// CheckSchemaDrift reads up to SampleSize messages of the topic from the
// period (by Kafka timestamp, from the brokers, without a consumer group),
// compares their JSON keys with their type's JSON Schema properties, and
// stores the result as table "topic:<name>", check schema_drift.
func (a *Quality) CheckSchemaDrift(ctx context.Context, in DriftInput) (QualityResult, error) {
	start, end, err := store.PeriodBounds(in.Grain, in.Period)
	if err != nil {
		return QualityResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}
	msgs, err := streaming.Kafka{Brokers: a.Brokers, TLS: a.KafkaTLS}.SampleMessages(ctx, in.Topic, start, end, in.SampleSize)
	if err != nil {
		return QualityResult{}, fmt.Errorf("sample %s: %w", in.Topic, err)
	}
	rep := SchemaDrift(msgs)
	drifting := len(rep.UnknownTypes) + min(rep.Unparseable, 1)
	for _, t := range rep.Types {
		drifting += len(t.NewFields) + len(t.MissingRequired)
	}
	check := store.DQCheck{Name: store.CheckSchemaDrift, Value: float64(drifting), Passed: !rep.Drifted(),
		Details: map[string]any{"report": rep}}
	if rep.Sampled == 0 {
		check.Skipped = true
		check.Details["skipped"] = "no message in the period"
	}
	res := store.DQResult{Table: "topic:" + in.Topic, Grain: in.Grain, Start: start, Rows: int64(rep.Sampled), Checks: []store.DQCheck{check}}
	if err := a.DB.RecordQuality(ctx, &res, in.RunID, in.Workflow, []string{"kafka:" + in.Topic}); err != nil {
		return res, err
	}
	return res, nil
}
