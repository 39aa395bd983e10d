package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// AlertAnomaly is the type of the alert a sustained anomaly raises.
const AlertAnomaly = "anomaly"

// The series the anomaly detector scores. Revenue is one series per
// currency: SeriesRevenuePrefix + the ISO code.
const (
	SeriesOrders             = "orders"
	SeriesTraffic            = "traffic"
	SeriesPaymentFailureRate = "payment_failure_rate"
	SeriesRevenuePrefix      = "revenue:"
)

// AnomalySeriesRef is one series and the topic whose watermarks say when its
// minutes are complete.
type AnomalySeriesRef struct {
	Series string
	Topic  string
}

// AnomalySeries lists the series to score, sorted: orders and revenue per
// currency (complete by ordersTopic's watermarks), the payment failure rate
// (by paymentsTopic's) and traffic (by clickstreamTopic's). The currencies
// are those seen in the last day of revenue_minute plus those already scored.
func (db *DB) AnomalySeries(ctx context.Context, ordersTopic, clickstreamTopic, paymentsTopic string) ([]AnomalySeriesRef, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT DISTINCT currency::text FROM revenue_minute
		 WHERE minute >= (SELECT max(minute) FROM revenue_minute) - interval '1 day'
		UNION
		SELECT substr(series, length($1) + 1) FROM anomaly_state WHERE starts_with(series, $1)`, SeriesRevenuePrefix)
	if err != nil {
		return nil, fmt.Errorf("read revenue currencies: %w", err)
	}
	curs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read revenue currencies: %w", err)
	}
	out := []AnomalySeriesRef{
		{SeriesOrders, ordersTopic},
		{SeriesPaymentFailureRate, paymentsTopic},
		{SeriesTraffic, clickstreamTopic},
	}
	for _, c := range curs {
		out = append(out, AnomalySeriesRef{SeriesRevenuePrefix + strings.TrimSpace(c), ordersTopic})
	}
	slices.SortFunc(out, func(a, b AnomalySeriesRef) int { return strings.Compare(a.Series, b.Series) })
	return out, nil
}

// seriesQuery returns the SQL of a series' values over minutes [$1, $2),
// one row per minute that has a value, and its extra argument.
func seriesQuery(series string) (string, []any, error) {
	switch {
	case series == SeriesOrders:
		return `SELECT m, coalesce(v, 0)::float8 FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 minute', interval '1 minute') m
			LEFT JOIN (SELECT minute, sum(orders) AS v FROM revenue_minute WHERE minute >= $1 AND minute < $2 GROUP BY minute) r ON r.minute = m
			ORDER BY m`, nil, nil
	case series == SeriesTraffic:
		return `SELECT m, coalesce(page_views, 0)::float8 FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 minute', interval '1 minute') m
			LEFT JOIN traffic_minute t ON t.minute = m ORDER BY m`, nil, nil
	case series == SeriesPaymentFailureRate:
		// Failed payment attempts per attempt (authorized + failed) in the
		// minute, all currencies, from the payments facts; minutes without
		// attempts have no rate.
		return `SELECT minute, sum(failed)::float8 / sum(authorized + failed) FROM payments_minute
			WHERE minute >= $1 AND minute < $2 GROUP BY minute HAVING sum(authorized + failed) > 0
			ORDER BY minute`, nil, nil
	case strings.HasPrefix(series, SeriesRevenuePrefix):
		return `SELECT m, coalesce(r.revenue_minor, 0)::float8 FROM generate_series($1::timestamptz, $2::timestamptz - interval '1 minute', interval '1 minute') m
			LEFT JOIN revenue_minute r ON r.minute = m AND r.currency = $3 ORDER BY m`,
			[]any{strings.TrimPrefix(series, SeriesRevenuePrefix)}, nil
	}
	return "", nil, fmt.Errorf("unknown anomaly series %q", series)
}

// firstQuery returns the SQL of a series' first minute with data at or after $1.
func firstQuery(series string) string {
	switch series {
	case SeriesTraffic:
		return `SELECT min(minute) FROM traffic_minute WHERE minute >= $1`
	case SeriesPaymentFailureRate:
		return `SELECT min(minute) FROM payments_minute WHERE minute >= $1 AND authorized + failed > 0`
	}
	return `SELECT min(minute) FROM revenue_minute WHERE minute >= $1`
}

// AnomalyPoint is a series' value in one minute.
type AnomalyPoint struct {
	Minute time.Time
	Value  float64
}

// AnomalyScore is one row of anomaly_scores. Expected, Deviation and Z are
// meaningful only when Scored.
type AnomalyScore struct {
	Series    string
	Minute    time.Time
	Actual    float64
	Scored    bool
	Expected  float64
	Deviation float64
	Z         float64
	Anomalous bool
	Sustained bool
}

// AnomalyAlertChange opens (Open) or resolves an anomaly alert at a minute.
type AnomalyAlertChange struct {
	Open    bool
	At      time.Time
	Details map[string]any
}

// AnomalyOutcome is what scoring a run's points gave: the rows, the alert
// changes in minute order, and the state to keep.
type AnomalyOutcome struct {
	Scores []AnomalyScore
	Alerts []AnomalyAlertChange
	State  json.RawMessage
}

// AnomalyScorer scores the points, in minute order, continuing from state
// (nil on the first run). It must be deterministic and do no I/O: it runs
// inside the transaction.
type AnomalyScorer func(state json.RawMessage, points []AnomalyPoint) (AnomalyOutcome, error)

// AnomalyRun is one series to bring up to date.
type AnomalyRun struct {
	Series, Topic   string
	RunID, Workflow string
	// Bootstrap is how far before the complete end the first run of a series
	// starts (from the series' first minute with data in that range).
	Bootstrap time.Duration
	// MaxMinutes caps the minutes scored in one call.
	MaxMinutes int
}

// AnomalyRunResult is what a run scored.
type AnomalyRunResult struct {
	Series string
	// From and To are the minutes scored, [From, To); equal when none.
	From, To       time.Time
	Rows           int64
	Opened, Closed int
	// More is true when complete minutes remain after To.
	More bool
}

// ScoreAnomalies scores a series' complete minutes after the last one
// scored, in one transaction: it locks the series' state, reads the minutes
// (up to MaxMinutes) up to where every partition of the topic is complete,
// hands them to score, upserts the scores, opens and resolves the series'
// anomaly alert (dedup key "anomaly:" + series), saves the state and records
// lineage. A retry after a commit finds nothing new; concurrent runs of a
// series wait for each other.
func (db *DB) ScoreAnomalies(ctx context.Context, r AnomalyRun, score AnomalyScorer) (AnomalyRunResult, error) {
	q, extra, err := seriesQuery(r.Series)
	if err != nil {
		return AnomalyRunResult{}, err
	}
	if r.MaxMinutes <= 0 {
		r.MaxMinutes = 7 * 24 * 60
	}
	res := AnomalyRunResult{Series: r.Series}
	started := time.Now()
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO anomaly_state (series) VALUES ($1) ON CONFLICT DO NOTHING`, r.Series); err != nil {
			return fmt.Errorf("create state: %w", err)
		}
		var last *time.Time
		var state json.RawMessage
		if err := tx.QueryRow(ctx, `SELECT last_minute, state FROM anomaly_state WHERE series = $1 FOR UPDATE`, r.Series).Scan(&last, &state); err != nil {
			return fmt.Errorf("lock state: %w", err)
		}
		end, ok, err := completeUntil(ctx, tx, r.Topic)
		if err != nil || !ok {
			return err
		}
		var from time.Time
		if last != nil {
			from = last.UTC().Add(time.Minute)
		} else {
			state = nil
			var first *time.Time
			if err := tx.QueryRow(ctx, firstQuery(r.Series), end.Add(-r.Bootstrap)).Scan(&first); err != nil {
				return fmt.Errorf("first minute: %w", err)
			}
			if first == nil {
				return nil
			}
			from = first.UTC()
		}
		if !from.Before(end) {
			res.From, res.To = from, from
			return nil
		}
		to := from.Add(time.Duration(r.MaxMinutes) * time.Minute)
		if to.After(end) {
			to = end
		}
		res.From, res.To, res.More = from, to, to.Before(end)

		rows, err := tx.Query(ctx, q, append([]any{from, to}, extra...)...)
		if err != nil {
			return fmt.Errorf("read series: %w", err)
		}
		points, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AnomalyPoint, error) {
			var p AnomalyPoint
			err := r.Scan(&p.Minute, &p.Value)
			p.Minute = p.Minute.UTC()
			return p, err
		})
		if err != nil {
			return fmt.Errorf("read series: %w", err)
		}
		out, err := score(state, points)
		if err != nil {
			return fmt.Errorf("score: %w", err)
		}
		if res.Rows, err = upsertAnomalyScores(ctx, tx, r.Series, r.RunID, out.Scores); err != nil {
			return err
		}
		key := "anomaly:" + r.Series
		for _, a := range out.Alerts {
			if a.Open {
				opened, err := RaiseAlert(ctx, tx, NewAlert{
					Type: AlertAnomaly, Entity: r.Series, Severity: SeverityWarning, DedupKey: key,
					OpenedAt: a.At, Details: a.Details,
				})
				if err != nil {
					return err
				}
				if opened {
					res.Opened++
				}
			} else {
				closed, err := ResolveAlert(ctx, tx, key, a.At, a.Details)
				if err != nil {
					return err
				}
				if closed {
					res.Closed++
				}
			}
		}
		if out.State == nil {
			out.State = json.RawMessage("{}")
		}
		if _, err := tx.Exec(ctx, `UPDATE anomaly_state SET last_minute = $2, state = $3, updated_at = now() WHERE series = $1`,
			r.Series, to.Add(-time.Minute), out.State); err != nil {
			return fmt.Errorf("save state: %w", err)
		}
		offsets, err := db.offsetsTx(ctx, tx, r.Topic)
		if err != nil {
			return err
		}
		return recordLineage(ctx, tx, Lineage{
			RunID: r.RunID, Workflow: r.Workflow, Step: "anomaly-scores:" + r.Series, Started: started,
			Inputs: map[string]any{
				"tables": []string{"revenue_minute", "traffic_minute", "order_cancellations", "anomaly_state"},
				"series": r.Series, "from": from, "to": to, "points": len(points), "stream_offsets": offsets,
			},
			Outputs: map[string]any{
				"tables": []string{"anomaly_scores", "anomaly_state", "alerts"},
				"rows":   res.Rows, "alerts_opened": res.Opened, "alerts_resolved": res.Closed,
			},
		})
	})
	if err != nil {
		return AnomalyRunResult{}, fmt.Errorf("score anomalies of %s: %w", r.Series, err)
	}
	return res, nil
}

// completeUntil returns the end of the last complete minute of a topic: every
// partition's watermark or caught-up time is at or after it (see
// WatermarkPassed). ok is false when the topic has no stored partitions or a
// partition has neither.
func completeUntil(ctx context.Context, tx pgx.Tx, topic string) (time.Time, bool, error) {
	var until *time.Time
	err := tx.QueryRow(ctx, `
		SELECT CASE WHEN count(*) = count(greatest(watermark, caught_up_at)) THEN min(greatest(watermark, caught_up_at)) END
		  FROM stream_offsets WHERE topic = $1`, topic).Scan(&until)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read watermarks of %s: %w", topic, err)
	}
	if until == nil {
		return time.Time{}, false, nil
	}
	return until.UTC().Truncate(time.Minute), true, nil
}

func upsertAnomalyScores(ctx context.Context, tx pgx.Tx, series, runID string, scores []AnomalyScore) (int64, error) {
	if len(scores) == 0 {
		return 0, nil
	}
	n := len(scores)
	minutes := make([]time.Time, n)
	actual := make([]float64, n)
	expected, deviation, z := make([]*float64, n), make([]*float64, n), make([]*float64, n)
	anomalous, sustained := make([]bool, n), make([]bool, n)
	for i, s := range scores {
		minutes[i], actual[i], anomalous[i], sustained[i] = s.Minute.UTC(), s.Actual, s.Anomalous, s.Sustained
		if s.Scored {
			expected[i], deviation[i], z[i] = &s.Expected, &s.Deviation, &s.Z
		}
	}
	tag, err := tx.Exec(ctx, `
		INSERT INTO anomaly_scores (series, minute, actual, expected, deviation, z, anomalous, sustained, run_id)
		SELECT $1, * , $9 FROM unnest($2::timestamptz[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::bool[], $8::bool[])
		ON CONFLICT (series, minute) DO UPDATE SET
			actual = excluded.actual, expected = excluded.expected, deviation = excluded.deviation, z = excluded.z,
			anomalous = excluded.anomalous, sustained = excluded.sustained, run_id = excluded.run_id, updated_at = now()`,
		series, minutes, actual, expected, deviation, z, anomalous, sustained, runID)
	if err != nil {
		return 0, fmt.Errorf("upsert anomaly scores: %w", err)
	}
	return tag.RowsAffected(), nil
}

// AnomalyScores returns a series' rows over minutes [from, to), by minute.
func (db *DB) AnomalyScores(ctx context.Context, series string, from, to time.Time) ([]AnomalyScore, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT series, minute, actual, expected IS NOT NULL, coalesce(expected, 0), coalesce(deviation, 0), coalesce(z, 0), anomalous, sustained
		  FROM anomaly_scores WHERE series = $1 AND minute >= $2 AND minute < $3 ORDER BY minute`, series, from, to)
	if err != nil {
		return nil, fmt.Errorf("read anomaly scores of %s: %w", series, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AnomalyScore, error) {
		var s AnomalyScore
		err := r.Scan(&s.Series, &s.Minute, &s.Actual, &s.Scored, &s.Expected, &s.Deviation, &s.Z, &s.Anomalous, &s.Sustained)
		s.Minute = s.Minute.UTC()
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read anomaly scores of %s: %w", series, err)
	}
	return out, nil
}

// ResetAnomalies deletes a series' state and scores, so the next run
// rebuilds them from the minute tables (open alerts are left as they are).
func (db *DB) ResetAnomalies(ctx context.Context, series string) error {
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM anomaly_scores WHERE series = $1`, series); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM anomaly_state WHERE series = $1`, series)
		return err
	})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("reset anomalies of %s: %w", series, err)
	}
	return nil
}
