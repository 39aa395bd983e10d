package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"golang.org/x/time/rate"

	"github.com/shoppulse/shoppulse/events"
)

// Source yields events for Run.
type Source interface {
	// Next returns the next event, given the runner's clock, or false when
	// the source is exhausted. A source that generates events stamps them
	// with now; a replay keeps each event's own historical time. Next must
	// not block.
	Next(now time.Time) (events.Event, bool)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(now time.Time) (events.Event, bool)

// Next calls f.
func (f SourceFunc) Next(now time.Time) (events.Event, bool) { return f(now) }

// Replay is a Source over a slice of events, in order, once. The events keep
// their own event times.
type Replay struct {
	evs []events.Event
	i   int
}

// NewReplay returns a Replay of orders. It copies the slice into events.
func NewReplay(orders []events.OrderPlaced) *Replay {
	evs := make([]events.Event, len(orders))
	for i, o := range orders {
		evs[i] = o
	}
	return &Replay{evs: evs}
}

// NewEventReplay returns a Replay of any events. It does not copy the slice.
func NewEventReplay(evs []events.Event) *Replay { return &Replay{evs: evs} }

// Next returns the next event, ignoring now.
func (r *Replay) Next(time.Time) (events.Event, bool) {
	if r.i >= len(r.evs) {
		return nil, false
	}
	r.i++
	return r.evs[r.i-1], true
}

// Remaining is the number of events not yet returned.
func (r *Replay) Remaining() int { return len(r.evs) - r.i }

// Len is the number of events in the replay.
func (r *Replay) Len() int { return len(r.evs) }

// Publisher takes batches of events of any type; *Producer is one. Publish
// blocks until every event is acknowledged or the call fails; on failure the
// caller must assume none of them was written (some may have been).
// Publish must not keep evs after it returns.
type Publisher interface {
	Publish(ctx context.Context, evs ...events.Event) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, evs ...events.Event) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, evs ...events.Event) error { return f(ctx, evs...) }

// Defaults of a RunConfig.
const (
	DefaultRunName          = "generate"
	DefaultRunBatchSize     = 500
	DefaultRunFlushInterval = 100 * time.Millisecond
	DefaultRunFlushTimeout  = 30 * time.Second
	DefaultProgressEvery    = 5 * time.Second
)

// RunConfig tunes Run. Zero values take the defaults.
type RunConfig struct {
	// Name prefixes the progress lines ("generate", "replay").
	Name string
	// Rate is the target in events per second; 0 means unlimited. It caps
	// the pace whatever Speed says.
	Rate float64
	// Speed paces events by their own event times: 0 ignores them (as fast
	// as Rate allows), 1 is real time, 60 plays an hour of events in a
	// minute. The first event taken is the origin: event i is handed on no
	// earlier than (EventTime(i) - EventTime(first)) / Speed after it.
	// Events whose time is before the latest one seen are not waited for
	// (a source out of order plays its late events at once).
	Speed float64
	// Live, with Speed 1, sends each event at its own event time on the
	// wall clock: events already in the past go at once (a warm-up), later
	// ones wait for their time. Without it, Speed paces relative to the
	// first event.
	Live bool
	// Count stops the run after this many events; 0 means until the source
	// is exhausted or ctx is done.
	Count int
	// BatchSize is the most events handed to one Publish call.
	BatchSize int
	// FlushInterval is the longest an event taken from the source waits
	// before it is handed to Publish.
	FlushInterval time.Duration
	// FlushTimeout bounds each Publish call. Publish runs on a context that
	// is not cancelled with Run's, so the events already taken are delivered
	// (or fail) after a cancellation.
	FlushTimeout time.Duration
	// Progress, if set, receives a line every ProgressEvery and one at the
	// end.
	Progress      io.Writer
	ProgressEvery time.Duration
	// Clock is passed to Source.Next; it stamps generated events. Pacing and
	// progress use the real monotonic clock. Default time.Now.
	Clock func() time.Time
}

func (rc RunConfig) withDefaults() RunConfig {
	if rc.Name == "" {
		rc.Name = DefaultRunName
	}
	if rc.BatchSize == 0 {
		rc.BatchSize = DefaultRunBatchSize
	}
	if rc.FlushInterval == 0 {
		rc.FlushInterval = DefaultRunFlushInterval
	}
	if rc.FlushTimeout == 0 {
		rc.FlushTimeout = DefaultRunFlushTimeout
	}
	if rc.ProgressEvery == 0 {
		rc.ProgressEvery = DefaultProgressEvery
	}
	if rc.Clock == nil {
		rc.Clock = time.Now
	}
	return rc
}

// Validate reports a config Run would reject.
func (rc RunConfig) Validate() error {
	var errs []error
	if rc.Rate < 0 || math.IsNaN(rc.Rate) || math.IsInf(rc.Rate, 0) {
		errs = append(errs, fmt.Errorf("run config: rate: want 0 (unlimited) or a positive events/s, got %v", rc.Rate))
	}
	if rc.Live && rc.Speed != 1 {
		errs = append(errs, fmt.Errorf("run config: live pacing needs speed 1, got %v", rc.Speed))
	}
	if rc.Speed < 0 || math.IsNaN(rc.Speed) || math.IsInf(rc.Speed, 0) {
		errs = append(errs, fmt.Errorf("run config: speed: want 0 (as fast as possible) or a positive factor of real time, got %v", rc.Speed))
	}
	if rc.Count < 0 {
		errs = append(errs, fmt.Errorf("run config: count: want 0 (no limit) or more, got %d", rc.Count))
	}
	if rc.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("run config: batch size: want 0 (default) or more, got %d", rc.BatchSize))
	}
	if rc.FlushInterval < 0 || rc.FlushTimeout < 0 || rc.ProgressEvery < 0 {
		errs = append(errs, errors.New("run config: durations must not be negative"))
	}
	return errors.Join(errs...)
}

// Stats counts what a Run did.
type Stats struct {
	// Taken is the number of events taken from the source.
	Taken int
	// Produced is the number of events the publisher acknowledged.
	Produced int
	// Failed is the number of events in Publish calls that failed.
	Failed  int
	Batches int
	Elapsed time.Duration
}

// Rate is the average of produced events per second.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Produced) / s.Elapsed.Seconds()
}

// Run takes events from src at rc.Rate (and rc.Speed) and publishes them with p in batches
// of up to rc.BatchSize, until rc.Count events were taken, src is exhausted
// or ctx is done. Cancellation is the normal way to end an unbounded run: it
// stops taking events, flushes those already taken and returns nil. Run
// returns an error only for an invalid config or a failed Publish, which
// stops the run (the producer has already retried; carrying on would drop
// events silently); the Stats returned with it are still accurate.
func Run(ctx context.Context, src Source, p Publisher, rc RunConfig) (Stats, error) {
	if err := rc.Validate(); err != nil {
		return Stats{}, err
	}
	rc = rc.withDefaults()

	limit, burst := rate.Inf, 1
	if rc.Rate > 0 {
		// A burst of 10ms worth of events keeps the pacing smooth without a
		// timer per event at high rates.
		limit, burst = rate.Limit(rc.Rate), max(1, int(math.Ceil(rc.Rate/100)))
	}
	lim := rate.NewLimiter(limit, burst)

	var (
		st        Stats
		start     = time.Now()
		pending   = make([]events.Event, 0, rc.BatchSize)
		origin    time.Time // event time of the first event, for Speed
		originAt  time.Time // when it was taken
		firstAt   time.Time // when the oldest pending event was taken
		lastLine  = start
		lastCount int
	)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rc.FlushTimeout)
		err := p.Publish(pctx, pending...)
		cancel()
		st.Batches++
		if err != nil {
			st.Failed += len(pending)
			pending = pending[:0]
			return fmt.Errorf("run %s: %w", rc.Name, err)
		}
		st.Produced += len(pending)
		pending = pending[:0]
		return nil
	}
	progress := func(now time.Time) {
		if rc.Progress == nil || now.Sub(lastLine) < rc.ProgressEvery {
			return
		}
		perSec := float64(st.Produced-lastCount) / now.Sub(lastLine).Seconds()
		fmt.Fprintf(rc.Progress, "%s: %d events, %.1f/s, %d errors\n", rc.Name, st.Produced, perSec, st.Failed)
		lastLine, lastCount = now, st.Produced
	}
	finish := func(err error) (Stats, error) {
		if ferr := flush(); err == nil {
			err = ferr
		}
		st.Elapsed = time.Since(start)
		if rc.Progress != nil {
			fmt.Fprintf(rc.Progress, "%s: done, %d events in %s, %.1f/s, %d errors\n",
				rc.Name, st.Produced, st.Elapsed.Round(time.Millisecond), st.Rate(), st.Failed)
		}
		return st, err
	}

	for rc.Count == 0 || st.Taken < rc.Count {
		if ctx.Err() != nil {
			return finish(nil)
		}
		r := lim.Reserve()
		if delay := r.Delay(); delay > 0 {
			// Do not let taken events sit through a long wait.
			if len(pending) > 0 && time.Since(firstAt)+delay >= rc.FlushInterval {
				if err := flush(); err != nil {
					r.Cancel()
					return finish(err)
				}
			}
			if err := sleep(ctx, r.DelayFrom(time.Now())); err != nil {
				r.Cancel()
				return finish(nil)
			}
		}
		ev, ok := src.Next(rc.Clock())
		if !ok {
			break
		}
		st.Taken++
		if rc.Speed > 0 {
			et := ev.Head().EventTime
			if originAt.IsZero() {
				origin, originAt = et, time.Now()
				if rc.Live {
					origin = originAt
				}
			}
			due := originAt.Add(time.Duration(float64(et.Sub(origin)) / rc.Speed))
			if delay := time.Until(due); delay > 0 {
				if len(pending) > 0 && time.Since(firstAt)+delay >= rc.FlushInterval {
					if err := flush(); err != nil {
						st.Failed++ // ev is not published either
						return finish(err)
					}
				}
				if err := sleep(ctx, delay); err != nil {
					// Taken: it is still delivered, like the rest.
					pending = append(pending, ev)
					return finish(nil)
				}
			}
		}
		if len(pending) == 0 {
			firstAt = time.Now()
		}
		pending = append(pending, ev)
		if len(pending) >= rc.BatchSize || time.Since(firstAt) >= rc.FlushInterval {
			if err := flush(); err != nil {
				return finish(err)
			}
		}
		progress(time.Now())
	}
	return finish(nil)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
