package store

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/events"
)

// Dimensions of revenue_minute_dim.
const (
	DimCategory = "category"
	DimProduct  = "product"
	DimCountry  = "country"
	DimChannel  = "channel"
)

// dimKey is one row of revenue_minute_dim; its field order is the table's
// primary key order, which is the order rows are locked in.
type dimKey struct {
	minute           time.Time
	dimension, value string
	currency         string
}

type dimDelta struct {
	orders, units, revenue int64
	// last is the event id of the last order counted in orders, so an order
	// with several lines of one product or category counts once.
	last string
}

func dimKeyLess(a, b dimKey) bool {
	if !a.minute.Equal(b.minute) {
		return a.minute.Before(b.minute)
	}
	if a.dimension != b.dimension {
		return a.dimension < b.dimension
	}
	if a.value != b.value {
		return a.value < b.value
	}
	return a.currency < b.currency
}

// addDims adds one newly stored order to the per-dimension deltas: its
// lines by category and product (revenue = quantity * unit price), its
// header by country and channel (revenue = the order total).
func addDims(dims map[dimKey]*dimDelta, o *events.OrderPlaced) {
	minute := o.EventTime.UTC().Truncate(time.Minute)
	add := func(dim, value string, units, revenue int64) {
		k := dimKey{minute, dim, value, o.Currency}
		d := dims[k]
		if d == nil {
			d = &dimDelta{}
			dims[k] = d
		}
		if d.last != o.EventID {
			d.last = o.EventID
			d.orders++
		}
		d.units += units
		d.revenue += revenue
	}
	units := int64(0)
	for _, l := range o.Lines {
		rev := l.Quantity * l.UnitPriceMinor
		add(DimCategory, l.Category, l.Quantity, rev)
		add(DimProduct, l.ProductID, l.Quantity, rev)
		units += l.Quantity
	}
	add(DimCountry, o.Country, units, o.TotalMinor)
	add(DimChannel, o.Channel, units, o.TotalMinor)
}

// upsertDimMinutes adds the deltas to revenue_minute_dim in one statement,
// keys sorted so concurrent batches lock shared rows in the same order.
func upsertDimMinutes(ctx context.Context, tx pgx.Tx, dims map[dimKey]*dimDelta) error {
	if len(dims) == 0 {
		return nil
	}
	keys := make([]dimKey, 0, len(dims))
	for k := range dims {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return dimKeyLess(keys[i], keys[j]) })
	n := len(keys)
	minutes := make([]time.Time, n)
	dimensions, values, currencies := make([]string, n), make([]string, n), make([]string, n)
	orders, units, revenue := make([]int64, n), make([]int64, n), make([]int64, n)
	for i, k := range keys {
		d := dims[k]
		minutes[i], dimensions[i], values[i], currencies[i] = k.minute, k.dimension, k.value, k.currency
		orders[i], units[i], revenue[i] = d.orders, d.units, d.revenue
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO revenue_minute_dim AS t (minute, dimension, value, currency, orders, units, revenue_minor)
		SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[])
		ON CONFLICT (minute, dimension, value, currency) DO UPDATE SET
			orders = t.orders + excluded.orders,
			units = t.units + excluded.units,
			revenue_minor = t.revenue_minor + excluded.revenue_minor,
			updated_at = now()`,
		minutes, dimensions, values, currencies, orders, units, revenue)
	if err != nil {
		return fmt.Errorf("upsert revenue per minute and dimension: %w", err)
	}
	return nil
}
