package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/segmentio/kafka-go"
	"go.temporal.io/sdk/client"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/store"
)

// Config tunes the API server. Zero values take the defaults below.
type Config struct {
	// Brokers are the Kafka bootstrap addresses ingested events go to.
	Brokers []string
	// KafkaTLS, when set, secures the producer's and /readyz's connections
	// to the brokers (config kafka.tls).
	KafkaTLS *tls.Config
	// Topics renames catalogue topics: an event whose catalogue topic is a
	// key goes to the value instead (the configured orders topic; fresh
	// topics in tests). Others go to their catalogue topic.
	Topics map[string]string
	// MaxBatchEvents is the most events in one POST /v1/events (413 beyond).
	MaxBatchEvents int
	// MaxBodyBytes is the largest request body (413 beyond), enforced while
	// reading.
	MaxBodyBytes int64
	// MaxInFlight bounds the ingest requests writing to Kafka at once.
	MaxInFlight int
	// QueueWait is how long a request waits for a produce slot before 503.
	QueueWait time.Duration
	// ProduceTimeout bounds the write of one batch to Kafka (503 beyond).
	ProduceTimeout time.Duration
	// RetryAfter is the Retry-After of a 503.
	RetryAfter time.Duration
	// KeyCacheTTL is how long a verified API key is trusted without asking
	// Postgres: a revocation takes effect within it.
	KeyCacheTTL time.Duration
	// EventIDRetention is how long accepted event ids are remembered for
	// deduplication; older ids are purged hourly.
	EventIDRetention time.Duration
	// ProduceBatchTimeout is the Kafka writer's linger: how long a partial
	// per-partition batch waits for more messages from concurrent requests.
	ProduceBatchTimeout time.Duration
	// ProduceBatchSize is the most messages per partition in one produce
	// request.
	ProduceBatchSize int
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the
	// http.Server's.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// ShutdownTimeout bounds the graceful shutdown of Run.
	ShutdownTimeout time.Duration

	// DefaultReorderPoint is the hot path's reorder point of a product and
	// warehouse without a row in reorder_points (GET /v1/stock/low).
	DefaultReorderPoint int64
	// RedisURL is the read-through cache of the hot queries
	// (redis://host:port/db); empty disables the cache.
	RedisURL string
	// CacheTTL bounds how long a cache entry lives; entries are also
	// invalidated by every commit of the topics they read.
	CacheTTL time.Duration
	// RateLimit is each API key's sustained requests per second, RateBurst
	// its burst; beyond them a request is answered 429 with Retry-After.
	// A negative RateLimit turns the limit off.
	RateLimit float64
	RateBurst int
	// Temporal answers /v1/schedules and /v1/workflows/runs, and is checked
	// by /readyz. Nil: those routes answer 503. A lazy client
	// (client.NewLazyClient) lets the API start while Temporal is down.
	Temporal client.Client
	// CacheKeyPrefix prefixes every cache key (default shoppulse:api:v1:),
	// so deployments (or tests) can share a Redis.
	CacheKeyPrefix string
	// Metrics registers the API's metrics and is served on /metrics. Nil:
	// a registry of the server's own.
	Metrics *prometheus.Registry
}

// Defaults of Config.
const (
	DefaultMaxBatchEvents      = 1000
	DefaultMaxBodyBytes        = 5 << 20
	DefaultMaxInFlight         = 64
	DefaultQueueWait           = 500 * time.Millisecond
	DefaultProduceTimeout      = 5 * time.Second
	DefaultRetryAfter          = 5 * time.Second
	DefaultKeyCacheTTL         = 30 * time.Second
	DefaultEventIDRetention    = 7 * 24 * time.Hour
	DefaultProduceBatchTimeout = time.Millisecond
	DefaultProduceBatchSize    = 1000
	DefaultCacheTTL            = 5 * time.Minute
	DefaultRateLimit           = 100
	DefaultRateBurst           = 200
)

func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.MaxBatchEvents == 0 {
		c.MaxBatchEvents = DefaultMaxBatchEvents
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.ProduceBatchSize == 0 {
		c.ProduceBatchSize = DefaultProduceBatchSize
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.RateBurst == 0 {
		c.RateBurst = DefaultRateBurst
	}
	def(&c.CacheTTL, DefaultCacheTTL)
	if c.CacheKeyPrefix == "" {
		c.CacheKeyPrefix = "shoppulse:api:v1:"
	}
	def(&c.QueueWait, DefaultQueueWait)
	def(&c.ProduceTimeout, DefaultProduceTimeout)
	def(&c.RetryAfter, DefaultRetryAfter)
	def(&c.KeyCacheTTL, DefaultKeyCacheTTL)
	def(&c.EventIDRetention, DefaultEventIDRetention)
	def(&c.ProduceBatchTimeout, DefaultProduceBatchTimeout)
	def(&c.ReadHeaderTimeout, 5*time.Second)
	def(&c.ReadTimeout, 30*time.Second)
	def(&c.WriteTimeout, 30*time.Second)
	def(&c.IdleTimeout, 2*time.Minute)
	def(&c.ShutdownTimeout, 15*time.Second)
	return c
}

// Server is the API. Build it with New, serve Handler (or call Run) and
// Close it when done.
type Server struct {
	cfg    Config
	db     *store.DB
	log    *slog.Logger
	writer *kafka.Writer
	keys   *keyCache
	// slots holds one token per ingest request writing to Kafka.
	slots   chan struct{}
	now     func() time.Time
	routes  []route
	mux     *http.ServeMux
	handler http.Handler
	openapi []byte

	cache       *cache
	limits      *keyLimits
	rateLimited prometheus.Counter
	// live shares one poll of the data version among the live streams.
	live *liveHub
	// updateTimeout bounds a decision's Update (updateTimeout; shorter in tests).
	updateTimeout time.Duration
}

// route is one endpoint: the OpenAPI test checks the document against them.
type route struct {
	method, path string
	scope        string // "" for public routes
	h            http.HandlerFunc
}

// New builds the server. It does not connect to Kafka: the first produce
// does.
func New(cfg Config, db *store.DB, log *slog.Logger) (*Server, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("new api server: no kafka brokers")
	}
	if db == nil {
		return nil, errors.New("new api server: no database")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg: cfg, db: db, log: log,
		writer: &kafka.Writer{
			Addr:         kafka.TCP(cfg.Brokers...),
			Transport:    kafkaTransport(cfg.KafkaTLS),
			Balancer:     kafka.Murmur2Balancer{},
			RequiredAcks: kafka.RequireAll,
			BatchSize:    cfg.ProduceBatchSize,
			BatchBytes:   64 << 20,
			BatchTimeout: cfg.ProduceBatchTimeout,
			WriteTimeout: cfg.ProduceTimeout,
			// Few attempts: a request waits at most ProduceTimeout anyway,
			// and a batch abandoned by its request should not linger.
			MaxAttempts:            3,
			WriteBackoffMin:        50 * time.Millisecond,
			WriteBackoffMax:        500 * time.Millisecond,
			AllowAutoTopicCreation: false,
		},
		slots:         make(chan struct{}, cfg.MaxInFlight),
		now:           time.Now,
		updateTimeout: updateTimeout,
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
		s.cfg.Metrics = cfg.Metrics
	}
	c, err := newCache(cfg, cfg.Metrics)
	if err != nil {
		return nil, err
	}
	s.cache = c
	s.limits = newKeyLimits(cfg.RateLimit, cfg.RateBurst, func() time.Time { return s.now() })
	s.rateLimited = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "shoppulse_api_rate_limited_total",
		Help: "Requests answered 429 because their API key was over its rate limit.",
	})
	if err := cfg.Metrics.Register(s.rateLimited); err != nil {
		return nil, fmt.Errorf("register api metrics: %w", err)
	}
	s.keys = &keyCache{db: db, ttl: cfg.KeyCacheTTL, now: func() time.Time { return s.now() }, log: log, keys: map[string]*cachedKey{}}
	s.routes = []route{
		{method: http.MethodPost, path: "/v1/events", scope: ScopeIngest, h: s.handleIngest},
		{method: http.MethodGet, path: "/openapi.json", h: s.handleOpenAPI},
		{method: http.MethodGet, path: "/healthz", h: s.handleHealthz},
		{method: http.MethodGet, path: "/readyz", h: s.handleReadyz},
		{method: http.MethodGet, path: "/metrics", h: promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{Registry: cfg.Metrics}).ServeHTTP},
	}
	s.routes = append(s.routes, s.schemaRoutes()...)
	s.routes = append(s.routes, s.docsRoutes()...)
	s.routes = append(s.routes, s.readRoutes()...)
	s.routes = append(s.routes, s.operateRoutes()...)
	s.routes = append(s.routes, s.modelRoutes()...)
	s.routes = append(s.routes, s.decisionRoutes()...)
	s.routes = append(s.routes, s.adminRoutes()...)
	s.routes = append(s.routes, s.workflowRoutes()...)
	s.routes = append(s.routes, s.liveRoutes()...)
	doc, err := s.buildOpenAPI()
	if err != nil {
		return nil, err
	}
	s.openapi = doc
	mux := http.NewServeMux()
	s.mux = mux
	for _, rt := range s.routes {
		h := rt.h
		if rt.scope != "" {
			h = s.requireScope(rt.scope, h)
		}
		mux.HandleFunc(rt.method+" "+rt.path, h)
	}
	mountDashboard(mux)
	s.handler = s.withProblems(mux)
	return s, nil
}

// Handler is the API's http.Handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the live poller, flushes and closes the Kafka writer and
// closes the Redis client (the Temporal client belongs to the caller).
func (s *Server) Close() error {
	s.live.close()
	var errs []error
	if err := s.writer.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close kafka writer: %w", err))
	}
	if err := s.cache.close(); err != nil {
		errs = append(errs, fmt.Errorf("close redis client: %w", err))
	}
	return errors.Join(errs...)
}

// Run serves the API on ln until ctx is cancelled, then shuts down
// gracefully (in-flight requests get Config.ShutdownTimeout to finish). It
// also purges event ids older than Config.EventIDRetention every hour. It
// returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		WriteTimeout:      s.cfg.WriteTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	purged := make(chan struct{})
	go func() {
		defer close(purged)
		s.purgeLoop(ctx, time.Hour)
	}()

	var err error
	select {
	case err = <-served:
		err = fmt.Errorf("serve api: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
		if serr := srv.Shutdown(sctx); serr != nil {
			err = fmt.Errorf("shut down api: %w", serr)
		}
		cancel()
		<-served
	}
	<-purged
	return err
}

// purgeLoop deletes expired event ids every period until ctx is done.
func (s *Server) purgeLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.PurgeEventIDs(ctx); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "purge ingest event ids", "err", err)
		} else if n > 0 {
			s.log.InfoContext(ctx, "purged ingest event ids", "deleted", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PurgeEventIDs forgets accepted event ids older than the retention.
func (s *Server) PurgeEventIDs(ctx context.Context) (int64, error) {
	return s.db.DeleteEventIDsBefore(ctx, s.now().Add(-s.cfg.EventIDRetention))
}

// withProblems turns the mux's own 404 and 405 answers into problem details.
func (s *Server) withProblems(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{header: http.Header{}}
		mux.ServeHTTP(rec, r)
		switch rec.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.header.Get("Allow"))
			writeProblem(w, r, Problem{Type: ProblemMethodNotAllowed, Title: "Method not allowed", Status: http.StatusMethodNotAllowed,
				Detail: fmt.Sprintf("%s is not allowed here; allowed: %s", r.Method, rec.header.Get("Allow"))})
		default:
			writeProblem(w, r, Problem{Type: ProblemNotFound, Title: "Not found", Status: http.StatusNotFound,
				Detail: fmt.Sprintf("no route for %s %s; see /openapi.json", r.Method, r.URL.Path)})
		}
	})
}

// statusRecorder captures the mux's error answer so it can be rewritten.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.status = code }

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// topicOf is the topic an event is written to.
func (s *Server) topicOf(ev events.Event) string {
	if t, ok := s.cfg.Topics[ev.Topic()]; ok {
		return t
	}
	return ev.Topic()
}

// kafkaTransport is the producer's transport: kafka-go's shared default
// without TLS, else one with the TLS config.
func kafkaTransport(c *tls.Config) kafka.RoundTripper {
	if c == nil {
		return nil
	}
	return &kafka.Transport{TLS: c}
}
