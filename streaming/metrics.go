package streaming

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the hot path's Prometheus metrics. One set per process, shared
// by every consumer in it.
type Metrics struct {
	events        *prometheus.CounterVec
	late          *prometheus.CounterVec
	batches       *prometheus.CounterVec
	fenced        *prometheus.CounterVec
	commitSeconds *prometheus.HistogramVec
	endToEnd      *prometheus.HistogramVec
	lag           *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg, when not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoppulse_stream_events_total",
			Help: "Events consumed, by topic and outcome (applied, duplicate, dead_letter).",
		}, []string{"topic", "outcome"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoppulse_stream_late_events_total",
			Help: "Events applied to a minute already behind their partition's watermark.",
		}, []string{"topic"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoppulse_stream_batches_committed_total",
			Help: "Micro-batches committed with their offsets.",
		}, []string{"topic"}),
		fenced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shoppulse_stream_fenced_total",
			Help: "Commits rejected because another owner had moved the partition on.",
		}, []string{"topic"}),
		commitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shoppulse_stream_batch_commit_seconds",
			Help:    "Time to commit one micro-batch (results and offsets, one transaction).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"topic"}),
		endToEnd: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shoppulse_stream_end_to_end_seconds",
			Help:    "From an event's own time to the commit of its batch.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 16),
		}, []string{"topic"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "shoppulse_stream_lag_messages",
			Help: "Messages in the partition not yet committed, as of the last fetch.",
		}, []string{"topic", "partition"}),
	}
	if reg != nil {
		reg.MustRegister(m.events, m.late, m.batches, m.fenced, m.commitSeconds, m.endToEnd, m.lag)
	}
	return m
}

// InitTopics creates the per-topic counters at zero for each topic, so that
// they are exported (and rate() and increase() work) before the first event,
// dead letter or fenced commit: a counter that appears only on its first
// increment hides that increment from rate().
func (m *Metrics) InitTopics(topics ...string) {
	for _, t := range topics {
		for _, outcome := range []string{"applied", "duplicate", "dead_letter"} {
			m.events.WithLabelValues(t, outcome)
		}
		m.late.WithLabelValues(t)
		m.batches.WithLabelValues(t)
		m.fenced.WithLabelValues(t)
	}
}
