package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/events"
)

// AlertFraud is the alert raised for an order whose fraud score reaches the
// alert threshold.
const AlertFraud = "fraud"

// FraudFeatures are the features of one order, computed inside its batch's
// transaction from the order facts (see fraudFeaturesSQL for the
// definitions). It is analytics.FraudFeatures, which the scoring code reads;
// the JSON names are the keys of fraud_scores.features and of a logistic
// model's weights.
//
// Windows are [t-w, t) by event time t of the order, over the orders stored
// before it: on its own partition, those at an earlier Kafka offset (so the
// batch's own earlier orders count, and the split into batches changes
// nothing); on other partitions, those committed when its batch ran. A
// customer's orders share a partition (the message key is the customer), so
// customer features are exact and repeatable; a card, IP or device used from
// several partitions may see more or fewer of the other partitions' orders
// depending on how far those had been consumed.
//
// The customers topic is not consumed, so account age is measured from the
// customer's first stored order (first seen), not their registration.
type FraudFeatures = analytics.FraudFeatures

// MinZHistory is the number of earlier orders a customer needs before the
// amount's z-score is computed.
const MinZHistory = analytics.MinZHistory

// FraudScoring scores a batch's newly stored orders inside its transaction.
type FraudScoring struct {
	// Version names the model; it is stored with every score.
	Version string
	// Score maps an order's features to a score from 0 to 1. It must be
	// safe to call from several goroutines.
	Score func(FraudFeatures) float64
	// AlertThreshold raises a fraud alert for an order scoring at or above
	// it; 0 or less raises none.
	AlertThreshold float64
}

// fraudFeaturesSQL computes the features of the orders ($3 to $8: customer,
// event time, offset, card, IP, device, with NULL for an absent key) that
// this transaction has just inserted at topic $1, partition $2; the counts
// and the customer's history come back with each order's ordinal. Velocity windows are read from one index
// range of 24 hours per key with FILTERs for 1 minute and 1 hour; the
// customer's history is all time. "Before the order" is event_time < t, and
// on the order's own partition also an earlier Kafka offset.
const fraudFeaturesSQL = `
SELECT o.i,
       c.n1m, c.n1h, c.n24h, c.prior, coalesce(c.mean, 0), coalesce(c.sd, 0), c.first_seen,
       (o.device_id IS NOT NULL AND c.with_device > 0 AND c.same_device = 0),
       card.n1m, card.n1h, card.n24h,
       ip.n1m, ip.n1h, ip.n24h, ip.cards1h, ip.cards24h,
       dev.n1m, dev.n1h, dev.n24h
  FROM unnest($3::text[], $4::timestamptz[], $5::bigint[], $6::text[], $7::text[], $8::text[])
       WITH ORDINALITY AS o(customer_id, event_time, kafka_offset, card_fingerprint, ip, device_id, i)
  CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE p.event_time >= o.event_time - interval '1 minute') AS n1m,
	       count(*) FILTER (WHERE p.event_time >= o.event_time - interval '1 hour') AS n1h,
	       count(*) FILTER (WHERE p.event_time >= o.event_time - interval '24 hours') AS n24h,
	       count(*) AS prior,
	       avg(p.total_minor)::float8 AS mean,
	       stddev_samp(p.total_minor)::float8 AS sd,
	       min(p.event_time) AS first_seen,
	       count(*) FILTER (WHERE p.device_id IS NOT NULL) AS with_device,
	       count(*) FILTER (WHERE p.device_id = o.device_id) AS same_device
	  FROM orders p
	 WHERE p.customer_id = o.customer_id AND p.event_time < o.event_time
	   AND NOT (p.topic = $1 AND p.partition = $2 AND p.kafka_offset >= o.kafka_offset)) c
  CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE p.event_time >= o.event_time - interval '1 minute') AS n1m,
	       count(*) FILTER (WHERE p.event_time >= o.event_time - interval '1 hour') AS n1h,
	       count(*) AS n24h
	  FROM orders p
	 WHERE o.card_fingerprint IS NOT NULL AND p.card_fingerprint = o.card_fingerprint
	   AND p.event_time >= o.event_time - interval '24 hours' AND p.event_time < o.event_time
	   AND NOT (p.topic = $1 AND p.partition = $2 AND p.kafka_offset >= o.kafka_offset)) card
  CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE p.event_time >= o.event_time - interval '1 minute') AS n1m,
	       count(*) FILTER (WHERE p.event_time >= o.event_time - interval '1 hour') AS n1h,
	       count(*) AS n24h,
	       count(DISTINCT p.card_fingerprint) FILTER (WHERE p.event_time >= o.event_time - interval '1 hour') AS cards1h,
	       count(DISTINCT p.card_fingerprint) AS cards24h
	  FROM orders p
	 WHERE o.ip IS NOT NULL AND p.ip = o.ip
	   AND p.event_time >= o.event_time - interval '24 hours' AND p.event_time < o.event_time
	   AND NOT (p.topic = $1 AND p.partition = $2 AND p.kafka_offset >= o.kafka_offset)) ip
  CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE p.event_time >= o.event_time - interval '1 minute') AS n1m,
	       count(*) FILTER (WHERE p.event_time >= o.event_time - interval '1 hour') AS n1h,
	       count(*) AS n24h
	  FROM orders p
	 WHERE o.device_id IS NOT NULL AND p.device_id = o.device_id
	   AND p.event_time >= o.event_time - interval '24 hours' AND p.event_time < o.event_time
	   AND NOT (p.topic = $1 AND p.partition = $2 AND p.kafka_offset >= o.kafka_offset)) dev`

// FraudScore is one stored score.
type FraudScore struct {
	EventID      string
	EventTime    time.Time
	OrderID      string
	CustomerID   string
	Score        float64
	ModelVersion string
	Features     FraudFeatures
}

// scoreOrders computes the features of the orders of b that this
// transaction inserted, scores them with f, stores the scores and raises a
// fraud alert for each at or above the threshold. It returns the number of
// scores and of alerts raised.
func scoreOrders(ctx context.Context, tx pgx.Tx, b OrderBatch, inserted map[string]bool) (scored, alerts int, err error) {
	f := b.Fraud
	if f == nil || len(inserted) == 0 {
		return 0, 0, nil
	}
	type pending struct {
		o      events.OrderPlaced
		offset int64
	}
	var todo []pending
	seen := make(map[string]bool, len(inserted))
	for _, po := range b.Orders {
		if id := po.Order.EventID; inserted[id] && !seen[id] {
			seen[id] = true // the first of repeats is the one stored
			todo = append(todo, pending{po.Order, po.Offset})
		}
	}
	n := len(todo)
	customers, cards, ips, devices := make([]string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	times, offsets := make([]time.Time, n), make([]int64, n)
	orNull := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	for i, p := range todo {
		customers[i], times[i], offsets[i] = p.o.CustomerID, p.o.EventTime.UTC(), p.offset
		cards[i], ips[i], devices[i] = orNull(p.o.CardFingerprint), orNull(p.o.IP), orNull(p.o.DeviceID)
	}
	// The query's many index probes make its estimated cost large enough
	// for JIT compilation, which costs more (hundreds of ms) than the query.
	if _, err := tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
		return 0, 0, fmt.Errorf("fraud features: %w", err)
	}
	rows, err := tx.Query(ctx, fraudFeaturesSQL, b.Topic, b.Partition, customers, times, offsets, cards, ips, devices)
	if err != nil {
		return 0, 0, fmt.Errorf("fraud features: %w", err)
	}
	scores := make([]FraudScore, n)
	var got int
	for rows.Next() {
		got++
		var i int
		var ft FraudFeatures
		var mean, sd float64
		var first *time.Time
		var newDevice bool
		if err := rows.Scan(&i,
			&ft.CustomerOrders1m, &ft.CustomerOrders1h, &ft.CustomerOrders24h, &ft.CustomerPriorOrders, &mean, &sd, &first,
			&newDevice,
			&ft.CardOrders1m, &ft.CardOrders1h, &ft.CardOrders24h,
			&ft.IPOrders1m, &ft.IPOrders1h, &ft.IPOrders24h, &ft.IPCards1h, &ft.IPCards24h,
			&ft.DeviceOrders1m, &ft.DeviceOrders1h, &ft.DeviceOrders24h); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("fraud features: %w", err)
		}
		if i < 1 || i > n {
			rows.Close()
			return 0, 0, fmt.Errorf("fraud features: ordinal %d of %d", i, n)
		}
		o := todo[i-1].o
		at := o.EventTime.UTC()
		ft.AmountMinor = o.TotalMinor
		ft.AmountRatio, ft.AmountZ = amountFeatures(ft.AmountMinor, ft.CustomerPriorOrders, mean, sd)
		if first != nil {
			ft.AccountAgeHours = at.Sub(*first).Hours()
		}
		ft.NewDevice = b2i(newDevice)
		ft.CountryMismatch = b2i(o.BillingCountry != "" && o.ShippingCountry != "" && o.BillingCountry != o.ShippingCountry)
		scores[i-1] = FraudScore{EventID: o.EventID, EventTime: at, OrderID: o.OrderID, CustomerID: o.CustomerID,
			Score: f.Score(ft), ModelVersion: f.Version, Features: ft}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("fraud features: %w", err)
	}
	if got != n {
		return 0, 0, fmt.Errorf("fraud features: %d rows for %d orders", got, n)
	}

	// Scores are copied: they belong to orders this transaction inserted, so
	// none exists yet.
	copyRows := make([][]any, len(scores))
	var buf []byte
	for i, s := range scores {
		buf = appendFeaturesJSON(buf[:0], s.Features)
		copyRows[i] = []any{s.EventID, s.EventTime, s.OrderID, s.CustomerID, s.Score, s.ModelVersion, string(buf)}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"fraud_scores"},
		[]string{"event_id", "event_time", "order_id", "customer_id", "score", "model_version", "features"},
		pgx.CopyFromRows(copyRows)); err != nil {
		return 0, 0, fmt.Errorf("copy fraud scores: %w", err)
	}
	if f.AlertThreshold <= 0 {
		return len(scores), 0, nil
	}
	for _, s := range scores {
		if s.Score < f.AlertThreshold {
			continue
		}
		opened, err := RaiseAlert(ctx, tx, NewAlert{
			Type: AlertFraud, Entity: "order " + s.OrderID, Severity: SeverityCritical,
			DedupKey: "fraud:order:" + s.OrderID, OpenedAt: s.EventTime,
			Details: map[string]any{"event_id": s.EventID, "order_id": s.OrderID, "customer_id": s.CustomerID,
				"score": s.Score, "model_version": s.ModelVersion, "threshold": f.AlertThreshold, "features": s.Features},
		})
		if err != nil {
			return 0, 0, err
		}
		if opened {
			alerts++
		}
	}
	return len(scores), alerts, nil
}

// amountFeatures returns the order total's ratio to the customer's mean
// earlier total (1 without history) and its z-score against the earlier
// totals (0 with fewer than MinZHistory or no spread).
func amountFeatures(amount, prior int64, mean, sd float64) (ratio, z float64) {
	ratio = 1
	if prior > 0 && mean > 0 {
		ratio = float64(amount) / mean
	}
	if prior >= MinZHistory && sd > 0 {
		z = (float64(amount) - mean) / sd
	}
	return ratio, z
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// FraudScores returns the stored scores of the orders with event time in
// [from, to), highest score first (then by event time and id).
func (db *DB) FraudScores(ctx context.Context, from, to time.Time) ([]FraudScore, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT event_id, event_time, order_id, customer_id, score, model_version, features
		  FROM fraud_scores WHERE event_time >= $1 AND event_time < $2
		 ORDER BY score DESC, event_time, event_id`, from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("read fraud scores: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FraudScore, error) {
		var s FraudScore
		var feats []byte
		if err := r.Scan(&s.EventID, &s.EventTime, &s.OrderID, &s.CustomerID, &s.Score, &s.ModelVersion, &feats); err != nil {
			return s, err
		}
		s.EventTime = s.EventTime.UTC()
		return s, json.Unmarshal(feats, &s.Features)
	})
	if err != nil {
		return nil, fmt.Errorf("read fraud scores: %w", err)
	}
	return out, nil
}

// FraudModelRow is one version in the fraud model registry.
type FraudModelRow struct {
	Version, Kind string
	Params        json.RawMessage
	Active        bool
	Metrics       json.RawMessage
	CreatedAt     time.Time
}

// ActiveFraudModel returns the active fraud model, or ErrNotFound when none
// is active.
func (db *DB) ActiveFraudModel(ctx context.Context) (FraudModelRow, error) {
	m, err := db.ActiveModel(ctx, "fraud")
	if err != nil {
		return FraudModelRow{}, err
	}
	return FraudModelRow{Version: m.Version, Kind: m.Algorithm, Params: m.Params, Active: true,
		Metrics: m.Metrics, CreatedAt: m.CreatedAt}, nil
}

// RegisterFraudModel stores a fraud model version in the registry; when
// m.Active it becomes the only active fraud model, in one transaction.
// Registering an existing version again changes nothing but its status.
func (db *DB) RegisterFraudModel(ctx context.Context, m FraudModelRow) error {
	status := ModelCandidate
	if m.Active {
		status = ModelActive
	}
	return db.RegisterModel(ctx, ModelVersion{Model: "fraud", Version: m.Version, Algorithm: m.Kind,
		Status: status, Params: m.Params, Metrics: m.Metrics, PromotedBy: "RegisterFraudModel"})
}

// appendFeaturesJSON appends f as a JSON object, as encoding/json would write it,
// without reflection: the hot path writes one per order.
func appendFeaturesJSON(b []byte, f FraudFeatures) []byte {
	ints := [...]struct {
		name string
		v    int64
	}{
		{"customer_orders_1m", f.CustomerOrders1m}, {"customer_orders_1h", f.CustomerOrders1h}, {"customer_orders_24h", f.CustomerOrders24h},
		{"card_orders_1m", f.CardOrders1m}, {"card_orders_1h", f.CardOrders1h}, {"card_orders_24h", f.CardOrders24h},
		{"ip_orders_1m", f.IPOrders1m}, {"ip_orders_1h", f.IPOrders1h}, {"ip_orders_24h", f.IPOrders24h},
		{"device_orders_1m", f.DeviceOrders1m}, {"device_orders_1h", f.DeviceOrders1h}, {"device_orders_24h", f.DeviceOrders24h},
		{"ip_cards_1h", f.IPCards1h}, {"ip_cards_24h", f.IPCards24h},
		{"amount_minor", f.AmountMinor}, {"customer_prior_orders", f.CustomerPriorOrders},
		{"country_mismatch", f.CountryMismatch}, {"new_device", f.NewDevice},
	}
	floats := [...]struct {
		name string
		v    float64
	}{{"amount_ratio", f.AmountRatio}, {"amount_z", f.AmountZ}, {"account_age_hours", f.AccountAgeHours}}
	b = append(b, '{')
	for i, kv := range ints {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, kv.name...)
		b = append(b, '"', ':')
		b = strconv.AppendInt(b, kv.v, 10)
	}
	for _, kv := range floats {
		b = append(b, ',', '"')
		b = append(b, kv.name...)
		b = append(b, '"', ':')
		v := kv.v
		if math.IsNaN(v) || math.IsInf(v, 0) {
			v = 0 // JSON has no NaN; the features never produce one
		}
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, '}')
}
