package api

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
)

// readyTimeout bounds each dependency check of /readyz.
const readyTimeout = 2 * time.Second

// Check is one dependency's state in /readyz.
type Check struct {
	Status string `json:"status"` // up, down or not_configured
	// Required dependencies make the API not ready when down: Postgres (every
	// route) and Kafka (ingest). Temporal and Redis are optional: without
	// them only the workflow routes answer 503, and reads skip the cache.
	Required  bool    `json:"required"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// Readiness is the body of /readyz.
type Readiness struct {
	Status string           `json:"status"` // ready or not_ready
	Checks map[string]Check `json:"checks"`
}

func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	type probe struct {
		name     string
		required bool
		f        func(context.Context) error // nil: not configured
	}
	probes := []probe{
		{"postgres", true, s.db.Ping},
		{"kafka", true, s.pingKafka},
		{"temporal", false, nil},
		{"redis", false, nil},
	}
	if s.cfg.Temporal != nil {
		probes[2].f = func(ctx context.Context) error {
			_, err := s.cfg.Temporal.CheckHealth(ctx, nil)
			return err
		}
	}
	if s.cache.rdb != nil {
		probes[3].f = func(ctx context.Context) error { return s.cache.rdb.Ping(ctx).Err() }
	}
	out := Readiness{Status: "ready", Checks: map[string]Check{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, pr := range probes {
		if pr.f == nil {
			mu.Lock() // the probes started before write the map too
			out.Checks[pr.name] = Check{Status: "not_configured", Required: pr.required}
			mu.Unlock()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			start := time.Now()
			err := pr.f(ctx)
			c := Check{Status: "up", Required: pr.required, LatencyMS: float64(time.Since(start).Microseconds()) / 1000}
			if err != nil {
				c.Status, c.Error = "down", err.Error()
			}
			mu.Lock()
			out.Checks[pr.name] = c
			mu.Unlock()
		}()
	}
	wg.Wait()
	status := http.StatusOK
	for _, c := range out.Checks {
		if c.Required && c.Status != "up" {
			out.Status, status = "not_ready", http.StatusServiceUnavailable
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, out)
}

// pingKafka asks the first broker that answers for the cluster's brokers.
func (s *Server) pingKafka(ctx context.Context) error {
	var errs []error
	for _, b := range s.cfg.Brokers {
		d := kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: s.cfg.KafkaTLS}
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		_, err = conn.Brokers()
		_ = conn.Close()
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
