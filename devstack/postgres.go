package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func (s *stack) pgAddr() string { return addr(s.o.PostgresPort) }

// pgDataDir is the cluster's directory: postgres/ in the data dir, unless
// PostgreSQL must run as another user (we are root) who cannot reach the data
// dir, as when the clone lives under /root. Then it is a directory under
// /var/tmp named after the data dir, so each clone keeps its own cluster.
func (s *stack) pgDataDir() string {
	dir, err := filepath.Abs(filepath.Join(s.o.DataDir, "postgres"))
	if err != nil || os.Geteuid() != 0 || reachable(filepath.Dir(dir)) == nil {
		return filepath.Join(s.o.DataDir, "postgres")
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join("/var/tmp", "shoppulse-postgres-"+hex.EncodeToString(sum[:6]))
}
func (s *stack) databaseURL() string { return pgURL(s.o.PostgresPort, DatabaseName) }

func pgURL(port int, db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port, db)
}

// upPostgres initialises the cluster on first use, starts it unless
// something already answers on the port, and creates the database.
func (s *stack) upPostgres(ctx context.Context) (string, error) {
	url := s.databaseURL()
	if portOpen(s.pgAddr()) {
		if pid, ok := postmasterPID(s.pgDataDir()); ok {
			s.logf(Postgres, "already running on %s (pid %d)", s.pgAddr(), pid)
		} else {
			s.logf(Postgres, "something already listens on %s: reusing it", s.pgAddr())
		}
		return url, s.ensureDatabase(ctx, 30*time.Second)
	}

	bin, err := s.postgresBinDir()
	if err != nil {
		return "", err
	}
	cred, err := postgresCredential()
	if err != nil {
		return "", err
	}
	data := s.pgDataDir()
	if cred != nil {
		if err := reachable(filepath.Dir(data)); err != nil {
			return "", fmt.Errorf("PostgreSQL runs as user postgres here (root may not run it) and %w; use a --data-dir others can reach", err)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		s.logf(Postgres, "initdb %s", data)
		if err := s.initdb(ctx, bin, cred); err != nil {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(data, "shoppulse.conf"), []byte(renderPostgresConf(s.o.PostgresPort, socketDir(data, s.o.PostgresPort))), 0o644); err != nil {
		return "", fmt.Errorf("write shoppulse.conf: %w", err)
	}
	logFile := s.logFile(Postgres)
	if err := touchOwned(logFile, cred); err != nil {
		return "", err
	}
	s.logf(Postgres, "starting on %s (log %s)", s.pgAddr(), logFile)
	pgctl := exec.CommandContext(ctx, filepath.Join(bin, "pg_ctl"),
		"-D", data, "-l", logFile, "-w", "-t", "120", "-s", "start")
	pgctl.Dir = "/"
	pgctl.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Credential: cred}
	if out, err := pgctl.CombinedOutput(); err != nil {
		return "", fmt.Errorf("pg_ctl start: %w: %s\n%s", err, strings.TrimSpace(string(out)), tail(logFile, 20))
	}
	return url, s.ensureDatabase(ctx, 60*time.Second)
}

func (s *stack) initdb(ctx context.Context, bin string, cred *syscall.Credential) error {
	data := s.pgDataDir()
	// No PG_VERSION: an earlier initdb was interrupted. Nothing in the
	// directory is usable, and initdb refuses a non-empty one.
	if err := os.RemoveAll(data); err != nil {
		return fmt.Errorf("remove incomplete %s: %w", data, err)
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", data, err)
	}
	if err := os.Chmod(data, 0o700); err != nil {
		return fmt.Errorf("chmod %s: %w", data, err)
	}
	if cred != nil {
		if err := os.Chown(data, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", data, err)
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions")
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w: %s", err, strings.TrimSpace(string(out)))
	}
	// Our settings live in a file rewritten on every Up, so port changes apply.
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("open postgresql.conf: %w", err)
	}
	_, err = f.WriteString("\n# devstack settings\ninclude_if_exists = 'shoppulse.conf'\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("append to postgresql.conf: %w", err)
	}
	return nil
}

// renderPostgresConf returns the settings devstack layers over initdb's
// defaults: loopback only, room for parallel test packages, quiet logs.
func renderPostgresConf(port int, socketDir string) string {
	var b strings.Builder
	b.WriteString("# Written by devstack on every start; edits are lost.\n")
	fmt.Fprintf(&b, "listen_addresses = '127.0.0.1'\n")
	fmt.Fprintf(&b, "port = %d\n", port)
	fmt.Fprintf(&b, "unix_socket_directories = '%s'\n", strings.ReplaceAll(socketDir, "'", "''"))
	b.WriteString(`max_connections = 200
shared_buffers = 128MB
max_wal_size = 1GB
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_min_messages = warning
log_min_error_statement = error
log_line_prefix = '%m [%p] %q%u@%d '
`)
	return b.String()
}

// socketDir is where the server puts its unix socket: inside the data dir,
// so it never clashes with a system server, or nowhere when that path would
// exceed the kernel's 107-byte limit for socket names.
func socketDir(dataDir string, port int) string {
	name := filepath.Join(dataDir, ".s.PGSQL."+strconv.Itoa(port))
	if len(name) > 100 {
		return ""
	}
	return dataDir
}

// ensureDatabase waits until the server accepts connections and creates the
// database if it is missing.
func (s *stack) ensureDatabase(ctx context.Context, timeout time.Duration) error {
	admin := pgURL(s.o.PostgresPort, "postgres")
	return waitFor(ctx, timeout, 250*time.Millisecond, func(ctx context.Context) error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(cctx, admin)
		if err != nil {
			return fmt.Errorf("connect: %w", err)
		}
		defer conn.Close(context.Background())
		var exists bool
		if err := conn.QueryRow(cctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", DatabaseName).Scan(&exists); err != nil {
			return fmt.Errorf("look up database: %w", err)
		}
		if exists {
			return nil
		}
		s.logf(Postgres, "creating database %s", DatabaseName)
		_, err = conn.Exec(cctx, "CREATE DATABASE "+pgx.Identifier{DatabaseName}.Sanitize())
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database
			return nil
		}
		if err != nil {
			return permanent(fmt.Errorf("create database: %w", err))
		}
		return nil
	})
}

// downPostgres stops the cluster devstack runs from the data dir with a fast
// shutdown (SIGINT: roll back open transactions, checkpoint, exit).
func (s *stack) downPostgres(ctx context.Context) error {
	pid, ok := postmasterPID(s.pgDataDir())
	if !ok {
		return nil
	}
	s.logf(Postgres, "stopping (pid %d)", pid)
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal postmaster: %w", err)
	}
	for {
		if !processAlive(pid) {
			return nil
		}
		select {
		case <-ctx.Done():
			// Immediate shutdown: crash recovery on next start, no data loss.
			return terminate(pid, 10*time.Second)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// postmasterPID returns the live postmaster of a data dir, from its
// postmaster.pid.
func postmasterPID(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 || !processAlive(pid) || !cmdlineContains(pid, "postgres") {
		return 0, false
	}
	return pid, true
}

// postgresBinDir finds initdb and pg_ctl: the configured dir, else the Debian
// layout (preferring the version the data dir was made with), else PATH.
func (s *stack) postgresBinDir() (string, error) {
	if d := s.o.PostgresBinDir; d != "" {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err != nil {
			return "", fmt.Errorf("postgres bin dir: %w", err)
		}
		return d, nil
	}
	if v, err := os.ReadFile(filepath.Join(s.pgDataDir(), "PG_VERSION")); err == nil {
		d := filepath.Join("/usr/lib/postgresql", strings.TrimSpace(string(v)), "bin")
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d, nil
		}
	}
	if d := newestDebianPostgres("/usr/lib/postgresql"); d != "" {
		return d, nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/pg_ctl, no pg_ctl on PATH): apt-get install postgresql")
}

// newestDebianPostgres returns root/<highest major>/bin if it has pg_ctl.
func newestDebianPostgres(root string) string {
	matches, _ := filepath.Glob(filepath.Join(root, "*", "bin", "pg_ctl"))
	slices.SortFunc(matches, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(a))))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(b))))
		return va - vb
	})
	if len(matches) == 0 {
		return ""
	}
	return filepath.Dir(matches[len(matches)-1])
}

// postgresCredential returns the identity to run PostgreSQL as: nil (the
// current user) normally, the "postgres" system user when running as root,
// because PostgreSQL refuses to run as root.
func postgresCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and PostgreSQL refuses root; need a 'postgres' system user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}, nil
}

// touchOwned creates path if needed and hands it to cred's user, so the server
// can append to it.
func touchOwned(path string, cred *syscall.Credential) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if cred != nil {
		if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("chown %s: %w", path, err)
		}
	}
	return nil
}

// reachable checks that every directory from / down to dir lets other users
// through (x bit), so the postgres user can reach its data dir.
func reachable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("stat %s: %w", d, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("cannot reach %s (mode %v)", d, fi.Mode().Perm())
		}
		if filepath.Dir(d) == d {
			return nil
		}
	}
}
