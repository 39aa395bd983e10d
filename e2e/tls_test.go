package e2e

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shoppulse/shoppulse/devstack"
	"github.com/shoppulse/shoppulse/internal/testcerts"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// TestPostgresTLSRequired runs a private PostgreSQL that accepts TLS
// connections only, with a certificate from a test CA, and requires that
// ShopPulse connects through it when the URL asks for verify-full (the
// migrations run, the session is encrypted), and is refused without TLS.
func TestPostgresTLSRequired(t *testing.T) {
	testenv.DatabaseURL(t) // the shared services' gate: PostgreSQL binaries are here
	ctx := testenv.Context(t, 3*time.Minute)
	dir, err := os.MkdirTemp("/var/tmp", "shoppulse-tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	opts := devstack.Options{DataDir: dir, CacheDir: filepath.Join(cache, "shoppulse"),
		PostgresPort: freePort(t), KafkaPort: freePort(t), KafkaControllerPort: freePort(t),
		TemporalPort: freePort(t), TemporalUIPort: freePort(t)}
	ep, _, err := devstack.Up(ctx, opts, devstack.Postgres)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = devstack.Down(opts) })

	// A CA and a server certificate for 127.0.0.1, readable by the server.
	pki := testcerts.New(t)
	caPEM, certPEM, keyPEM := readFile(t, pki.CA), readFile(t, pki.ServerCert), readFile(t, pki.ServerKey)
	certDir := filepath.Join(dir, "certs")
	if err := os.Mkdir(certDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(certDir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		if os.Geteuid() == 0 { // the server runs as postgres and wants its key private
			if u, err := user.Lookup("postgres"); err == nil {
				uid, _ := strconv.Atoi(u.Uid)
				gid, _ := strconv.Atoi(u.Gid)
				if err := os.Chown(p, uid, gid); err != nil {
					t.Fatal(err)
				}
			}
		}
		return p
	}
	caFile := write("ca.pem", caPEM, 0o644)
	certFile := write("server.crt", certPEM, 0o644)
	keyFile := write("server.key", keyPEM, 0o600)

	admin, err := pgx.Connect(ctx, ep.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	var hba string
	if err := admin.QueryRow(ctx, `SHOW hba_file`).Scan(&hba); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`ALTER SYSTEM SET ssl = on`,
		`ALTER SYSTEM SET ssl_cert_file = '` + certFile + `'`,
		`ALTER SYSTEM SET ssl_key_file = '` + keyFile + `'`,
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	// TCP only over TLS; the unix socket stays for the server's own tools.
	if err := os.WriteFile(hba, []byte("local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, `SELECT pg_reload_conf()`); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)

	plain := ep.DatabaseURL
	tlsURL := strings.Replace(ep.DatabaseURL, "sslmode=disable", "sslmode=verify-full&sslrootcert="+caFile, 1)
	var lastErr error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var c *pgx.Conn
		if c, lastErr = pgx.Connect(ctx, plain); lastErr != nil {
			break // the reload took: plain TCP is refused
		}
		c.Close(ctx)
	}
	if lastErr == nil || !strings.Contains(lastErr.Error(), "no encryption") && !strings.Contains(lastErr.Error(), "reject") {
		t.Fatalf("a connection without TLS was not refused: %v", lastErr)
	}

	// The binary migrates over TLS, and the store's sessions are encrypted.
	bin := binary(t)
	cmd := exec.CommandContext(ctx, bin, "migrate")
	cmd.Env = append(os.Environ(), "SHOPPULSE_DATABASE_URL="+tlsURL)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shoppulse migrate over TLS: %v\n%s", err, out)
	}
	db, err := store.Open(ctx, store.Config{URL: tlsURL, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ssl bool
	var version string
	if err := db.Pool.QueryRow(ctx, `SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).Scan(&ssl, &version); err != nil || !ssl {
		t.Fatalf("the store's session is not encrypted: ssl=%t %v", ssl, err)
	}
	var tables int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = 'stream_offsets'`).Scan(&tables); err != nil || tables != 1 {
		t.Fatalf("migrations over TLS did not run: %d, %v", tables, err)
	}
	t.Logf("connected over %s", version)

	// A CA that did not sign the server's certificate is refused.
	bogus := write("other-ca.pem", readFile(t, pki.OtherCA), 0o644)
	if _, err := store.Open(ctx, store.Config{URL: strings.Replace(tlsURL, caFile, bogus, 1), MaxConns: 2}); err == nil {
		t.Fatal("a server certificate from an unknown CA was accepted")
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func freePort(t *testing.T) int {
	addr := freeAddr(t)
	_, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return n
}

// binary builds the shoppulse binary once per test.
func binary(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "shoppulse")
	build := exec.Command("go", "build", "-o", bin, "../cmd/shoppulse")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build shoppulse: %v", err)
	}
	return bin
}
