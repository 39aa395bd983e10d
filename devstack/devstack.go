// Package devstack owns the local development stack: a throwaway PostgreSQL
// cluster, a single-node Apache Kafka broker (KRaft) and the Temporal dev
// server, run as real processes on 127.0.0.1 for `shoppulse dev`,
// `shoppulse stack` and `make test`.
//
// State lives under Options.DataDir (the repo's ignored .data/ by default) and
// slow artifacts (Kafka jars, the Temporal CLI) under Options.CacheDir, outside
// the clone, so a fresh clone on the same machine starts in seconds.
// Services are detached: they outlive the command that started them and are
// stopped by Down. A service already answering on its port is reused, so Up is
// idempotent.
//
// devstack must not read environment variables, flags or config files: the
// caller (cmd/shoppulse) decides which services to start and passes Options. It
// must not be imported by production code paths: it is for development and
// tests only.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Service names one service of the stack.
type Service string

// The services devstack can run.
const (
	Postgres Service = "postgres"
	Kafka    Service = "kafka"
	Temporal Service = "temporal"
)

// AllServices returns every service, in start order.
func AllServices() []Service { return []Service{Postgres, Kafka, Temporal} }

// ParseServices parses a comma-separated list such as "postgres,kafka".
// An empty string or "all" means every service.
func ParseServices(s string) ([]Service, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return AllServices(), nil
	}
	var out []Service
	for _, part := range strings.Split(s, ",") {
		svc := Service(strings.ToLower(strings.TrimSpace(part)))
		if svc == "" {
			continue
		}
		if !slices.Contains(AllServices(), svc) {
			return nil, fmt.Errorf("unknown service %q (want postgres, kafka or temporal)", part)
		}
		if !slices.Contains(out, svc) {
			out = append(out, svc)
		}
	}
	return out, nil
}

// Default ports and versions. The ports avoid the well-known ones (5432, 9092)
// so a developer's own servers do not collide with the stack; Temporal keeps
// its usual ports because the `temporal` CLI and Web UI default to them.
const (
	DefaultPostgresPort        = 55432
	DefaultKafkaPort           = 59092
	DefaultKafkaControllerPort = 59093
	DefaultTemporalPort        = 7233
	DefaultTemporalUIPort      = 8233

	// KafkaVersion is the Apache Kafka release run by devstack; it must match
	// kafka/pom.xml.
	KafkaVersion = "4.1.1"
	// TemporalCLIModule is built with `go install` when the CLI is not cached.
	// v1.5.1 builds with the toolchain of this repo; v1.9.1 does not.
	TemporalCLIModule = "github.com/temporalio/cli/cmd/temporal@v1.5.1"

	// DatabaseName is the database Up creates in the local cluster.
	DatabaseName = "shoppulse"
)

// Options configures the stack. DataDir and CacheDir are required; zero ports
// take the defaults above.
type Options struct {
	// DataDir holds the state of the services, their logs and pid files.
	DataDir string
	// CacheDir holds slow-to-make artifacts shared by every clone on the machine.
	CacheDir string

	PostgresPort        int
	KafkaPort           int
	KafkaControllerPort int
	TemporalPort        int
	TemporalUIPort      int

	// PostgresBinDir holds initdb and pg_ctl. Empty: the newest
	// /usr/lib/postgresql/*/bin, else the directory of pg_ctl on PATH.
	PostgresBinDir string

	// KafkaTLS, when set, serves Kafka's client listener over TLS (the
	// SSL protocol) instead of plaintext. Not with the in-process broker.
	KafkaTLS *KafkaTLS

	// AllowInProcessKafka lets Up serve Kafka with an in-process
	// Kafka-protocol broker (kfake) when Java or Maven is missing. Only
	// `shoppulse dev` sets it; tests and `stack up` want a real broker and get
	// an error instead.
	AllowInProcessKafka bool

	// Progress receives human-readable progress lines. Nil discards them.
	Progress io.Writer
}

func (o Options) withDefaults() Options {
	def := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&o.PostgresPort, DefaultPostgresPort)
	def(&o.KafkaPort, DefaultKafkaPort)
	def(&o.KafkaControllerPort, DefaultKafkaControllerPort)
	def(&o.TemporalPort, DefaultTemporalPort)
	def(&o.TemporalUIPort, DefaultTemporalUIPort)
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// Validate reports missing directories and bad or clashing ports.
func (o Options) Validate() error {
	var errs []error
	if o.DataDir == "" {
		errs = append(errs, errors.New("data dir is required"))
	}
	if o.CacheDir == "" {
		errs = append(errs, errors.New("cache dir is required"))
	}
	ports := map[string]int{
		"postgres port":         o.PostgresPort,
		"kafka port":            o.KafkaPort,
		"kafka controller port": o.KafkaControllerPort,
		"temporal port":         o.TemporalPort,
		"temporal ui port":      o.TemporalUIPort,
	}
	seen := map[int]string{}
	names := make([]string, 0, len(ports))
	for n := range ports {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		p := ports[n]
		if p <= 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("%s %d out of range", n, p))
			continue
		}
		if other, ok := seen[p]; ok {
			errs = append(errs, fmt.Errorf("%s and %s are both %d", other, n, p))
		}
		seen[p] = n
	}
	return errors.Join(errs...)
}

// Endpoints tells clients where the services listen. Fields of services that
// were not requested are empty.
type Endpoints struct {
	DatabaseURL     string
	KafkaBrokers    []string
	TemporalAddress string
	TemporalUI      string
	// InProcessKafka is true when Kafka is the in-process kfake broker, which
	// lives only as long as the process that called Up.
	InProcessKafka bool
}

// Up starts the given services (pass AllServices() for the whole stack; none
// starts nothing) and waits until each answers. Services already answering on their ports are
// reused. Up blocks until every service is ready or ctx is done; cancelling
// ctx does not stop services that already started. The returned closer stops
// in-process services (the kfake fallback) and is never nil; detached services
// keep running until Down.
func Up(ctx context.Context, o Options, services ...Service) (Endpoints, func() error, error) {
	noop := func() error { return nil }
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return Endpoints{}, noop, fmt.Errorf("devstack options: %w", err)
	}
	s, err := newStack(o)
	if err != nil {
		return Endpoints{}, noop, err
	}
	unlock, err := s.lock(ctx)
	if err != nil {
		return Endpoints{}, noop, err
	}
	defer unlock()

	var (
		mu      sync.Mutex
		ep      Endpoints
		closers []func() error
		errs    []error
		wg      sync.WaitGroup
	)
	start := func(svc Service, fn func(context.Context) error) {
		if !slices.Contains(services, svc) {
			return
		}
		wg.Go(func() {
			t0 := time.Now()
			if err := fn(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("start %s: %w", svc, err))
				mu.Unlock()
				return
			}
			s.logf(svc, "ready in %s", time.Since(t0).Round(100*time.Millisecond))
		})
	}
	// The services do not depend on each other; starting them together
	// overlaps the slow parts (Temporal CLI build, Maven fetch, JVM start).
	start(Postgres, func(ctx context.Context) error {
		url, err := s.upPostgres(ctx)
		mu.Lock()
		ep.DatabaseURL = url
		mu.Unlock()
		return err
	})
	start(Kafka, func(ctx context.Context) error {
		brokers, closer, err := s.upKafka(ctx)
		mu.Lock()
		ep.KafkaBrokers = brokers
		if closer != nil {
			ep.InProcessKafka = true
			closers = append(closers, closer)
		}
		mu.Unlock()
		return err
	})
	start(Temporal, func(ctx context.Context) error {
		addr, ui, err := s.upTemporal(ctx)
		mu.Lock()
		ep.TemporalAddress, ep.TemporalUI = addr, ui
		mu.Unlock()
		return err
	})
	wg.Wait()

	closer := func() error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c())
		}
		return errors.Join(errs...)
	}
	if err := errors.Join(errs...); err != nil {
		return ep, closer, err
	}
	return ep, closer, nil
}

// Down stops every service devstack started from o.DataDir: gracefully first,
// then by force. Services devstack did not start (reused ones) are left alone.
// Down is a no-op when nothing runs.
func Down(o Options) error {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return fmt.Errorf("devstack options: %w", err)
	}
	s, err := newStack(o)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	unlock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	return errors.Join(
		wrapErr("stop temporal", s.downTemporal()),
		wrapErr("stop kafka", s.downKafka()),
		wrapErr("stop postgres", s.downPostgres(ctx)),
	)
}

// ServiceStatus describes one service as Status sees it.
type ServiceStatus struct {
	Service Service
	// Addr is where the service listens (or would).
	Addr string
	// PID is the devstack-managed process, 0 when devstack runs none.
	PID int
	// Listening is true when something accepts connections on Addr; with
	// PID == 0 that something was started outside devstack.
	Listening bool
	// LogFile is the service's log under the data dir.
	LogFile string
}

// Running reports whether the service can be used.
func (st ServiceStatus) Running() bool { return st.Listening }

// String is a one-line summary such as "kafka  127.0.0.1:59092  running (pid 42)".
func (st ServiceStatus) String() string {
	state := "stopped"
	switch {
	case st.PID != 0 && st.Listening:
		state = "running (pid " + strconv.Itoa(st.PID) + ")"
	case st.PID != 0:
		state = "starting or unhealthy (pid " + strconv.Itoa(st.PID) + ", port closed)"
	case st.Listening:
		state = "running (not managed by devstack)"
	}
	return fmt.Sprintf("%-9s %-16s %s", st.Service, st.Addr, state)
}

// Status reports each service without changing anything.
func Status(o Options) ([]ServiceStatus, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("devstack options: %w", err)
	}
	s, err := newStack(o)
	if err != nil {
		return nil, err
	}
	pgPID, _ := postmasterPID(s.pgDataDir())
	return []ServiceStatus{
		{Service: Postgres, Addr: s.pgAddr(), PID: pgPID, Listening: portOpen(s.pgAddr()), LogFile: s.logFile(Postgres)},
		{Service: Kafka, Addr: s.kafkaAddr(), PID: s.kafkaProc().alivePID(), Listening: portOpen(s.kafkaAddr()), LogFile: s.logFile(Kafka)},
		{Service: Temporal, Addr: s.temporalAddr(), PID: s.temporalProc().alivePID(), Listening: portOpen(s.temporalAddr()), LogFile: s.logFile(Temporal)},
	}, nil
}

// stack is one Up/Down/Status call: resolved options plus the progress sink.
type stack struct {
	o   Options
	out *lineWriter
}

func newStack(o Options) (*stack, error) {
	data, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	cache, err := filepath.Abs(o.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("cache dir: %w", err)
	}
	o.DataDir, o.CacheDir = data, cache
	for _, d := range []string{data, filepath.Join(data, "logs"), cache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", d, err)
		}
	}
	return &stack{o: o, out: &lineWriter{w: o.Progress}}, nil
}

func (s *stack) logf(svc Service, format string, args ...any) {
	s.out.printf("devstack: %s: %s\n", svc, fmt.Sprintf(format, args...))
}

func (s *stack) logFile(svc Service) string {
	if pg := s.pgDataDir(); svc == Postgres && !strings.HasPrefix(pg, s.o.DataDir) {
		// The cluster lives outside the data dir (see pgDataDir), where the
		// postgres user can write its log too.
		return pg + ".log"
	}
	return filepath.Join(s.o.DataDir, "logs", string(svc)+".log")
}

// lock serialises Up and Down on one data dir across processes, so two
// `stack up` (or a `make test` and a `shoppulse dev`) never start the same
// service twice.
func (s *stack) lock(ctx context.Context) (func(), error) {
	return flock(ctx, filepath.Join(s.o.DataDir, "devstack.lock"), func() {
		s.out.printf("devstack: waiting for another devstack command on %s\n", s.o.DataDir)
	})
}

// flock takes an exclusive lock on path, polling so ctx can cancel the wait.
// waiting is called once if the lock is busy.
func flock(ctx context.Context, path string, waiting func()) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// portOpen reports whether something accepts TCP connections on addr.
func portOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// waitFor polls check every interval until it returns nil, ctx is done or
// timeout passes. A check returning a permanent error stops the wait.
func waitFor(ctx context.Context, timeout, interval time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		var p permanentError
		if errors.As(err, &p) {
			return p.err
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, errors.Join(ctx.Err(), last))
		case <-time.After(interval):
		}
	}
}

type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }

func permanent(err error) error { return permanentError{err} }

func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", what, err)
}

// lineWriter serialises progress lines written from concurrent starters.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = fmt.Fprintf(l.w, format, args...)
}
