package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/shoppulse/shoppulse/workers"
)

// procMetrics is the process's one Prometheus registry, served at /metrics:
// ShopPulse's own metrics (shoppulse_*), the Temporal SDK's (temporal_*,
// through the tally reporter) and the Go runtime and process collectors.
// `shoppulse dev` runs the worker and the API in one process and so serves
// them all from one endpoint.
type procMetrics struct {
	once     sync.Once
	reg      *prometheus.Registry
	temporal client.MetricsHandler
}

// metrics returns the process's registry and Temporal metrics handler,
// created on first use.
func (a *app) metrics() (*prometheus.Registry, client.MetricsHandler) {
	a.pm.once.Do(func() {
		reg := prometheus.NewRegistry()
		reg.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			collectors.NewBuildInfoCollector(),
		)
		info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shoppulse_build_info",
			Help: "Always 1: the ShopPulse version and VCS revision of this process.",
		}, []string{"version", "revision"})
		info.WithLabelValues(version, vcsRevision()).Set(1)
		reg.MustRegister(info)
		// The tally scope reports every second for the life of the process.
		h, _ := workers.NewMetricsHandler(reg, a.log)
		a.pm.reg, a.pm.temporal = reg, h
	})
	return a.pm.reg, a.pm.temporal
}

// serveMetrics serves /metrics and /healthz on addr in g until ctx is
// cancelled. what names the setting in errors.
func (a *app) serveMetrics(ctx context.Context, g *errgroup.Group, addr, what string) error {
	reg, _ := a.metrics()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics listener on %s (config %s): %w", addr, what, err)
	}
	srv := &http.Server{
		Handler:           metricsMux(reg),
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	g.Go(func() error {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("metrics server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	})
	a.log.Info("metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return nil
}

func metricsMux(reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

func (a *app) temporalMetrics() client.MetricsHandler {
	_, h := a.metrics()
	return h
}
