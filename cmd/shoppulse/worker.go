package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/config"
	"github.com/shoppulse/shoppulse/streaming"
	"github.com/shoppulse/shoppulse/workers"
	"github.com/shoppulse/shoppulse/workflows"
)

func newWorkerCmd(a *app) *cobra.Command {
	var noSupervisor bool
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a Temporal worker: the stream consumers and the batch workflows",
		Long: `Runs a Temporal worker on the configured task queue. Unless --no-supervisor
is given it also starts the stream supervisor workflow (or finds it running),
which hands the topic's partitions to consumer activities on the workers.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runWorker(cmd.Context(), !noSupervisor)
		},
	}
	cmd.Flags().BoolVar(&noSupervisor, "no-supervisor", false, "do not start the stream supervisor workflow")
	cmd.Flags().Int("consumers", 0, "consumer activities the partitions are spread over")
	bindFlag(cmd.Flags(), nil, "consumers", "stream.consumers")
	cmd.Flags().String("metrics-addr", "", "host:port of /metrics (empty: config metrics.addr)")
	bindFlag(cmd.Flags(), nil, "metrics-addr", "metrics.addr")
	return cmd
}

// runWorker migrates, serves metrics, runs the worker and (optionally) makes
// sure the stream supervisor runs, until ctx is cancelled.
func (a *app) runWorker(ctx context.Context, startSupervisor bool) error {
	cfg := a.cfg
	db, err := a.openDB(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := a.migrate(ctx, db); err != nil {
		return err
	}
	tc, err := a.dialTemporal(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	if err := workers.EnsureSearchAttributes(ctx, tc, cfg.Temporal.Namespace); err != nil {
		return err
	}

	reg, _ := a.metrics()
	metrics := streaming.NewMetrics(reg)
	metrics.InitTopics(cfg.Kafka.OrdersTopic, cfg.Kafka.InventoryTopic, cfg.Kafka.ClickstreamTopic, cfg.Kafka.PaymentsTopic)

	deps := workers.Deps{
		Stream: &activities.Stream{
			DB: db, Metrics: metrics, Log: a.log,
			Base: streaming.Config{
				Brokers:   cfg.Kafka.Brokers,
				TLS:       a.kafkaTLS,
				DLQTopic:  cfg.Kafka.DLQTopic,
				BatchSize: cfg.Stream.BatchSize,
				BatchWait: cfg.Stream.BatchWait,
			},
			ReplicationFactor:   cfg.Kafka.ReplicationFactor,
			InventoryTopic:      cfg.Kafka.InventoryTopic,
			ClickstreamTopic:    cfg.Kafka.ClickstreamTopic,
			PaymentsTopic:       cfg.Kafka.PaymentsTopic,
			MarketTopic:         cfg.Kafka.MarketTopic,
			CustomersTopic:      cfg.Kafka.CustomersTopic,
			SessionGap:          cfg.Stream.SessionGap,
			DefaultReorderPoint: cfg.Stream.DefaultReorderPoint,
			FraudAlertThreshold: cfg.Stream.FraudAlertThreshold,
		},
		Rollup:      &activities.Rollup{DB: db},
		Partitions:  &activities.Partitions{DB: db},
		BatchAlerts: &activities.BatchAlerts{DB: db},
		Erasure:     &activities.Erasure{DB: db},
		Quality:     &activities.Quality{DB: db, Brokers: cfg.Kafka.Brokers, KafkaTLS: a.kafkaTLS},
		Anomalies:   &activities.Anomalies{DB: db, RateMinScale: activities.DefaultRateMinScale},
		Customers:   &activities.Customers{DB: db},
		Fraud: &activities.FraudTraining{DB: db, AlertThreshold: cfg.Stream.FraudAlertThreshold,
			OrdersTopic: cfg.Kafka.OrdersTopic},
		Forecasts: &activities.Forecasts{DB: db, OrdersTopic: cfg.Kafka.OrdersTopic},
		Alerts: &activities.Alerts{
			DB:     db,
			Client: &http.Client{Timeout: cfg.Alerts.Timeout},
		},
	}
	deps.Replenishment = &activities.Replenishment{
		DB: db, Client: tc, TaskQueue: cfg.Temporal.TaskQueue, Policy: replenishPolicy(cfg.Replenishment),
	}
	deps.Pricing = &activities.Pricing{DB: db, Policy: pricingPolicy(cfg.Pricing)}
	for _, w := range cfg.Alerts.Webhooks {
		deps.Alerts.Webhooks = append(deps.Alerts.Webhooks, activities.Webhook{URL: w.URL, Secret: w.Secret})
	}

	g, ctx := errgroup.WithContext(ctx)
	if cfg.Metrics.Addr != "" {
		if err := a.serveMetrics(ctx, g, cfg.Metrics.Addr, "metrics.addr"); err != nil {
			return err
		}
	}
	g.Go(func() error { return workers.Run(ctx, tc, cfg.Temporal.TaskQueue, deps) })
	if startSupervisor {
		for _, topic := range []string{cfg.Kafka.OrdersTopic, cfg.Kafka.InventoryTopic, cfg.Kafka.ClickstreamTopic, cfg.Kafka.PaymentsTopic, cfg.Kafka.MarketTopic, cfg.Kafka.CustomersTopic} {
			run, err := workers.StartSupervisor(ctx, tc, cfg.Temporal.TaskQueue, a.supervisorInput(topic))
			if err != nil {
				return err
			}
			a.log.Info("stream supervisor running", "topic", topic, "workflow_id", run.GetID(), "run_id", run.GetRunID())
		}
	}
	return g.Wait()
}

// supervisorInput is the supervisor of one topic; the consumer activity picks
// the topic's sink (orders, inventory, clickstream, payments, market or customers) by its name.
func (a *app) supervisorInput(topic string) workflows.SupervisorInput {
	return workflows.SupervisorInput{
		Topic:            topic,
		Partitions:       a.cfg.Kafka.Partitions,
		Consumers:        a.cfg.Stream.Consumers,
		MaxRun:           a.cfg.Stream.MaxRun,
		HeartbeatTimeout: a.cfg.Stream.HeartbeatTimeout,
	}
}

func (a *app) dialTemporal(ctx context.Context) (client.Client, error) {
	c, err := client.DialContext(ctx, client.Options{
		HostPort:  a.cfg.Temporal.Address,
		Namespace: a.cfg.Temporal.Namespace,
		Logger:    tlog.NewStructuredLogger(a.log),
		// The SDK's metrics (temporal_*) on the process's /metrics.
		MetricsHandler:    a.temporalMetrics(),
		ConnectionOptions: a.temporalConnection(),
	})
	if err != nil {
		return nil, fmt.Errorf("connect to temporal at %s (config temporal.address): %w", a.cfg.Temporal.Address, err)
	}
	return c, nil
}

// replenishPolicy is the configured replenishment policy.
func replenishPolicy(c config.Replenishment) activities.ReplenishPolicy {
	return activities.ReplenishPolicy{
		ServiceLevel: c.ServiceLevel, HistoryDays: c.HistoryDays, CoverDays: c.CoverDays,
		DefaultLeadTimeDays: c.DefaultLeadTimeDays, ApprovalThresholdMinor: c.ApprovalThresholdMinor,
		MaxQuantity: c.MaxQuantity, MaxApprovalFactor: c.MaxApprovalFactor,
		ApprovalTimeout: activities.Duration(c.ApprovalTimeout), ReceiptGrace: activities.Duration(c.ReceiptGrace),
		GiveUpAfter: activities.Duration(c.GiveUpAfter), PollInterval: activities.Duration(c.PollInterval),
		ReviewInterval: activities.Duration(c.ReviewInterval), CyclesPerRun: c.CyclesPerRun,
	}
}

// pricingPolicy is the configured pricing policy.
func pricingPolicy(c config.Pricing) activities.PricingPolicy {
	return activities.PricingPolicy{
		HistoryDays: c.HistoryDays, MinObservations: c.MinObservations, PromoDepth: c.PromoDepth,
		PromoWindowDays: c.PromoWindowDays, CompetitorMaxAge: activities.Duration(c.CompetitorMaxAge),
		MinMargin: c.MinMargin, MaxStep: c.MaxStep, MaxAboveCompetitor: c.MaxAboveCompetitor,
	}
}
