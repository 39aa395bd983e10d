package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/bench"
)

func newBenchCmd(a *app) *cobra.Command {
	cfg := bench.Config{}
	var asJSON, keep bool
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the hot path end to end on the real broker and database",
		Long: `Produces the shop simulator's traffic (every topic of the catalogue; with
--mix orders, simulated orders alone) to fresh topics, each event stamped with
its production time, consumes each topic with its sink (all analytics on) into
a fresh schema exactly once, and reports throughput, latency (production to
commit), CPU per million events, peak RSS, whether the committed totals equal
the produced ones (per fact table, and the orders' revenue), and a floor
measured in the same run: the same topics read with kafka-go and discarded.
--rate 0 measures maximum throughput; --rate N runs open loop at N events/s,
so slow commits show as latency. With --json the last line of output is one
JSON object.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Brokers = a.cfg.Kafka.Brokers
			cfg.KafkaTLS = a.kafkaTLS
			cfg.DatabaseURL = a.cfg.Database.URL
			cfg.Keep = keep
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			res, err := bench.Run(cmd.Context(), cfg, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "mode %s: %d events in %.2fs: %.0f events/s (floor %.0f/s, ratio %.2f)\n",
				res.Mode, res.Events, res.Seconds, res.EventsPerS, res.FloorEventsPerS, res.RatioToFloor)
			fmt.Fprintf(out, "latency produce->commit: p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms\n", res.P50ms, res.P99ms, res.P999ms)
			fmt.Fprintf(out, "cpu %.1f s per million events, peak rss %.0f MB, exact %v\n", res.CPUSPerMillion, res.RSSMB, res.Exact)
			if asJSON {
				b, err := json.Marshal(res)
				if err != nil {
					return err
				}
				fmt.Fprintln(out, string(b))
			}
			if !res.Exact {
				return fmt.Errorf("bench: committed totals differ from the produced totals")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Events, "events", 200000, "events to produce")
	f.StringVar(&cfg.Mix, "mix", bench.MixShop, "traffic: shop (the simulator's mix on every topic) or orders (orders alone)")
	f.Float64Var(&cfg.Rate, "rate", 0, "open-loop rate in events/s (0: maximum throughput)")
	f.IntVar(&cfg.Partitions, "partitions", 6, "partitions of the bench topic")
	f.IntVar(&cfg.Consumers, "consumers", 2, "consumers the partitions are spread over")
	f.IntVar(&cfg.BatchSize, "batch-size", 2000, "micro-batch size bound")
	f.DurationVar(&cfg.BatchWait, "batch-wait", 100*time.Millisecond, "micro-batch time bound")
	f.Int64Var(&cfg.Seed, "seed", 1, "simulator seed")
	f.BoolVar(&asJSON, "json", false, "print one JSON object as the last line")
	f.BoolVar(&keep, "keep", false, "keep the bench topic and schema")
	f.BoolVar(&cfg.SQLProfile, "sql-profile", false, "print the time spent in each SQL statement")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (pprof) of the run to this file")
	return cmd
}
