package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/shoppulse/shoppulse/devstack"

	"github.com/shoppulse/shoppulse/workflows"
)

func newDevCmd(a *app) *cobra.Command {
	var noGenerate bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Start the local stack, migrate, apply schedules, run a worker and the simulator",
		Long: `Starts PostgreSQL, Kafka and the Temporal dev server locally (each reused when
already running; a service whose SHOPPULSE_DATABASE_URL, SHOPPULSE_KAFKA_BROKERS
or SHOPPULSE_TEMPORAL_ADDRESS is set is not started), migrates the database,
applies the schedules, then runs a worker with the stream supervisor, the
HTTP API (api.addr) and the shop simulator until interrupted. The services keep running: stop them with
'make down' (shoppulse stack down).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runDev(cmd.Context(), !noGenerate, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().BoolVar(&noGenerate, "no-generate", false, "do not run the simulator")
	cmd.Flags().Float64("rate", 0, "simulator events per second")
	bindFlag(cmd.Flags(), nil, "rate", "generate.rate")
	cmd.Flags().Int("history-days", 0, "simulated days of past to produce first, then train the models on (dev.history_days)")
	bindFlag(cmd.Flags(), nil, "history-days", "dev.history_days")
	return cmd
}

func (a *app) runDev(ctx context.Context, generate bool, out, progress io.Writer) error {
	var services []devstack.Service
	for svc, env := range map[devstack.Service]string{
		devstack.Postgres: "SHOPPULSE_DATABASE_URL",
		devstack.Kafka:    "SHOPPULSE_KAFKA_BROKERS",
		devstack.Temporal: "SHOPPULSE_TEMPORAL_ADDRESS",
	} {
		if os.Getenv(env) == "" {
			services = append(services, svc)
		}
	}
	ep, closeStack, err := devstack.Up(ctx, devstack.Options{
		DataDir: a.cfg.Dev.DataDir, CacheDir: a.cfg.Dev.CacheDir,
		AllowInProcessKafka: true, Progress: progress,
	}, services...)
	if err != nil {
		return fmt.Errorf("start the dev stack: %w", err)
	}
	defer closeStack()
	if ep.DatabaseURL != "" {
		a.cfg.Database.URL = ep.DatabaseURL
	}
	if len(ep.KafkaBrokers) > 0 {
		a.cfg.Kafka.Brokers = ep.KafkaBrokers
	}
	if ep.TemporalAddress != "" {
		a.cfg.Temporal.Address = ep.TemporalAddress
	}
	if _, err := a.applySchedules(ctx, false, out); err != nil {
		return err
	}

	db, err := a.openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	// The API's tables come with the migrations: apply them before serving
	// (the worker applies them too; the migrator takes a lock).
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}

	dashURL, err := devDashboardKey(ctx, db, a.cfg.API.Addr)
	if err != nil {
		return fmt.Errorf("make the dashboard's key: %w", err)
	}

	parent := ctx
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.runWorker(ctx, true) })
	g.Go(func() error { return a.serveAPI(ctx, db, io.Discard) })
	if generate {
		// The whole shop in real time: sessions, carts, orders, payments,
		// stock, prices and fraud, at generate.rate events/s.
		shop, rc, err := shopRun(shopFlags{
			now: time.Now(), rate: a.cfg.Generate.Rate, seed: a.cfg.Generate.Seed,
			customers: a.cfg.Generate.Customers, products: a.cfg.Generate.Products,
		})
		if err != nil {
			return err
		}
		g.Go(func() error {
			_, err := a.generateEvents(ctx, shop.Source(), rc, progress)
			return err
		})
		g.Go(func() error { return a.fillHistory(ctx, db, out, progress) })
	}
	ui := ep.TemporalUI
	if ui == "" {
		ui = "(your Temporal cluster's UI)"
	}
	kafkaNote := ""
	if ep.InProcessKafka {
		kafkaNote = " (in-process Kafka-protocol broker: no Java/Maven here)"
	}
	fmt.Fprintf(out, `
ShopPulse is running. Where to look:
  Dashboard        %s
                   (logs in with a read+operate key made for this run; earlier runs' keys are revoked)
  Temporal UI      %s  (workflow %s, schedule list under Schedules)
  Metrics          http://%s/metrics
  API              http://%s  (OpenAPI: /openapi.json; POST /v1/events needs a key:
                   shoppulse apikey create --name dev --scopes ingest)
  Kafka            %s%s
  Revenue/minute   psql '%s' -c 'SELECT minute, currency, orders, revenue_minor/100.0 AS revenue FROM revenue_minute ORDER BY minute DESC LIMIT 10'
Press Ctrl-C to stop the worker and simulator; 'make down' stops the services.

`, dashURL, ui, workflows.SupervisorWorkflowID(a.cfg.Kafka.OrdersTopic), a.cfg.Metrics.Addr, a.cfg.API.Addr, strings.Join(a.cfg.Kafka.Brokers, ","), kafkaNote, a.cfg.Database.URL)
	// An interrupt ends the run without an error; a part that failed (and
	// cancelled the others) is reported.
	err = g.Wait()
	if parent.Err() != nil {
		return nil
	}
	return err
}
