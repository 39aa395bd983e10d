package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/ingest"
)

func newGenerateCmd(a *app) *cobra.Command {
	var (
		from       string
		days       int
		speed      float64
		warehouses int
		shopID     string
	)
	cmd := &cobra.Command{
		Use:   "generate",
		Short: "Simulate a shop into the catalogue topics, in real time or as history",
		Long: `Simulates a shop (catalogue, stock and suppliers, customers, sessions walking the
funnel, orders, payments, refunds, promotions, competitor prices and fraud with
chargebacks days later) and produces every event to its catalogue topic, with
acks from all in-sync replicas. The stream is deterministic for --seed.

--rate is the shop's mean traffic in events per second of simulated time
(daily and weekly seasonality move it around the mean). --speed paces the
events by their own times: 1 is real time, 60 plays an hour in a minute, 0 is
as fast as possible.

  real time (the default):   shoppulse generate --rate 20
  history fill:              shoppulse generate --from 2026-08-01 --days 90 --rate 20
  the last 30 days:          shoppulse generate --days 30
  a quick burst:             shoppulse generate --count 2000 --rate 0

With --from or --days the simulated clock starts in the past and --speed
defaults to 0; --days without --from ends now. Without them the clock starts
now and --speed defaults to 1. --rate 0 means as fast as possible at the
default traffic (` + fmt.Sprint(ingest.DefaultShopEventsPerSecond) + ` events/s); without --from the clock then starts far
enough back that --count events stay in the past.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			g := a.cfg.Generate
			shop, rc, err := shopRun(shopFlags{
				now: time.Now(), from: from, days: days, daysSet: cmd.Flags().Changed("days"),
				speed: speed, speedSet: cmd.Flags().Changed("speed"), rate: g.Rate, count: g.Count,
				seed: g.Seed, customers: g.Customers, products: g.Products, warehouses: warehouses, shopID: shopID,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "generate: simulating %s from %s, %s, seed %d\n", shopID, shop.Now().Format(time.RFC3339), describeRun(rc, days), g.Seed)
			stats, err := a.generateEvents(cmd.Context(), shop.Source(), rc, out)
			st := shop.Stats()
			fmt.Fprintf(out, "generate: simulated up to %s: %d sessions, %d orders (%d authorized, %d fraud), %d payment failures, %d refunds, %d stockouts\n",
				shop.Now().Format(time.RFC3339), st.Sessions, st.Orders, st.AuthorizedOrders, st.FraudOrders, st.PaymentsFailed, st.Refunds, st.Stockouts)
			_ = stats // the runner printed its own summary
			return err
		},
	}
	f := cmd.Flags()
	f.Float64("rate", 0, "mean events per second of simulated traffic (0: as fast as possible at the default traffic)")
	bindFlag(f, nil, "rate", "generate.rate")
	f.Int("count", 0, "stop after this many events (0: until --days are simulated or interrupted)")
	bindFlag(f, nil, "count", "generate.count")
	f.Int64("seed", 0, "simulator seed")
	bindFlag(f, nil, "seed", "generate.seed")
	f.Int("customers", 0, "initial customers of the simulated shop")
	bindFlag(f, nil, "customers", "generate.customers")
	f.Int("products", 0, "products of the simulated shop")
	bindFlag(f, nil, "products", "generate.products")
	f.StringVar(&from, "from", "", "history fill: simulated start, 2006-01-02 or RFC 3339 (UTC)")
	f.IntVar(&days, "days", 0, "simulated days (0: endless, or up to now with --from)")
	f.Float64Var(&speed, "speed", 1, "pace by event time: 0 as fast as possible, 1 real time, 60 = 60x (default 0 with --from/--days)")
	f.IntVar(&warehouses, "warehouses", ingest.DefaultShopWarehouses, "warehouses of the simulated shop")
	f.StringVar(&shopID, "shop", ingest.DefaultShopID, "shop id stamped on every event")
	return cmd
}

// shopFlags are generate's inputs, separated from cobra so shopRun is
// testable with a fixed clock.
type shopFlags struct {
	now                 time.Time
	from                string
	days                int
	daysSet             bool
	speed               float64
	speedSet            bool
	rate                float64
	count               int
	seed                int64
	customers, products int
	warehouses          int
	shopID              string
}

// liveWarmup is how far back a real-time shop starts; its first minutes are
// sent at once.
const liveWarmup = 15 * time.Minute

// shopRun turns generate's flags into a shop and the runner's config.
func shopRun(f shopFlags) (*ingest.Shop, ingest.RunConfig, error) {
	cfg := ingest.ShopConfig{
		Seed: f.seed, EventsPerSecond: f.rate, Customers: f.customers, Products: f.products,
		Warehouses: f.warehouses, ShopID: f.shopID, Days: f.days,
	}
	if f.days < 0 {
		return nil, ingest.RunConfig{}, fmt.Errorf("--days: want 0 or more, got %d", f.days)
	}
	now := f.now.UTC().Truncate(time.Second)
	history := f.from != "" || f.daysSet
	live := false
	speed := f.speed
	if !f.speedSet {
		speed = 1
		if history || f.rate == 0 {
			speed = 0
		}
	}
	switch {
	case f.from != "":
		start, err := parseDay(f.from)
		if err != nil {
			return nil, ingest.RunConfig{}, fmt.Errorf("--from: %w", err)
		}
		if !start.Before(now) {
			return nil, ingest.RunConfig{}, fmt.Errorf("--from: %s is not in the past", f.from)
		}
		cfg.Start = start
		if f.days == 0 {
			cfg.Days = max(1, int(now.Sub(start)/(24*time.Hour)))
		}
	case f.daysSet && f.days > 0:
		cfg.Start = now.Add(-time.Duration(f.days) * 24 * time.Hour)
	case speed == 0:
		// As fast as possible from "now" would run into the future, which
		// consumers reject: start far enough back for --count events.
		eps := f.rate
		if eps == 0 {
			eps = ingest.DefaultShopEventsPerSecond
		}
		if f.count == 0 {
			return nil, ingest.RunConfig{}, errors.New("as fast as possible (--rate 0 or --speed 0) needs --from, --days or --count: an endless run would simulate the future")
		}
		cfg.Start = now.Add(-time.Duration(2 * float64(f.count) / eps * float64(time.Second)))
	case speed > 1:
		return nil, ingest.RunConfig{}, fmt.Errorf("--speed %g from now would simulate the future, which consumers reject: add --from or --days", speed)
	default:
		// Real time: start the shop liveWarmup ago and send each event at
		// its own time, so the warm-up (opening stock, the first sessions
		// reaching checkout) is sent at once and orders flow from the start.
		cfg.Start = now.Add(-liveWarmup)
		live = true
	}
	if err := cfg.Validate(); err != nil {
		return nil, ingest.RunConfig{}, err
	}
	if end := cfg.Start.Add(time.Duration(cfg.Days) * 24 * time.Hour); speed == 0 && cfg.Days > 0 && end.After(now) {
		return nil, ingest.RunConfig{}, fmt.Errorf("--from/--days: the simulated period ends %s, in the future, which consumers reject; use fewer days",
			end.Format(time.RFC3339))
	}
	rc := ingest.RunConfig{Name: "generate", Speed: speed, Live: live, Count: f.count, ProgressEvery: 5 * time.Second}
	if err := rc.Validate(); err != nil {
		return nil, ingest.RunConfig{}, err
	}
	return ingest.NewShop(cfg), rc, nil
}

func parseDay(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want 2006-01-02 or RFC 3339, got %q", s)
	}
	return t.UTC(), nil
}

func describeRun(rc ingest.RunConfig, days int) string {
	pace := "as fast as possible"
	switch {
	case rc.Speed == 1:
		pace = "in real time"
	case rc.Speed > 0:
		pace = fmt.Sprintf("at %gx real time", rc.Speed)
	}
	if days > 0 {
		return fmt.Sprintf("%d days %s", days, pace)
	}
	return pace
}

// generateEvents makes sure every catalogue topic exists and runs src into
// them, each event to its own topic (orders to the configured orders topic).
func (a *app) generateEvents(ctx context.Context, src ingest.Source, rc ingest.RunConfig, progress io.Writer) (ingest.Stats, error) {
	p, err := a.catalogueProducer(ctx)
	if err != nil {
		return ingest.Stats{}, err
	}
	defer p.Close()
	rc.Progress = progress
	stats, err := ingest.Run(ctx, src, p, rc)
	if err != nil && ctx.Err() == nil {
		return stats, fmt.Errorf("%s: %w", rc.Name, err)
	}
	return stats, nil
}
