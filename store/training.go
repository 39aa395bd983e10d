package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/analytics"
)

// LabelledOrder is one scored order with its label for the fraud model's
// training: fraud when it had a chargeback with reason fraud, or a 'fraud'
// decision on the fraud queue, before the as-of time; genuine otherwise (a
// 'legitimate' decision confirms it, and overrides no chargeback).
type LabelledOrder struct {
	EventTime    time.Time
	EventID      string
	OrderID      string
	Features     analytics.FraudFeatures
	Fraud        bool
	ModelVersion string // the model that scored it on the hot path
}

// FraudTrainingSet returns the scored orders with event time in [from, to),
// in event-time order, labelled by what was known at asOf, and how many
// positives came from chargebacks and from decisions.
func (db *DB) FraudTrainingSet(ctx context.Context, from, to, asOf time.Time) ([]LabelledOrder, LabelCounts, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT s.event_time, s.event_id, s.order_id, s.features, s.model_version,
		       EXISTS (SELECT 1 FROM chargebacks c
		                WHERE c.order_id = s.order_id AND c.reason = 'fraud' AND c.event_time < $3) AS chargeback,
		       coalesce((SELECT l.label FROM fraud_labels l
		                  WHERE l.order_id = s.order_id AND l.decided_at < $3), '') AS decision
		  FROM fraud_scores s
		 WHERE s.event_time >= $1 AND s.event_time < $2
		 ORDER BY s.event_time, s.event_id`, from.UTC(), to.UTC(), asOf.UTC())
	if err != nil {
		return nil, LabelCounts{}, fmt.Errorf("read fraud training set: %w", err)
	}
	var counts LabelCounts
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LabelledOrder, error) {
		var o LabelledOrder
		var feats []byte
		var chargeback bool
		var decision string
		if err := r.Scan(&o.EventTime, &o.EventID, &o.OrderID, &feats, &o.ModelVersion, &chargeback, &decision); err != nil {
			return o, err
		}
		o.EventTime = o.EventTime.UTC()
		if chargeback {
			counts.Chargebacks++
		}
		switch decision {
		case "fraud":
			counts.DecidedFraud++
		case "legitimate":
			counts.DecidedLegitimate++
		}
		o.Fraud = chargeback || decision == "fraud"
		return o, json.Unmarshal(feats, &o.Features)
	})
	if err != nil {
		return nil, LabelCounts{}, fmt.Errorf("read fraud training set: %w", err)
	}
	return out, counts, nil
}

// LabelCounts says where a training set's labels came from.
type LabelCounts struct {
	Chargebacks       int `json:"chargebacks"`
	DecidedFraud      int `json:"decided_fraud"`
	DecidedLegitimate int `json:"decided_legitimate"`
}

// TrainedModel is a model version to store with the lineage of the run that
// trained it.
type TrainedModel struct {
	Model   ModelVersion
	Lineage Lineage
	// OffsetsTopic, when set, adds the topic's stored offsets and
	// watermarks to the lineage inputs (how complete the data was).
	OffsetsTopic string
}

// SaveCandidateModel registers m.Model as a candidate and records lineage,
// in one transaction. Saving the same version again replaces its params,
// metrics and window while it is still a candidate (the same run retried,
// or re-run for the same as-of); a version already promoted or retired is
// left as it is, so the hot path's model never changes under it.
func (db *DB) SaveCandidateModel(ctx context.Context, t TrainedModel) error {
	m := t.Model
	if m.Model == "" || m.Version == "" || m.Algorithm == "" {
		return errors.New("save model: model, version and algorithm are required")
	}
	return db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO model_registry (model, version, algorithm, status, train_from, train_to, params, metrics, trained_by)
			VALUES ($1, $2, $3, 'candidate', $4, $5, $6, $7, $8)
			ON CONFLICT (model, version) DO UPDATE SET
				algorithm = excluded.algorithm, train_from = excluded.train_from, train_to = excluded.train_to,
				params = excluded.params, metrics = excluded.metrics, trained_by = excluded.trained_by
			WHERE model_registry.status = 'candidate'`,
			m.Model, m.Version, m.Algorithm, nullTime(m.TrainFrom), nullTime(m.TrainTo),
			jsonOr(m.Params), jsonOr(m.Metrics), m.TrainedBy); err != nil {
			return fmt.Errorf("save model %s/%s: %w", m.Model, m.Version, err)
		}
		return db.lineageWithOffsets(ctx, tx, t.Lineage, t.OffsetsTopic)
	})
}

func (db *DB) lineageWithOffsets(ctx context.Context, tx pgx.Tx, l Lineage, topic string) error {
	if topic != "" {
		offsets, err := db.offsetsTx(ctx, tx, topic)
		if err != nil {
			return err
		}
		var wm *time.Time
		if err := tx.QueryRow(ctx, `SELECT min(watermark) FROM stream_offsets WHERE topic = $1`, topic).Scan(&wm); err != nil {
			return fmt.Errorf("read watermarks: %w", err)
		}
		if l.Inputs == nil {
			l.Inputs = map[string]any{}
		}
		l.Inputs["stream_offsets"] = map[string]any{"topic": topic, "next_offsets": offsets, "min_watermark": wm}
	}
	return recordLineage(ctx, tx, l)
}

// PromoteIfActive promotes model/version when the active version is still
// expectActive ("" meaning none is active): the comparison that justified
// the promotion was against it. It returns whether it promoted (or found
// version already active), and the active version it found. The decision
// is recorded as lineage.
func (db *DB) PromoteIfActive(ctx context.Context, model, version, expectActive, by string, l Lineage) (promoted bool, active string, err error) {
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		// Lock the model's rows so two promotions serialise.
		rows, err := tx.Query(ctx, `SELECT version, status FROM model_registry WHERE model = $1 ORDER BY version FOR UPDATE`, model)
		if err != nil {
			return fmt.Errorf("lock %s models: %w", model, err)
		}
		found := false
		for rows.Next() {
			var v, s string
			if err := rows.Scan(&v, &s); err != nil {
				rows.Close()
				return err
			}
			if s == ModelActive {
				active = v
			}
			found = found || v == version
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("promote %s/%s: %w", model, version, ErrNotFound)
		}
		switch active {
		case version:
			promoted = true
		case expectActive:
			if err := promoteModel(ctx, tx, model, version, by); err != nil {
				return err
			}
			promoted, active = true, version
		}
		if l.Outputs == nil {
			l.Outputs = map[string]any{}
		}
		l.Outputs["promoted"], l.Outputs["active"] = promoted, active
		return recordLineage(ctx, tx, l)
	})
	return promoted, active, err
}

// ProductDemand is one product's daily units sold, from Start (its first
// day with a sale in the window) to the window's end.
type ProductDemand struct {
	ProductID string
	Start     time.Time
	Units     []float64
}

// DailyDemand returns each product's daily units ordered in [from, to)
// (UTC days; to exclusive), from the order lines of orders not cancelled,
// products in id order. A product's series starts on its first day with a
// sale in the window and has a value (0 when nothing sold) for every day
// until to.
func (db *DB) DailyDemand(ctx context.Context, from, to time.Time) ([]ProductDemand, error) {
	from, to = from.UTC().Truncate(24*time.Hour), to.UTC().Truncate(24*time.Hour)
	rows, err := db.Pool.Query(ctx, `
		SELECT l.product_id, date_trunc('day', l.event_time AT TIME ZONE 'UTC') AS day, sum(l.quantity)
		  FROM order_lines l
		 WHERE l.event_time >= $1 AND l.event_time < $2
		   AND NOT EXISTS (SELECT 1 FROM order_cancellations c WHERE c.order_id = l.order_id)
		 GROUP BY 1, 2
		 ORDER BY 1, 2`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read daily demand: %w", err)
	}
	defer rows.Close()
	days := int(to.Sub(from) / (24 * time.Hour))
	var out []ProductDemand
	var cur *ProductDemand
	var full []float64
	first := -1
	flush := func() {
		if cur != nil && first >= 0 {
			cur.Start = from.AddDate(0, 0, first)
			cur.Units = append([]float64(nil), full[first:]...)
			out = append(out, *cur)
		}
	}
	for rows.Next() {
		var pid string
		var day time.Time
		var q int64
		if err := rows.Scan(&pid, &day, &q); err != nil {
			return nil, fmt.Errorf("read daily demand: %w", err)
		}
		if cur == nil || cur.ProductID != pid {
			flush()
			cur, full, first = &ProductDemand{ProductID: pid}, make([]float64, days), -1
		}
		i := int(time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC).Sub(from) / (24 * time.Hour))
		if i < 0 || i >= days {
			continue
		}
		full[i] += float64(q)
		if first < 0 || i < first {
			first = i
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read daily demand: %w", err)
	}
	flush()
	return out, nil
}

// ProductForecast is one product's stored forecast and accuracy.
type ProductForecast struct {
	ProductID   string
	HistoryDays int
	HoldoutDays int
	Result      analytics.DemandForecast
}

// DemandForecastRun is one as-of date's forecasts, the model version that
// made them and the run's lineage.
type DemandForecastRun struct {
	AsOf     time.Time // a UTC day
	RunID    string
	Model    ModelVersion
	Products []ProductForecast
	Lineage  Lineage
	Topic    string // orders topic, for the lineage's offsets
	Promoter string
}

// SaveDemandForecasts replaces the as-of date's forecasts and accuracy
// rows with r's, registers the forecast model version (active: the latest
// forecasts are the ones in use) and records lineage, in one transaction.
// It returns the forecast rows written.
func (db *DB) SaveDemandForecasts(ctx context.Context, r DemandForecastRun) (int64, error) {
	asOf := r.AsOf.UTC().Truncate(24 * time.Hour)
	var n int64
	err := db.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM demand_forecasts WHERE as_of = $1`, asOf); err != nil {
			return fmt.Errorf("clear forecasts: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM demand_forecast_accuracy WHERE as_of = $1`, asOf); err != nil {
			return fmt.Errorf("clear forecast accuracy: %w", err)
		}
		var fc, acc [][]any
		for _, p := range r.Products {
			for i, v := range p.Result.Forecast {
				fc = append(fc, []any{asOf, p.ProductID, asOf.AddDate(0, 0, i), v, p.Result.Method, r.Model.Version, r.RunID})
			}
			params, err := json.Marshal(p.Result.Params)
			if err != nil {
				return fmt.Errorf("forecast params of %s: %w", p.ProductID, err)
			}
			var mase, sn *float64
			if p.Result.HasMASE {
				mase, sn = &p.Result.MASE, &p.Result.SeasonalNaiveMASE
			}
			c := p.Result.Class
			acc = append(acc, []any{asOf, p.ProductID, p.Result.Method, c.Class, c.ADI, c.CV2,
				int32(p.HistoryDays), int32(p.HoldoutDays), mase, sn, string(params), r.Model.Version, r.RunID})
		}
		var err error
		if n, err = tx.CopyFrom(ctx, pgx.Identifier{"demand_forecasts"},
			[]string{"as_of", "product_id", "forecast_date", "forecast", "method", "model_version", "run_id"},
			pgx.CopyFromRows(fc)); err != nil {
			return fmt.Errorf("copy forecasts: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"demand_forecast_accuracy"},
			[]string{"as_of", "product_id", "method", "demand_class", "adi", "cv2", "history_days", "holdout_days",
				"mase", "snaive_mase", "params", "model_version", "run_id"},
			pgx.CopyFromRows(acc)); err != nil {
			return fmt.Errorf("copy forecast accuracy: %w", err)
		}
		m := r.Model
		if _, err := tx.Exec(ctx, `
			INSERT INTO model_registry (model, version, algorithm, status, train_from, train_to, params, metrics, trained_by)
			VALUES ($1, $2, $3, 'candidate', $4, $5, $6, $7, $8)
			ON CONFLICT (model, version) DO UPDATE SET
				algorithm = excluded.algorithm, train_from = excluded.train_from, train_to = excluded.train_to,
				params = excluded.params, metrics = excluded.metrics, trained_by = excluded.trained_by`,
			m.Model, m.Version, m.Algorithm, nullTime(m.TrainFrom), nullTime(m.TrainTo),
			jsonOr(m.Params), jsonOr(m.Metrics), m.TrainedBy); err != nil {
			return fmt.Errorf("register %s/%s: %w", m.Model, m.Version, err)
		}
		if err := promoteModel(ctx, tx, m.Model, m.Version, r.Promoter); err != nil {
			return err
		}
		l := r.Lineage
		if l.Outputs == nil {
			l.Outputs = map[string]any{}
		}
		l.Outputs["demand_forecasts_rows"], l.Outputs["demand_forecast_accuracy_rows"] = n, len(acc)
		return db.lineageWithOffsets(ctx, tx, l, r.Topic)
	})
	if err != nil {
		return 0, fmt.Errorf("save demand forecasts for %s: %w", asOf.Format(time.DateOnly), err)
	}
	return n, nil
}
