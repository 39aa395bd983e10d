package devstack

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func (s *stack) temporalAddr() string { return addr(s.o.TemporalPort) }
func (s *stack) temporalUI() string   { return "http://" + addr(s.o.TemporalUIPort) }
func (s *stack) temporalDir() string  { return filepath.Join(s.o.DataDir, "temporal") }

// TemporalCLI is where devstack keeps the `temporal` CLI it builds.
func TemporalCLI(cacheDir string) string { return filepath.Join(cacheDir, "bin", "temporal") }

func (s *stack) temporalProc() daemon {
	return daemon{
		name:    "temporal",
		pidFile: filepath.Join(s.temporalDir(), "temporal.pid"),
		logFile: s.logFile(Temporal),
		marker:  "start-dev",
	}
}

// upTemporal starts `temporal server start-dev` with a SQLite file under the
// data dir (or reuses a server on the port) and waits until the default
// namespace answers.
func (s *stack) upTemporal(ctx context.Context) (string, string, error) {
	address, ui := s.temporalAddr(), s.temporalUI()
	proc := s.temporalProc()
	if portOpen(address) {
		if pid := proc.alivePID(); pid != 0 {
			s.logf(Temporal, "already running on %s (pid %d)", address, pid)
		} else {
			s.logf(Temporal, "something already listens on %s: reusing it", address)
		}
		return address, ui, waitFor(ctx, time.Minute, 500*time.Millisecond, s.temporalReady(0))
	}
	if pid := proc.alivePID(); pid != 0 {
		s.logf(Temporal, "pid %d is still starting; waiting for it", pid)
		return address, ui, waitFor(ctx, 2*time.Minute, 500*time.Millisecond, s.temporalReady(pid))
	}
	if uiAddr := addr(s.o.TemporalUIPort); portOpen(uiAddr) {
		return address, ui, fmt.Errorf("the Web UI port %s is taken by another process", uiAddr)
	}
	cli, err := s.ensureTemporalCLI(ctx)
	if err != nil {
		return address, ui, err
	}
	if err := os.MkdirAll(s.temporalDir(), 0o755); err != nil {
		return address, ui, fmt.Errorf("create temporal dir: %w", err)
	}
	s.logf(Temporal, "starting dev server on %s, Web UI %s (log %s)", address, ui, proc.logFile)
	pid, err := proc.start(ctx, s.temporalDir(), os.Environ(), temporalArgs(cli, s.o.TemporalPort, s.o.TemporalUIPort, filepath.Join(s.temporalDir(), "temporal.db"))...)
	if err != nil {
		return address, ui, err
	}
	return address, ui, waitFor(ctx, 2*time.Minute, 500*time.Millisecond, s.temporalReady(pid))
}

// temporalArgs is the dev server's command line: loopback only, state in a
// SQLite file so workflows survive restarts, quiet logs.
func temporalArgs(cli string, port, uiPort int, dbFile string) []string {
	args := []string{cli, "server", "start-dev",
		"--db-filename", dbFile,
		"--ip", "127.0.0.1",
		"--port", fmt.Sprint(port),
		"--ui-port", fmt.Sprint(uiPort),
		"--log-level", "warn",
		// Write-ahead logging: readers no longer wait on the writer, which
		// under a full test suite's load made the server's own queries time
		// out ("interrupted") and lose its namespace cache.
		"--sqlite-pragma", "journal_mode=wal",
		"--sqlite-pragma", "synchronous=normal",
	}
	for _, sa := range SearchAttributes {
		args = append(args, "--search-attribute", sa)
	}
	return args
}

// SearchAttributes are ShopPulse's custom search attributes as NAME=Type,
// registered when the dev server starts (workers register them too, on any
// server; workers/search_test.go keeps the two lists equal).
var SearchAttributes = []string{
	"ShopPulseCustomer=Keyword",
	"ShopPulsePartition=KeywordList",
	"ShopPulsePeriod=Keyword",
	"ShopPulseProduct=Keyword",
	"ShopPulseTopic=Keyword",
}

// temporalReady checks that the frontend serves the default namespace, which
// the dev server registers a moment after its port opens. Without a cached CLI
// (a reused server) an open port has to do.
func (s *stack) temporalReady(pid int) func(context.Context) error {
	cli := TemporalCLI(s.o.CacheDir)
	_, statErr := os.Stat(cli)
	return func(ctx context.Context) error {
		if pid != 0 && !processAlive(pid) {
			return diedError("temporal", s.logFile(Temporal))
		}
		if !portOpen(s.temporalAddr()) {
			return errors.New("port closed")
		}
		if statErr != nil {
			return nil
		}
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(cctx, cli, "operator", "namespace", "describe",
			"--namespace", "default", "--address", s.temporalAddr(), "--command-timeout", "5s").CombinedOutput()
		if err != nil {
			return fmt.Errorf("describe namespace default: %w: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
}

// ensureTemporalCLI builds the CLI into the cache with `go install` when it is
// missing. That takes several minutes on a cold Go cache, so it reports
// progress; a lock keeps concurrent Ups from building twice.
func (s *stack) ensureTemporalCLI(ctx context.Context) (string, error) {
	cli := TemporalCLI(s.o.CacheDir)
	if _, err := os.Stat(cli); err == nil {
		return cli, nil
	}
	binDir := filepath.Dir(cli)
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("create %s: %w", binDir, err)
	}
	unlock, err := flock(ctx, filepath.Join(binDir, ".temporal-build.lock"), func() {
		s.logf(Temporal, "waiting for another build of the temporal CLI")
	})
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(cli); err == nil {
		return cli, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the temporal CLI is not in %s and there is no go to build it: %w", binDir, err)
	}
	logPath := filepath.Join(s.o.CacheDir, "logs", "temporal-build.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return "", fmt.Errorf("create log dir: %w", err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", logPath, err)
	}
	defer logFile.Close()

	s.logf(Temporal, "building the temporal CLI: go install %s into %s (once per machine, ~7 min on a cold Go cache; log %s)", TemporalCLIModule, binDir, logPath)
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, goBin, "install", "-v", TemporalCLIModule)
	cmd.Dir = binDir // outside any module: build exactly the pinned version
	cmd.Env = append(os.Environ(), "GOBIN="+binDir)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("go install: %w", err)
	}
	waitErr := make(chan error, 1)
	go func() { waitErr <- cmd.Wait() }()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-waitErr:
			if err != nil {
				return "", fmt.Errorf("go install %s: %w\n%s", TemporalCLIModule, err, tail(logPath, 15))
			}
			s.logf(Temporal, "built the temporal CLI in %s", time.Since(t0).Round(time.Second))
			return cli, nil
		case <-tick.C:
			downloaded, compiled := buildProgress(logPath)
			s.logf(Temporal, "still building the temporal CLI: %s elapsed, %d modules downloaded, %d packages built", time.Since(t0).Round(time.Second), downloaded, compiled)
		}
	}
}

// buildProgress counts `go install -v` log lines: module downloads and
// packages built.
func buildProgress(logPath string) (downloaded, compiled int) {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "go: downloading "):
			downloaded++
		case line != "" && !strings.HasPrefix(line, "go: ") && !strings.HasPrefix(line, "#"):
			compiled++
		}
	}
	return downloaded, compiled
}

func (s *stack) downTemporal() error {
	proc := s.temporalProc()
	if pid := proc.alivePID(); pid != 0 {
		s.logf(Temporal, "stopping (pid %d)", pid)
	}
	return proc.stop(20 * time.Second)
}
