package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	tlog "go.temporal.io/sdk/log"

	"github.com/shoppulse/shoppulse/config"
	"github.com/shoppulse/shoppulse/streaming"
)

// One registry per process carries the stream's counters at zero from the
// start (so rate() sees their first increment) and the Temporal SDK's
// metrics under the names of Temporal's dashboards: timers as histograms in
// seconds, counters ending in _total.
func TestProcessMetrics(t *testing.T) {
	a := &app{log: slog.New(slog.DiscardHandler)}
	reg, temporal := a.metrics()
	if reg2, _ := a.metrics(); reg2 != reg {
		t.Fatal("a second call made a second registry")
	}
	streaming.NewMetrics(reg).InitTopics("a", "b")
	h := temporal.WithTags(map[string]string{"namespace": "default", "task_queue": "q"})
	h.Timer("temporal_activity_execution_latency").Record(120 * time.Millisecond)
	h.Counter("temporal_request").Inc(1)
	h.Gauge("temporal_worker_task_slots_available").Update(3)

	want := map[string]struct {
		typ    dto.MetricType
		series int
	}{
		"shoppulse_stream_events_total":               {dto.MetricType_COUNTER, 6},
		"shoppulse_stream_fenced_total":               {dto.MetricType_COUNTER, 2},
		"shoppulse_stream_late_events_total":          {dto.MetricType_COUNTER, 2},
		"shoppulse_stream_batches_committed_total":    {dto.MetricType_COUNTER, 2},
		"temporal_activity_execution_latency_seconds": {dto.MetricType_HISTOGRAM, 1},
		"temporal_request_total":                      {dto.MetricType_COUNTER, 1},
		"temporal_worker_task_slots_available":        {dto.MetricType_GAUGE, 1},
		"go_goroutines":                               {dto.MetricType_GAUGE, 1},
		"process_cpu_seconds_total":                   {dto.MetricType_COUNTER, 1},
		"shoppulse_build_info":                        {dto.MetricType_GAUGE, 1},
	}
	// The tally scope reports every second.
	deadline := time.Now().Add(10 * time.Second)
	for {
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*dto.MetricFamily{}
		for _, f := range fams {
			got[f.GetName()] = f
		}
		var missing []string
		for name, w := range want {
			f, ok := got[name]
			if !ok || f.GetType() != w.typ || len(f.GetMetric()) != w.series {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 {
			f := got["temporal_activity_execution_latency_seconds"]
			if h := f.GetMetric()[0].GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() != 0.12 {
				t.Errorf("histogram: count %d, sum %v; want 1, 0.12 (seconds)", h.GetSampleCount(), h.GetSampleSum())
			}
			for _, m := range got["shoppulse_stream_fenced_total"].GetMetric() {
				if v := m.GetCounter().GetValue(); v != 0 {
					t.Errorf("fenced %v = %v, want 0", m.GetLabel(), v)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics missing or of the wrong type or series count: %v", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// With log.format json every line is a JSON object, Temporal's included.
func TestJSONLogsWithTemporalBridge(t *testing.T) {
	var buf bytes.Buffer
	log := newLoggerTo(config.Log{Level: "info", Format: "json"}, &buf)
	log.Info("from shoppulse", "topic", "t")
	tlog.NewStructuredLogger(log).Info("Started Worker", "TaskQueue", "q")
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.Bytes())
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal(l, &rec); err != nil || rec["level"] != "INFO" || rec["msg"] == nil {
			t.Errorf("not a JSON log record: %s (%v)", l, err)
		}
	}
	var rec map[string]any
	_ = json.Unmarshal(lines[1], &rec)
	if rec["TaskQueue"] != "q" {
		t.Errorf("the Temporal line lost its attributes: %s", lines[1])
	}
}
