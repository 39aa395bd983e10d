package api

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/shoppulse/shoppulse/store"
)

// The live stream's timing. One poller per server reads the data version
// every livePoll while at least one client listens, however many listen.
const (
	livePoll = time.Second
	// liveHeartbeat is how often an idle stream sends a comment, so proxies
	// and the browser keep it open and a dead client is noticed.
	liveHeartbeat = 15 * time.Second
	// liveMaxStream ends a stream after this long; the client reconnects,
	// and its key is checked again (a revoked key stops getting updates).
	liveMaxStream = 5 * time.Minute
	// liveWriteTimeout bounds one write to a client.
	liveWriteTimeout = 10 * time.Second
)

func (s *Server) liveRoutes() []route {
	s.live = newLiveHub(s.db, livePoll, s.log)
	return []route{
		{method: http.MethodGet, path: "/v1/live", scope: ScopeRead, h: s.handleLive},
	}
}

// liveEvent is the data of an SSE "update" event.
type liveEvent struct {
	Version store.DataVersion `json:"version"`
}

// handleLive streams Server-Sent Events: one "update" event with the current
// data version at once, then one each time the version changes (the hot
// path committed a batch, an alert opened, a batch run finished). The
// events are small; clients refetch what they show. The stream ends after
// liveMaxStream with a "reconnect" event.
func (s *Server) handleLive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := s.db.DataVersion(ctx)
	if err != nil {
		s.log.ErrorContext(ctx, "live: read data version", "err", err)
		writeProblem(w, r, unavailable("cannot read the data version now", s.cfg.RetryAfter))
		return
	}
	updates, unsubscribe := s.live.subscribe()
	defer unsubscribe()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)

	seq := 0
	send := func(event string, data any) bool {
		seq++
		b, err := json.Marshal(data)
		if err != nil {
			s.log.ErrorContext(ctx, "live: encode event", "err", err)
			return false
		}
		return s.writeLive(rc, w, fmt.Sprintf("event: %s\nid: %d\ndata: %s\n\n", event, seq, b))
	}
	// retry: how long the browser waits before reconnecting.
	if !s.writeLive(rc, w, "retry: 2000\n\n") || !send("update", liveEvent{Version: v}) {
		return
	}
	heartbeat := time.NewTicker(liveHeartbeat)
	defer heartbeat.Stop()
	deadline := time.NewTimer(liveMaxStream)
	defer deadline.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			send("reconnect", map[string]string{"reason": "stream lifetime reached"})
			return
		case <-heartbeat.C:
			if !s.writeLive(rc, w, ": keep-alive\n\n") {
				return
			}
		case nv := <-updates:
			if nv.Equal(v) {
				continue
			}
			v = nv
			if !send("update", liveEvent{Version: v}) {
				return
			}
		}
	}
}

// writeLive writes and flushes one chunk with its own deadline (the
// server's WriteTimeout would otherwise end every stream). False means the
// client is gone.
func (s *Server) writeLive(rc *http.ResponseController, w http.ResponseWriter, chunk string) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(liveWriteTimeout)) // not every writer supports deadlines
	if _, err := w.Write([]byte(chunk)); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// liveHub shares one poll of the data version among every live client. The
// poller runs only while someone listens; each subscriber gets the latest
// version (older ones it had no time to take are replaced, never queued).
type liveHub struct {
	db    *store.DB
	every time.Duration
	log   *slog.Logger

	mu     sync.Mutex
	subs   map[chan store.DataVersion]struct{}
	stop   context.CancelFunc // set while the poller runs
	done   chan struct{}      // closed when the poller returned
	closed bool
}

func newLiveHub(db *store.DB, every time.Duration, log *slog.Logger) *liveHub {
	return &liveHub{db: db, every: every, log: log, subs: map[chan store.DataVersion]struct{}{}}
}

// subscribe returns a channel of versions and the function that ends the
// subscription (which stops the poller when it was the last).
func (h *liveHub) subscribe() (<-chan store.DataVersion, func()) {
	ch := make(chan store.DataVersion, 1)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs[ch] = struct{}{}
	if h.stop == nil && !h.closed {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		h.stop, h.done = cancel, done
		go func() {
			defer close(done)
			h.poll(ctx)
		}()
	}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.subs, ch)
		if len(h.subs) == 0 && h.stop != nil {
			h.stop()
			h.stop = nil
		}
	}
}

// poll reads the version every h.every until ctx is done and hands every
// change to the subscribers.
func (h *liveHub) poll(ctx context.Context) {
	t := time.NewTicker(h.every)
	defer t.Stop()
	var last store.DataVersion
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, h.every*5)
		v, err := h.db.DataVersion(qctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				h.log.WarnContext(ctx, "live: poll data version", "err", err)
			}
			continue
		}
		if v.Equal(last) {
			continue
		}
		last = v
		h.mu.Lock()
		for ch := range h.subs {
			select { // replace an update the subscriber has not taken yet
			case <-ch:
			default:
			}
			ch <- v
		}
		h.mu.Unlock()
	}
}

// close stops the poller and waits for it; later subscribers get no poller.
func (h *liveHub) close() {
	h.mu.Lock()
	h.closed = true
	stop, done := h.stop, h.done
	h.stop = nil
	h.mu.Unlock()
	if stop != nil {
		stop()
	}
	if done != nil {
		<-done
	}
}
