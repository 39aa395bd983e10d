package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/shoppulse/shoppulse/store"
)

// trainAfterHistory are the batch workflows that learn from history, in the
// order the demo triggers their schedules once the history is consumed:
// features before the models that read them, forecasts before
// replenishment, and the data-quality report last.
var trainAfterHistory = []string{
	"RollupDaily", "CustomerFeatures", "ChurnLTV", "Recommendations", "FraudModelTraining",
	"DemandForecast", "ReplenishmentScan", "PricingRecommendations", "DataQuality",
}

// fillHistory gives a fresh demo its past: it simulates dev.history_days of
// the shop (another seed than the live shop, so no event id is shared) at
// dev.history_rate events/s, waits until the worker has consumed every
// topic up to where the history ended, then triggers the schedules of the
// batch workflows that learn from it, so the model registry, segments,
// forecasts, replenishment and pricing have rows within minutes instead of
// after a night. A database whose orders already reach back that far keeps
// its history: a second `make demo` starts at once.
func (a *app) fillHistory(ctx context.Context, db *store.DB, out, progress io.Writer) error {
	days := a.cfg.Dev.HistoryDays
	if days <= 0 {
		return nil
	}
	now := time.Now().UTC()
	from := now.Add(-time.Duration(days) * 24 * time.Hour)
	oldest, found, err := db.OldestOrder(ctx)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if found && oldest.Before(from.Add(24*time.Hour)) {
		fmt.Fprintf(out, "history: orders reach back to %s already; not simulated again\n", oldest.Format(time.DateOnly))
		return nil
	}
	shop, rc, err := shopRun(shopFlags{
		now: now, days: days, daysSet: true, rate: a.cfg.Dev.HistoryRate, seed: a.cfg.Generate.Seed + 1,
		customers: a.cfg.Generate.Customers, products: a.cfg.Generate.Products,
	})
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	rc.Name = "history"
	fmt.Fprintf(out, "history: simulating %d days from %s at %g events/s (dev.history_days, dev.history_rate)\n",
		days, from.Format(time.DateOnly), a.cfg.Dev.HistoryRate)
	t0 := time.Now()
	stats, err := a.generateEvents(ctx, shop.Source(), rc, progress)
	if err != nil {
		return err
	}
	if err := a.waitConsumed(ctx, db, progress); err != nil {
		return err
	}
	fmt.Fprintf(out, "history: %d events produced and consumed in %s\n", stats.Produced, time.Since(t0).Round(time.Second))

	tc, err := a.dialTemporal(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	var triggered []string
	for _, wf := range trainAfterHistory {
		for _, s := range a.cfg.Schedules {
			if s.Workflow != wf {
				continue
			}
			if err := tc.ScheduleClient().GetHandle(ctx, s.ID).Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
				return fmt.Errorf("history: trigger schedule %s: %w", s.ID, err)
			}
			triggered = append(triggered, s.ID)
		}
	}
	fmt.Fprintf(out, "history: triggered %v (see the Temporal UI; models appear in GET /v1/models)\n", triggered)
	return nil
}

// waitConsumed waits until the stored offsets of every consumed topic reach
// the topic's end offsets as they are now.
func (a *app) waitConsumed(ctx context.Context, db *store.DB, progress io.Writer) error {
	k := a.cfg.Kafka
	topics := slices.Compact([]string{k.OrdersTopic, k.InventoryTopic, k.ClickstreamTopic, k.PaymentsTopic, k.MarketTopic, k.CustomersTopic})
	ends := map[string]map[int]int64{}
	var total int64
	for _, t := range topics {
		end, err := a.kafka().EndOffsets(ctx, t, k.Partitions)
		if err != nil {
			return fmt.Errorf("history: end offsets of %s: %w", t, err)
		}
		ends[t] = end
		for _, o := range end {
			total += o
		}
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := time.Time{}
	for {
		var behind int64
		for _, t := range topics {
			states, err := db.Offsets(ctx, t)
			if err != nil {
				return fmt.Errorf("history: stored offsets of %s: %w", t, err)
			}
			stored := map[int]int64{}
			for _, s := range states {
				stored[s.Partition] = s.NextOffset
			}
			for p, end := range ends[t] {
				behind += max(0, end-stored[p])
			}
		}
		if behind == 0 {
			return nil
		}
		if time.Since(last) >= 5*time.Second {
			fmt.Fprintf(progress, "history: consumed %d of %d messages\n", total-behind, total)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return errors.Join(errors.New("history: interrupted while the worker consumed it"), ctx.Err())
		case <-tick.C:
		}
	}
}
