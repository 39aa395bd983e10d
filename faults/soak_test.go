//go:build soak

package faults

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/streaming"
)

// Sample is one point of the soak's time series.
type Sample struct {
	At     float64 `json:"t_s"`
	Lag    int64   `json:"lag"`    // messages in the log not yet committed, all topics
	RSSMB  float64 `json:"rss_mb"` // the worker's resident memory
	Events int64   `json:"events_produced"`
}

// TestSoak runs `make soak`: simulated traffic at SHOPPULSE_SOAK_RATE events/s
// (default 15,000) for SHOPPULSE_SOAK_DURATION (default 30m) into one
// worker with every analytics and the batch schedules on, sampling the lag
// and the worker's RSS every 10 seconds. It requires the lag to stay
// bounded (the last quarter's worst no more than the second quarter's worst
// plus a minute of traffic), the RSS to stay flat (the last quarter's mean
// within 20% of the second quarter's) and the oracle to find nothing once the
// traffic stops.
func TestSoak(t *testing.T) {
	d, err := time.ParseDuration(envOr("SHOPPULSE_SOAK_DURATION", "30m"))
	if err != nil {
		t.Fatalf("SHOPPULSE_SOAK_DURATION: %v", err)
	}
	rate, err := strconv.Atoi(envOr("SHOPPULSE_SOAK_RATE", "15000"))
	if err != nil || rate < 1 {
		t.Fatalf("SHOPPULSE_SOAK_RATE: %q", os.Getenv("SHOPPULSE_SOAK_RATE"))
	}
	ctx := testenv.Context(t, d+30*time.Minute)
	// A private stack: the soak applies the configured schedules (global
	// ids) to its Temporal server, which must not repoint those of a demo
	// or of other tests at this rig's task queue.
	r := newRig(t, ctx, true)
	began := time.Now()
	r.startTraffic(rate, 99, d)
	w := r.startWorker("SHOPPULSE_STREAM_BATCH_SIZE=2000", "SHOPPULSE_STREAM_BATCH_WAIT=200ms")
	// The batch side runs beside the hot path: the configured schedules,
	// pointed at this rig's worker.
	apply := exec.CommandContext(ctx, r.bin, "schedules", "apply")
	apply.Env = r.env
	if out, err := apply.CombinedOutput(); err != nil {
		t.Fatalf("schedules apply: %v\n%s", err, out)
	}
	var samples []Sample
	for time.Since(began) < d {
		time.Sleep(10 * time.Second)
		s := Sample{At: time.Since(began).Seconds(), Lag: r.lag(), RSSMB: rssMB(w.Process.Pid), Events: r.traffic.produced()}
		samples = append(samples, s)
		t.Logf("t=%4.0fs lag=%d rss=%.0fMB produced=%d", s.At, s.Lag, s.RSSMB, s.Events)
	}
	res := r.finish("soak", 0, 0, began)
	if n := len(samples); n >= 8 {
		q := n / 4
		var worst2, worst4 int64
		var mean2, mean4 float64
		for _, s := range samples[q : 2*q] {
			worst2 = max(worst2, s.Lag)
			mean2 += s.RSSMB / float64(q)
		}
		for _, s := range samples[3*q:] {
			worst4 = max(worst4, s.Lag)
			mean4 += s.RSSMB / float64(n-3*q)
		}
		if worst4 > worst2+int64(rate)*60 {
			t.Errorf("lag grew: worst %d in the last quarter against %d in the second", worst4, worst2)
		}
		if mean4 > mean2*1.2 {
			t.Errorf("RSS grew: %.0f MB in the last quarter against %.0f MB in the second", mean4, mean2)
		}
	}
	if dir := os.Getenv("SHOPPULSE_RESULTS_DIR"); dir != "" {
		b, _ := json.MarshalIndent(struct {
			Result  Result   `json:"result"`
			Rate    int      `json:"rate"`
			Samples []Sample `json:"samples"`
		}{res, rate, samples}, "", "  ")
		name := filepath.Join(dir, "soak-"+time.Now().UTC().Format("20060102-150405")+".json")
		if err := os.WriteFile(name, b, 0o644); err != nil {
			t.Error(err)
		}
		t.Logf("wrote %s", name)
	}
}

// lag is the messages in the log not yet committed, summed over the topics.
func (r *rig) lag() int64 {
	var lag int64
	for _, topic := range r.topicNames() {
		ends, err := streaming.EndOffsets(r.ctx, r.brokers, topic, partitions)
		if err != nil {
			continue
		}
		states, err := r.db.Offsets(r.ctx, topic)
		if err != nil {
			continue
		}
		have := map[int]int64{}
		for _, s := range states {
			have[s.Partition] = s.NextOffset
		}
		for p, e := range ends {
			lag += e - have[p]
		}
	}
	return lag
}

func rssMB(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
