package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/streaming"
)

func newGenerateCmd(a *app) *cobra.Command {
	var replay []string
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Simulate a shop (or replay real orders) into the orders topic",
		Long: `Produces order events to the orders topic with acks from all in-sync replicas.

Without --replay it simulates a shop, deterministic for --seed, at --rate events
per second (0: as fast as possible) until --count events (0: until interrupted).
With --replay it reads UCI Online Retail CSV files (see shared/data) and
produces their orders with their historical event times.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var src ingest.Source
			name := "generate"
			if len(replay) > 0 {
				orders, err := readReplay(replay, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				src, name = ingest.NewReplay(orders), "replay"
			} else {
				src = ingest.NewSimulator(ingest.SimConfig{
					Seed: a.cfg.Generate.Seed, Customers: a.cfg.Generate.Customers, Products: a.cfg.Generate.Products,
				}).Source()
			}
			stats, err := a.generate(ctx, src, name, cmd.OutOrStdout())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: done, %d events produced in %s\n", name, stats.Produced, stats.Elapsed.Round(time.Millisecond))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&replay, "replay", nil, "Online Retail CSV files to replay instead of simulating")
	f.Float64("rate", 0, "events per second (0: as fast as possible)")
	bindFlag(f, nil, "rate", "generate.rate")
	f.Int("count", 0, "stop after this many events (0: until interrupted)")
	bindFlag(f, nil, "count", "generate.count")
	f.Int64("seed", 0, "simulator seed")
	bindFlag(f, nil, "seed", "generate.seed")
	return cmd
}

// generate makes sure the topic exists and runs src into it.
func (a *app) generate(ctx context.Context, src ingest.Source, name string, progress io.Writer) (ingest.Stats, error) {
	k := a.cfg.Kafka
	if _, err := streaming.EnsureTopics(ctx, k.Brokers, streaming.TopicSpec{
		Name: k.OrdersTopic, Partitions: k.Partitions, ReplicationFactor: k.ReplicationFactor,
	}); err != nil {
		return ingest.Stats{}, fmt.Errorf("kafka at %v (config kafka.brokers): %w", k.Brokers, err)
	}
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: k.Brokers, Topic: k.OrdersTopic})
	defer p.Close()
	stats, err := ingest.Run(ctx, src, p, ingest.RunConfig{
		Name: name, Rate: a.cfg.Generate.Rate, Count: a.cfg.Generate.Count,
		Progress: progress, ProgressEvery: 5 * time.Second,
	})
	if err != nil && ctx.Err() == nil {
		return stats, fmt.Errorf("%s: %w", name, err)
	}
	return stats, nil
}

func readReplay(paths []string, warn io.Writer) ([]events.OrderPlaced, error) {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return nil, fmt.Errorf("load time zone Europe/London: %w", err)
	}
	var all []events.OrderPlaced
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		orders, skipped, err := ingest.ReadOnlineRetail(f, loc)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("replay %s: %w", p, err)
		}
		fmt.Fprintf(warn, "replay: %s: %d orders, %d rows skipped\n", p, len(orders), len(skipped))
		all = append(all, orders...)
	}
	return all, nil
}
