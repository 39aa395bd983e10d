package workers

import (
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// NewMetricsHandler returns a Temporal metrics handler that registers the
// SDK's metrics with reg, named the way the Temporal SDK Grafana dashboards
// expect: the SDK's own names (temporal_workflow_task_schedule_to_start_latency,
// temporal_request, ...) with no extra prefix, counters ending in _total,
// timers as histograms in seconds (temporal_activity_execution_latency_seconds_bucket).
// Close the returned closer when the process stops reporting.
func NewMetricsHandler(reg prometheus.Registerer, log *slog.Logger) (client.MetricsHandler, io.Closer) {
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       reg,
		DefaultTimerType: tallyprom.HistogramTimerType,
		// A registration conflict (two metrics of one name with different
		// labels) must not take the worker down; it is logged instead.
		OnRegisterError: func(err error) { log.Warn("temporal sdk metric not registered", "err", err) },
	})
	scope, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
	}, time.Second)
	return sdktally.NewMetricsHandler(sdktally.NewPrometheusNamingScope(scope)), closer
}
