// Package workflows holds ShopPulse's Temporal workflows: deterministic
// orchestration only. All I/O is in activities; workflow code uses only the
// workflow package's clock, timers, goroutines and channels (DESIGN.md
// invariant 5). Inputs and outputs carry offsets and ids, never batches of
// events.
package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/shoppulse/shoppulse/activities"
)

// Registered workflow names. Schedules and the CLI start workflows by these.
const (
	NameStreamSupervisor     = "StreamSupervisor"
	NameRevenueRollupHourly  = "RevenueRollupHourly"
	NamePartitionMaintenance = "PartitionMaintenance"
)

// SignalSetConsumers changes a running supervisor's number of consumer
// activities; its value is the new number (an int of at least 1). The
// supervisor cancels its consumers, waits for them to stop, and continues as
// new with the partitions spread over the new number: each partition's next
// owner starts from the offsets its last owner committed, and the offset
// fence stops any old owner that has not noticed (DESIGN.md invariants 1
// and 2). The same number again changes nothing.
const SignalSetConsumers = "set-consumers"

// SupervisorWorkflowID is the id of a topic's supervisor: one per topic and
// namespace, so starting it twice finds the running one.
func SupervisorWorkflowID(topic string) string { return "shoppulse-stream-" + topic }

// historyLimit is the history length after which the supervisor drains its
// consumers and continues as new, well before Temporal's own limits.
const historyLimit = 2000

// SupervisorInput configures the stream supervisor.
type SupervisorInput struct {
	Topic string
	// Partitions is the partition count used if the topic must be created.
	Partitions int
	// Consumers is the number of consumer activities the partitions are
	// spread over.
	Consumers int
	// MaxRun bounds one consumer activity; it then returns and is started
	// again, which keeps the history short.
	MaxRun time.Duration
	// HeartbeatTimeout is how long Temporal waits for a consumer's heartbeat
	// before it retries the activity, on any worker.
	HeartbeatTimeout time.Duration
}

func (in SupervisorInput) validate() error {
	if in.Topic == "" || in.Partitions < 1 || in.Consumers < 1 || in.MaxRun <= 0 || in.HeartbeatTimeout <= 0 {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("supervisor input needs a topic and positive partitions, consumers, max run and heartbeat timeout: %+v", in),
			"InvalidInput", nil)
	}
	return nil
}

// StreamSupervisor owns a topic's partitions: it spreads them over
// in.Consumers long-running ConsumePartitions activities, restarts each when
// it returns, and continues as new before its history grows large. Temporal's
// retries move a consumer whose worker died to another worker; the offset
// fence makes the old one harmless if it was only paused.
func StreamSupervisor(ctx workflow.Context, in SupervisorInput) error {
	if err := in.validate(); err != nil {
		return err
	}
	log := workflow.GetLogger(ctx)
	ensureCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
	})
	var ensured activities.EnsureStreamResult
	if err := workflow.ExecuteActivity(ensureCtx, activities.NameEnsureStream,
		activities.EnsureStreamInput{Topic: in.Topic, Partitions: in.Partitions}).Get(ctx, &ensured); err != nil {
		return fmt.Errorf("ensure stream %s: %w", in.Topic, err)
	}
	upsertSearch(ctx, SearchTopic.ValueSet(in.Topic), SearchPartition.ValueSet(partitionValues(ensured.Partitions)))
	sets := SplitPartitions(ensured.Partitions, in.Consumers)
	log.Info("supervising", "topic", in.Topic, "partitions", ensured.Partitions, "sets", len(sets))

	// Consumers run under their own cancellable context: when one decides
	// to drain, the others are cancelled and awaited, so the next run
	// starts with no overlap.
	consumeCtx, cancelAll := workflow.WithCancel(ctx)
	draining := false
	// A new number of consumers drains this run; the next one spreads the
	// partitions over it.
	setConsumers := workflow.GetSignalChannel(ctx, SignalSetConsumers)
	workflow.Go(consumeCtx, func(gctx workflow.Context) {
		for {
			var n int
			if !setConsumers.Receive(gctx, &n) {
				return
			}
			if n < 1 || n == in.Consumers {
				log.Info("consumer count unchanged", "asked", n, "consumers", in.Consumers)
				continue
			}
			log.Info("re-assigning partitions", "from", in.Consumers, "to", n)
			in.Consumers = n
			draining = true
			cancelAll()
			return
		}
	})
	wg := workflow.NewWaitGroup(ctx)
	for i, set := range sets {
		wg.Add(1)
		workflow.Go(consumeCtx, func(gctx workflow.Context) {
			defer wg.Done()
			actx := workflow.WithActivityOptions(gctx, workflow.ActivityOptions{
				ActivityID:          fmt.Sprintf("consume-%d", i),
				StartToCloseTimeout: in.MaxRun + 5*time.Minute,
				HeartbeatTimeout:    in.HeartbeatTimeout,
				WaitForCancellation: true,
				RetryPolicy: &temporal.RetryPolicy{
					InitialInterval:    time.Second,
					BackoffCoefficient: 2,
					MaximumInterval:    30 * time.Second,
				},
			})
			for gctx.Err() == nil && !draining {
				err := workflow.ExecuteActivity(actx, activities.NameConsumePartitions,
					activities.ConsumeInput{Topic: in.Topic, Partitions: set, MaxRun: in.MaxRun}).Get(gctx, nil)
				if gctx.Err() != nil {
					return
				}
				if err != nil {
					// Only non-retryable failures get here (bad input);
					// wait before trying again rather than spin.
					log.Error("consumer failed", "partitions", set, "error", err)
					_ = workflow.Sleep(gctx, time.Minute)
				}
				info := workflow.GetInfo(gctx)
				if info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > historyLimit {
					draining = true
					cancelAll()
				}
			}
		})
	}
	wg.Wait(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	// A count asked for while draining is not lost: the last one wins.
	for {
		var n int
		if !setConsumers.ReceiveAsync(&n) {
			break
		}
		if n >= 1 {
			in.Consumers = n
		}
	}
	return workflow.NewContinueAsNewError(ctx, NameStreamSupervisor, in)
}

// SplitPartitions spreads partitions 0..n-1 over at most k sets, round robin,
// so each set's partitions are spread over the topic.
func SplitPartitions(n, k int) [][]int {
	if k > n {
		k = n
	}
	if k < 1 {
		return nil
	}
	sets := make([][]int, k)
	for p := 0; p < n; p++ {
		sets[p%k] = append(sets[p%k], p)
	}
	return sets
}
