// Package activities holds ShopPulse's Temporal activities: thin adapters over
// streaming, store and analytics. Each takes one input struct and returns one
// result struct; long ones heartbeat. They hold no state between calls beyond
// their dependencies.
package activities

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

// Stream adapts the hot path to Temporal.
type Stream struct {
	DB      *store.DB
	Metrics *streaming.Metrics
	Log     *slog.Logger
	// Base holds the brokers, topics and batch bounds; each call fills in its
	// partitions.
	Base              streaming.Config
	ReplicationFactor int
	// InventoryTopic is consumed into stock levels and stock alerts,
	// ClickstreamTopic into traffic and sessions, and PaymentsTopic into
	// payment facts and payments per minute; every other topic is consumed
	// as orders.
	InventoryTopic   string
	ClickstreamTopic string
	PaymentsTopic    string
	// MarketTopic is consumed into price changes and competitor prices,
	// CustomersTopic into customer events and accounts.
	MarketTopic    string
	CustomersTopic string
	// SessionGap ends a session (zero: store.DefaultSessionGap).
	SessionGap time.Duration
	// DefaultReorderPoint applies where reorder_points has no row.
	DefaultReorderPoint int64
	// FraudAlertThreshold raises a fraud alert for an order scoring at or
	// above it (0: streaming.DefaultFraudAlertThreshold).
	FraudAlertThreshold float64
}

// SinkFor picks the sink of a topic's kind, configured as the activity
// consumes it.
func (a *Stream) SinkFor(topic string) streaming.Sink {
	if a.InventoryTopic != "" && topic == a.InventoryTopic {
		return streaming.InventorySink{DB: a.DB, DefaultReorderPoint: a.DefaultReorderPoint}
	}
	if a.ClickstreamTopic != "" && topic == a.ClickstreamTopic {
		return streaming.ClickstreamSink{DB: a.DB, SessionGap: a.SessionGap}
	}
	if a.PaymentsTopic != "" && topic == a.PaymentsTopic {
		return streaming.PaymentsSink{DB: a.DB}
	}
	if a.MarketTopic != "" && topic == a.MarketTopic {
		return streaming.MarketSink{DB: a.DB}
	}
	if a.CustomersTopic != "" && topic == a.CustomersTopic {
		return streaming.CustomersSink{DB: a.DB}
	}
	return streaming.NewOrderSink(a.DB, a.FraudAlertThreshold, a.Log)
}

// EnsureStreamInput names the topic to prepare.
type EnsureStreamInput struct {
	Topic      string
	Partitions int
}

// EnsureStreamResult is the topic's real partition count.
type EnsureStreamResult struct {
	Partitions int
}

// EnsureStream creates the topic and its DLQ topic if missing and the stored
// offset rows of every partition. Idempotent.
func (a *Stream) EnsureStream(ctx context.Context, in EnsureStreamInput) (EnsureStreamResult, error) {
	counts, err := streaming.Kafka{Brokers: a.Base.Brokers, TLS: a.Base.TLS}.EnsureTopics(ctx,
		streaming.TopicSpec{Name: in.Topic, Partitions: in.Partitions, ReplicationFactor: a.ReplicationFactor},
		streaming.TopicSpec{Name: a.Base.DLQTopic, Partitions: in.Partitions, ReplicationFactor: a.ReplicationFactor},
	)
	if err != nil {
		return EnsureStreamResult{}, err
	}
	n := counts[in.Topic]
	if err := a.DB.InitOffsets(ctx, in.Topic, n); err != nil {
		return EnsureStreamResult{}, err
	}
	return EnsureStreamResult{Partitions: n}, nil
}

// ConsumeInput is one partition set to own.
type ConsumeInput struct {
	Topic      string
	Partitions []int
	// MaxRun is how long to consume before returning, so the supervisor can
	// start a fresh activity (and continue-as-new when its history grows).
	MaxRun time.Duration
}

// ConsumeResult is where each partition stood when the activity returned.
type ConsumeResult struct {
	Progress []streaming.Progress
}

// ConsumePartitions owns the partitions until MaxRun passes, the activity is
// cancelled, or Temporal stops hearing its heartbeat. It heartbeats the
// committed offsets. A fenced partition (another owner moved on) fails the
// attempt, and the retry starts again from the stored offsets.
func (a *Stream) ConsumePartitions(ctx context.Context, in ConsumeInput) (ConsumeResult, error) {
	if len(in.Partitions) == 0 || in.Topic == "" {
		return ConsumeResult{}, temporal.NewNonRetryableApplicationError("consume: a topic and at least one partition are required", "InvalidInput", nil)
	}
	info := activity.GetInfo(ctx)
	cfg := a.Base
	cfg.Topic = in.Topic
	cfg.Partitions = in.Partitions
	cfg.Owner = fmt.Sprintf("%s/%s#%d", info.WorkflowExecution.ID, info.ActivityID, info.Attempt)
	c, err := streaming.NewSinkConsumer(cfg, a.DB, a.SinkFor(in.Topic), a.Metrics, a.Log)
	if err != nil {
		return ConsumeResult{}, temporal.NewNonRetryableApplicationError(err.Error(), "InvalidInput", err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if in.MaxRun > 0 {
		runCtx, cancel = context.WithTimeout(runCtx, in.MaxRun)
		defer cancel()
	}
	// A worker that is shutting down asks its activities to return: the
	// consumer stops after its current batch, and the supervisor hands the
	// partitions to a worker that stays.
	stopping := activity.GetWorkerStopChannel(ctx)
	go func() {
		select {
		case <-stopping:
			cancel()
		case <-runCtx.Done():
		}
	}()

	// Heartbeat on a ticker, not only on commits: an idle partition's owner
	// is still alive. The details carry the committed offsets.
	every := info.HeartbeatTimeout / 3
	if every <= 0 || every > 10*time.Second {
		every = 10 * time.Second
	}
	var wg sync.WaitGroup
	hbCtx, stopHB := context.WithCancel(runCtx)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			activity.RecordHeartbeat(ctx, c.Progress())
			select {
			case <-hbCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	err = c.Run(runCtx)
	stopHB()
	wg.Wait()
	res := ConsumeResult{Progress: c.Progress()}
	switch {
	case err != nil:
		return res, err
	case ctx.Err() != nil:
		// Cancelled or timed out by Temporal: report it as such.
		return res, ctx.Err()
	default:
		return res, nil
	}
}
