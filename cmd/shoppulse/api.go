package main

import (
	"context"
	"fmt"
	"io"
	"net"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"golang.org/x/sync/errgroup"

	"github.com/shoppulse/shoppulse/api"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
)

func newAPICmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Serve the HTTP API (ingest, OpenAPI document) until interrupted",
		Long: `Serves the HTTP API on api.addr: POST /v1/events (needs an API key with the
ingest scope: shoppulse apikey create), the read API under /v1 (scope read;
actions need operate, key management admin), GET /openapi.json, /docs,
/healthz, /readyz and /metrics.
It creates the catalogue's Kafka topics when missing. SIGINT or SIGTERM shut
it down gracefully within api.shutdown_timeout.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			g, ctx := errgroup.WithContext(cmd.Context())
			if addr := a.cfg.API.MetricsAddr; addr != "" {
				if err := a.serveMetrics(ctx, g, addr, "api.metrics_addr"); err != nil {
					return err
				}
			}
			g.Go(func() error { return a.serveAPI(ctx, db, cmd.OutOrStdout()) })
			return g.Wait()
		},
	}
	cmd.Flags().String("addr", "", "host:port to listen on (api.addr)")
	bindFlag(cmd.Flags(), nil, "addr", "api.addr")
	cmd.Flags().String("metrics-addr", "", "host:port of /metrics (api.metrics_addr; empty: disabled)")
	bindFlag(cmd.Flags(), nil, "metrics-addr", "api.metrics_addr")
	return cmd
}

// apiConfig is the api package's config from the loaded one.
func (a *app) apiConfig() api.Config {
	c := a.cfg.API
	return api.Config{
		Brokers:             a.cfg.Kafka.Brokers,
		KafkaTLS:            a.kafkaTLS,
		Topics:              a.topicRenames(),
		MaxBatchEvents:      c.MaxBatchEvents,
		MaxBodyBytes:        c.MaxBodyBytes,
		MaxInFlight:         c.MaxInFlight,
		QueueWait:           c.QueueWait,
		ProduceTimeout:      c.ProduceTimeout,
		ProduceBatchTimeout: c.ProduceLinger,
		RetryAfter:          c.RetryAfter,
		KeyCacheTTL:         c.KeyCacheTTL,
		EventIDRetention:    c.EventIDRetention,
		ReadHeaderTimeout:   c.ReadHeaderTimeout,
		ShutdownTimeout:     c.ShutdownTimeout,
		DefaultReorderPoint: a.cfg.Stream.DefaultReorderPoint,
		RedisURL:            c.RedisURL,
		CacheTTL:            c.CacheTTL,
		RateLimit:           c.RateLimit,
		RateBurst:           c.RateBurst,
	}
}

// serveAPI listens on api.addr, prints the URL to out and serves until ctx
// is cancelled. A Kafka that is down at start is not fatal: ingest answers
// 503 until it is back.
func (a *app) serveAPI(ctx context.Context, db *store.DB, out io.Writer) error {
	k := a.cfg.Kafka
	if _, err := a.kafka().EnsureTopics(ctx, streaming.CatalogueTopics(k.Partitions, k.ReplicationFactor)...); err != nil {
		a.log.WarnContext(ctx, "cannot create the catalogue topics now; ingest answers 503 until Kafka is reachable", "err", err)
	}
	cfg := a.apiConfig()
	// Temporal is optional for the API: a lazy client connects on first use,
	// so the API starts (and answers /v1/schedules with 503) while it is down.
	tc, err := client.NewLazyClient(client.Options{
		HostPort:          a.cfg.Temporal.Address,
		Namespace:         a.cfg.Temporal.Namespace,
		Logger:            tlog.NewStructuredLogger(a.log),
		ConnectionOptions: a.temporalConnection(),
	})
	if err != nil {
		return fmt.Errorf("temporal client for the api (config temporal.address): %w", err)
	}
	defer tc.Close()
	cfg.Temporal = tc
	srv, err := api.New(cfg, db, a.log)
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Close(); err != nil {
			a.log.Warn("close api", "err", err)
		}
	}()
	ln, err := net.Listen("tcp", a.cfg.API.Addr)
	if err != nil {
		return fmt.Errorf("listen on api.addr %s: %w", a.cfg.API.Addr, err)
	}
	fmt.Fprintf(out, "API listening on http://%s (OpenAPI: http://%s/openapi.json, docs: http://%s/docs)\n", ln.Addr(), ln.Addr(), ln.Addr())
	return srv.Run(ctx, ln)
}
