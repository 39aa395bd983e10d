package streaming

import (
	"context"
	"log/slog"
	"time"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/store"
)

// Sink is what makes the consumer loop serve one kind of topic: it starts the
// batches that take that kind's events and commit them. The loop itself
// (fetching, decoding, dead letters, offsets, metrics) is the same for every
// kind. A Sink is shared by the partitions of a Consumer, so NewBatch may be
// called from several goroutines at once.
type Sink interface {
	// NewBatch starts an empty batch for about n messages.
	NewBatch(n int) Batch
}

// Batch is one partition's micro-batch of one topic kind. It is used by one
// goroutine: Add for each valid event in offset order, then Commit once.
type Batch interface {
	// Add takes a valid event at its offset. It returns false, keeping
	// nothing, when the event does not belong on this kind of topic; the
	// consumer then dead-letters it.
	Add(ev events.Event, offset int64) bool
	// Commit stores the batch's results and meta's dead letters and moves
	// the partition's offset from meta.Start to meta.End, in one
	// transaction. If the stored offset is not meta.Start it changes nothing
	// and returns an error wrapping store.ErrFenced. It blocks until the
	// transaction ends and honours ctx.
	Commit(ctx context.Context, meta store.BatchMeta) (store.BatchResult, error)
	// EventTimes calls f with the event time of every event added, for the
	// end-to-end latency metric.
	EventTimes(f func(time.Time))
}

// OrderSink commits order events (orders and cancellations) with
// store.CommitOrderBatch, scoring every new order for fraud in the same
// transaction.
type OrderSink struct {
	DB *store.DB
	// Fraud scores the orders; nil scores none.
	Fraud *FraudScorer
}

// NewOrderSink returns an order sink that scores orders with the active
// fraud model (or the rules), alerting at alertThreshold (0: the default).
// log may be nil.
func NewOrderSink(db *store.DB, alertThreshold float64, log *slog.Logger) OrderSink {
	return OrderSink{DB: db, Fraud: NewFraudScorer(db, alertThreshold, log)}
}

// NewBatch implements Sink.
func (s OrderSink) NewBatch(n int) Batch {
	return &orderBatch{db: s.DB, fraud: s.Fraud, b: store.OrderBatch{Orders: make([]store.PositionedOrder, 0, n)}}
}

type orderBatch struct {
	db    *store.DB
	fraud *FraudScorer
	b     store.OrderBatch
}

func (o *orderBatch) Add(ev events.Event, offset int64) bool {
	switch e := ev.(type) {
	case *events.OrderPlaced:
		o.b.Orders = append(o.b.Orders, store.PositionedOrder{Order: *e, Offset: offset})
	case *events.OrderCancelled:
		o.b.Cancellations = append(o.b.Cancellations, store.PositionedCancellation{Cancellation: *e, Offset: offset})
	default:
		return false
	}
	return true
}

// setMeta copies the batch's place in the log into the order batch.
func (o *orderBatch) setMeta(m store.BatchMeta) {
	o.b.Topic, o.b.Partition, o.b.Start, o.b.End = m.Topic, m.Partition, m.Start, m.End
	o.b.Owner, o.b.CaughtUp, o.b.DeadLetters = m.Owner, m.CaughtUp, m.DeadLetters
}

func (o *orderBatch) Commit(ctx context.Context, m store.BatchMeta) (store.BatchResult, error) {
	o.setMeta(m)
	if o.fraud != nil && len(o.b.Orders) > 0 {
		scoring, err := o.fraud.scoring(ctx)
		if err != nil {
			return store.BatchResult{}, err
		}
		o.b.Fraud = scoring
	}
	return o.db.CommitOrderBatch(ctx, o.b)
}

func (o *orderBatch) EventTimes(f func(time.Time)) {
	for _, po := range o.b.Orders {
		f(po.Order.EventTime)
	}
}

// InventorySink commits inventory movements with
// store.CommitInventoryBatch: stock levels and their low-stock and stockout
// alerts.
type InventorySink struct {
	DB *store.DB
	// DefaultReorderPoint applies where reorder_points has no row.
	DefaultReorderPoint int64
}

// NewBatch implements Sink.
func (s InventorySink) NewBatch(n int) Batch {
	return &inventoryBatch{db: s.DB, b: store.InventoryBatch{
		Movements:           make([]store.PositionedMovement, 0, n),
		DefaultReorderPoint: s.DefaultReorderPoint,
	}}
}

type inventoryBatch struct {
	db *store.DB
	b  store.InventoryBatch
}

func (ib *inventoryBatch) Add(ev events.Event, offset int64) bool {
	e, ok := ev.(*events.InventoryAdjusted)
	if !ok {
		return false
	}
	ib.b.Movements = append(ib.b.Movements, store.PositionedMovement{Movement: *e, Offset: offset})
	return true
}

func (ib *inventoryBatch) Commit(ctx context.Context, m store.BatchMeta) (store.BatchResult, error) {
	ib.b.BatchMeta = m
	return ib.db.CommitInventoryBatch(ctx, ib.b)
}

func (ib *inventoryBatch) EventTimes(f func(time.Time)) {
	for _, pm := range ib.b.Movements {
		f(pm.Movement.EventTime)
	}
}

// ClickstreamSink commits clickstream events with
// store.CommitClickstreamBatch: traffic per minute and sessions.
type ClickstreamSink struct {
	DB *store.DB
	// SessionGap ends a session; zero is store.DefaultSessionGap.
	SessionGap time.Duration
}

// NewBatch implements Sink.
func (s ClickstreamSink) NewBatch(n int) Batch {
	return &clickstreamBatch{db: s.DB, b: store.ClickstreamBatch{Events: make([]store.ClickEvent, 0, n), SessionGap: s.SessionGap}}
}

type clickstreamBatch struct {
	db *store.DB
	b  store.ClickstreamBatch
}

func (cb *clickstreamBatch) Add(ev events.Event, offset int64) bool {
	var c events.Clickstream
	var product string
	switch e := ev.(type) {
	case *events.PageView:
		c = e.Clickstream
	case *events.ProductView:
		c, product = e.Clickstream, e.ProductID
	case *events.Search:
		c = e.Clickstream
	case *events.CartChange:
		c, product = e.Clickstream, e.ProductID
	case *events.CheckoutStarted:
		c = e.Clickstream
	default:
		return false
	}
	h := ev.Head()
	cb.b.Events = append(cb.b.Events, store.ClickEvent{
		EventID: h.EventID, Type: h.Type, EventTime: h.EventTime, SessionID: c.SessionID, CustomerID: c.CustomerID,
		Device: c.Device, Page: c.Page, Referrer: c.Referrer, ProductID: product, Offset: offset,
	})
	return true
}

func (cb *clickstreamBatch) Commit(ctx context.Context, m store.BatchMeta) (store.BatchResult, error) {
	cb.b.BatchMeta = m
	return cb.db.CommitClickstreamBatch(ctx, cb.b)
}

func (cb *clickstreamBatch) EventTimes(f func(time.Time)) {
	for _, e := range cb.b.Events {
		f(e.EventTime)
	}
}

// PaymentsSink commits payment events (authorizations, failures, refunds and
// chargebacks) with store.CommitPaymentBatch: payment facts and payments per
// minute.
type PaymentsSink struct {
	DB *store.DB
}

// NewBatch implements Sink.
func (s PaymentsSink) NewBatch(n int) Batch {
	return &paymentsBatch{db: s.DB, b: store.PaymentBatch{Payments: make([]store.PositionedPayment, 0, n)}}
}

type paymentsBatch struct {
	db *store.DB
	b  store.PaymentBatch
}

func (pb *paymentsBatch) Add(ev events.Event, offset int64) bool {
	switch e := ev.(type) {
	case *events.Payment:
		pb.b.Payments = append(pb.b.Payments, store.PositionedPayment{Payment: *e, Offset: offset})
	case *events.Refund:
		pb.b.Refunds = append(pb.b.Refunds, store.PositionedRefund{Refund: *e, Offset: offset})
	case *events.Chargeback:
		pb.b.Chargebacks = append(pb.b.Chargebacks, store.PositionedChargeback{Chargeback: *e, Offset: offset})
	default:
		return false
	}
	return true
}

func (pb *paymentsBatch) Commit(ctx context.Context, m store.BatchMeta) (store.BatchResult, error) {
	pb.b.BatchMeta = m
	return pb.db.CommitPaymentBatch(ctx, pb.b)
}

func (pb *paymentsBatch) EventTimes(f func(time.Time)) {
	for _, p := range pb.b.Payments {
		f(p.Payment.EventTime)
	}
	for _, r := range pb.b.Refunds {
		f(r.Refund.EventTime)
	}
	for _, c := range pb.b.Chargebacks {
		f(c.Chargeback.EventTime)
	}
}

// MarketSink commits market events (the shop's price changes and
// competitors' prices) with store.CommitMarketBatch.
type MarketSink struct {
	DB *store.DB
}

// NewBatch implements Sink.
func (s MarketSink) NewBatch(n int) Batch {
	return &marketBatch{db: s.DB}
}

type marketBatch struct {
	db *store.DB
	b  store.MarketBatch
}

func (mb *marketBatch) Add(ev events.Event, offset int64) bool {
	switch e := ev.(type) {
	case *events.PriceChanged:
		mb.b.PriceChanges = append(mb.b.PriceChanges, store.PositionedPriceChange{Change: *e, Offset: offset})
	case *events.CompetitorPrice:
		mb.b.CompetitorPrices = append(mb.b.CompetitorPrices, store.PositionedCompetitorPrice{Price: *e, Offset: offset})
	default:
		return false
	}
	return true
}

func (mb *marketBatch) Commit(ctx context.Context, m store.BatchMeta) (store.BatchResult, error) {
	mb.b.BatchMeta = m
	return mb.db.CommitMarketBatch(ctx, mb.b)
}

func (mb *marketBatch) EventTimes(f func(time.Time)) {
	for _, p := range mb.b.PriceChanges {
		f(p.Change.EventTime)
	}
	for _, p := range mb.b.CompetitorPrices {
		f(p.Price.EventTime)
	}
}

// CustomersSink commits account events (registrations, updates, erasure
// requests) with store.CommitCustomerBatch.
type CustomersSink struct {
	DB *store.DB
}

// NewBatch implements Sink.
func (s CustomersSink) NewBatch(n int) Batch {
	return &customersBatch{db: s.DB, b: store.CustomerBatch{Events: make([]store.CustomerEvent, 0, n)}}
}

type customersBatch struct {
	db *store.DB
	b  store.CustomerBatch
}

func (cb *customersBatch) Add(ev events.Event, offset int64) bool {
	ce := store.CustomerEvent{Offset: offset}
	switch e := ev.(type) {
	case *events.CustomerRegistered:
		ce.Registered = e
	case *events.CustomerUpdated:
		ce.Updated = e
	case *events.ErasureRequested:
		ce.Erasure = e
	default:
		return false
	}
	cb.b.Events = append(cb.b.Events, ce)
	return true
}

func (cb *customersBatch) Commit(ctx context.Context, m store.BatchMeta) (store.BatchResult, error) {
	cb.b.BatchMeta = m
	return cb.db.CommitCustomerBatch(ctx, cb.b)
}

func (cb *customersBatch) EventTimes(f func(time.Time)) {
	for _, e := range cb.b.Events {
		h, _ := e.Head()
		f(h.EventTime)
	}
}
