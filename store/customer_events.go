package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/events"
)

// CustomerEvent is a valid event of the customers topic (registration,
// update or erasure request) with its place in the log. Exactly one of the
// pointers is set.
type CustomerEvent struct {
	Registered *events.CustomerRegistered
	Updated    *events.CustomerUpdated
	Erasure    *events.ErasureRequested
	Offset     int64
}

// Head returns the event's header and customer id.
func (e CustomerEvent) Head() (events.Header, string) {
	switch {
	case e.Registered != nil:
		return e.Registered.Header, e.Registered.CustomerID
	case e.Updated != nil:
		return e.Updated.Header, e.Updated.CustomerID
	default:
		return e.Erasure.Header, e.Erasure.CustomerID
	}
}

// CustomerBatch is one micro-batch of one partition of the customers topic.
type CustomerBatch struct {
	BatchMeta
	Events []CustomerEvent
}

// customerPatch is what a batch's events change in one customer's row; nil
// fields are unchanged.
type customerPatch struct {
	email, country   *string
	consent          *bool
	registered, wipe *time.Time
	updated          time.Time
}

// CommitCustomerBatch stores a batch's customer events as facts (once per
// event id) and folds the new ones, in log order, into customers: a
// registration sets the email, country, consent and registration time, an
// update its country and consent when given, an erasure request the time of
// the first request (erasing is the batch side's job). The topic is keyed
// by customer, so a customer's events share a partition and the fold sees
// them in log order, the same on every run.
func (db *DB) CommitCustomerBatch(ctx context.Context, b CustomerBatch) (BatchResult, error) {
	return db.CommitBatch(ctx, b.BatchMeta, func(ctx context.Context, tx pgx.Tx, wm time.Time) (BatchResult, error) {
		var res BatchResult
		evs := make([]CustomerEvent, len(b.Events))
		copy(evs, b.Events)
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Offset < evs[j].Offset })
		inserted, err := insertCustomerEvents(ctx, tx, b.BatchMeta, evs)
		if err != nil {
			return res, err
		}
		patches := map[string]*customerPatch{}
		for _, e := range evs {
			h, customer := e.Head()
			if !inserted[h.EventID] {
				res.Duplicates++
				continue
			}
			delete(inserted, h.EventID)
			res.Applied++
			at := h.EventTime.UTC()
			if isLateMinute(wm, at) {
				res.Late++
			}
			if at.After(res.Watermark) {
				res.Watermark = at
			}
			p := patches[customer]
			if p == nil {
				p = &customerPatch{}
				patches[customer] = p
			}
			if at.After(p.updated) {
				p.updated = at
			}
			switch {
			case e.Registered != nil:
				r := e.Registered
				if r.Email != "" {
					p.email = &r.Email
				}
				p.country, p.consent, p.registered = &r.Country, &r.MarketingConsent, &at
			case e.Updated != nil:
				u := e.Updated
				if u.Country != "" {
					p.country = &u.Country
				}
				if u.MarketingConsent != nil {
					p.consent = u.MarketingConsent
				}
			default:
				if p.wipe == nil {
					p.wipe = &at
				}
			}
		}
		return res, upsertCustomers(ctx, tx, patches)
	})
}

func insertCustomerEvents(ctx context.Context, tx pgx.Tx, m BatchMeta, evs []CustomerEvent) (map[string]bool, error) {
	if len(evs) == 0 {
		return map[string]bool{}, nil
	}
	n := len(evs)
	ids, types, customers := make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	offsets := make([]int64, n)
	for i, e := range evs {
		h, customer := e.Head()
		ids[i], types[i], customers[i], times[i], offsets[i] = h.EventID, h.Type, customer, h.EventTime.UTC(), e.Offset
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO customer_events (event_id, event_time, type, customer_id, kafka_offset, topic, partition)
		SELECT u.*, $6, $7 FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::bigint[]) AS u
		ON CONFLICT (event_id) DO NOTHING
		RETURNING event_id`, ids, times, types, customers, offsets, m.Topic, m.Partition)
	if err != nil {
		return nil, fmt.Errorf("insert customer events: %w", err)
	}
	return collectIDs(rows, "customer events")
}

// upsertCustomers applies the patches, customers sorted by id (the lock
// order).
func upsertCustomers(ctx context.Context, tx pgx.Tx, patches map[string]*customerPatch) error {
	if len(patches) == 0 {
		return nil
	}
	ids := make([]string, 0, len(patches))
	for id := range patches {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	n := len(ids)
	emails, countries := make([]*string, n), make([]*string, n)
	consents := make([]*bool, n)
	registered, wipes := make([]*time.Time, n), make([]*time.Time, n)
	updated := make([]time.Time, n)
	for i, id := range ids {
		p := patches[id]
		emails[i], countries[i], consents[i], registered[i], wipes[i], updated[i] = p.email, p.country, p.consent, p.registered, p.wipe, p.updated
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO customers AS t (customer_id, email, country, marketing_consent, registered_at, erasure_requested_at, updated_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::timestamptz[], $6::timestamptz[], $7::timestamptz[])
		ON CONFLICT (customer_id) DO UPDATE SET
			email = coalesce(excluded.email, t.email),
			country = coalesce(excluded.country, t.country),
			marketing_consent = coalesce(excluded.marketing_consent, t.marketing_consent),
			registered_at = coalesce(excluded.registered_at, t.registered_at),
			erasure_requested_at = coalesce(t.erasure_requested_at, excluded.erasure_requested_at),
			updated_at = greatest(t.updated_at, excluded.updated_at)`,
		ids, emails, countries, consents, registered, wipes, updated)
	if err != nil {
		return fmt.Errorf("upsert customers: %w", err)
	}
	return nil
}

// Customer is one row of customers.
type Customer struct {
	CustomerID         string
	Email, Country     string
	MarketingConsent   bool
	RegisteredAt       time.Time // zero if no registration was seen
	UpdatedAt          time.Time
	ErasureRequestedAt time.Time // zero if none
}

// Customers returns every customer by id.
func (db *DB) Customers(ctx context.Context) ([]Customer, error) {
	rows, err := db.Pool.Query(ctx, `
		SELECT customer_id, coalesce(email, ''), coalesce(country, ''), coalesce(marketing_consent, false),
		       coalesce(registered_at, 'epoch'), updated_at, coalesce(erasure_requested_at, 'epoch')
		  FROM customers ORDER BY customer_id`)
	if err != nil {
		return nil, fmt.Errorf("read customers: %w", err)
	}
	epoch := time.Unix(0, 0).UTC()
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Customer, error) {
		var c Customer
		err := r.Scan(&c.CustomerID, &c.Email, &c.Country, &c.MarketingConsent, &c.RegisteredAt, &c.UpdatedAt, &c.ErasureRequestedAt)
		c.RegisteredAt, c.UpdatedAt, c.ErasureRequestedAt = c.RegisteredAt.UTC(), c.UpdatedAt.UTC(), c.ErasureRequestedAt.UTC()
		if c.RegisteredAt.Equal(epoch) {
			c.RegisteredAt = time.Time{}
		}
		if c.ErasureRequestedAt.Equal(epoch) {
			c.ErasureRequestedAt = time.Time{}
		}
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read customers: %w", err)
	}
	return out, nil
}
