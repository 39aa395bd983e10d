package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/api/enums/v1"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/workflows"
)

// TestSecretsNeverLeak runs the worker and the API with a database
// password, an API key and a webhook secret, drives them through their
// normal and error paths (bad events, a wrong key, an unreachable database),
// and requires that none of the three secrets appears in any log line,
// /metrics scrape, HTTP response, CLI output or Temporal history payload.
func TestSecretsNeverLeak(t *testing.T) {
	h := newHarness(t)
	ctx := testenv.Context(t, 4*time.Minute)
	pw := "pw-" + randHex(t)
	hookSecret := "hook-" + randHex(t)

	// A role with a password: the URL the processes get carries it.
	role := "sp_secret_" + randHex(t)[:8]
	if _, err := h.schema.DB.Pool.Exec(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'`, role, pw)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = h.schema.DB.Pool.Exec(context.Background(), "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize())
	})
	u, err := url.Parse(h.schema.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, pw)
	cfgFile := filepath.Join(t.TempDir(), "shoppulse.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf("alerts:\n  webhooks:\n    - url: http://127.0.0.1:9/hook\n      secret: %s\n", hookSecret)), 0o600); err != nil {
		t.Fatal(err)
	}
	metricsAddr, apiAddr := freeAddr(t), freeAddr(t)
	env := append(append([]string(nil), h.env...),
		"SHOPPULSE_DATABASE_URL="+u.String(),
		"SHOPPULSE_LOG_LEVEL=debug",
		"SHOPPULSE_METRICS_ADDR="+metricsAddr,
		"SHOPPULSE_API_ADDR="+apiAddr,
	)
	var out bytes.Buffer // every byte any process or response gave us
	lw := &lockedWriter{w: &out}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(h.bin, append([]string{"--config", cfgFile}, args...)...)
		cmd.Env = env
		b, err := cmd.CombinedOutput()
		_, _ = lw.Write(b)
		return string(b), err
	}
	created, err := run("apikey", "create", "--name", "secrets-test", "--scopes", "ingest,read")
	if err != nil {
		t.Fatalf("apikey create: %v\n%s", err, created)
	}
	key := regexp.MustCompile(`sp_[A-Za-z0-9]+_[A-Za-z0-9_-]+`).FindString(created)
	if key == "" {
		t.Fatalf("no key in %q", created)
	}
	// The key is printed once, on creation, for its owner: take that line
	// out of what is scanned.
	out.Reset()

	start := func(args ...string) *exec.Cmd {
		cmd := exec.Command(h.bin, append([]string{"--config", cfgFile}, args...)...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = lw, lw
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if cmd.ProcessState == nil {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				_ = cmd.Wait()
			}
		})
		return cmd
	}
	worker := start("worker")
	apiProc := start("api")
	waitHTTP(t, ctx, "http://"+apiAddr+"/healthz")
	waitHTTP(t, ctx, "http://"+metricsAddr+"/metrics")

	h.produce(ctx, simulate(3, 200, time.Now().UTC().Add(-time.Hour)))
	for h.applied(ctx) < 200 {
		if ctx.Err() != nil {
			t.Fatal("the worker never consumed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	do := func(method, path, auth, body string) {
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+apiAddr+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(lw, "%s %s -> %d %s %v\n", method, path, resp.StatusCode, b, resp.Header)
	}
	do("POST", "/v1/events", key, `[{"id":"x","type":"order_placed","data":{"order_id":1}}]`)
	do("POST", "/v1/events", key, `not json`)
	do("POST", "/v1/events", key[:len(key)-2]+"zz", `[]`) // a wrong secret
	do("POST", "/v1/events", pw, `[]`)                    // a password where a key goes
	do("GET", "/v1/schemas", key, ``)
	for _, addr := range []string{metricsAddr, apiAddr} {
		do("GET", "/metrics", "", "") // the API's own /metrics, if it serves one there
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			_, _ = lw.Write(b)
		}
	}
	// Error paths that name the database: an unreachable port, a bad URL.
	bad := *u
	bad.Host = "127.0.0.1:1"
	env = append(env, "SHOPPULSE_DATABASE_URL="+bad.String())
	if o, err := run("migrate"); err == nil {
		t.Fatalf("migrate against a closed port succeeded: %s", o)
	}
	env = append(env, "SHOPPULSE_DATABASE_URL=postgres://"+role+":"+pw+"@127.0.0.1:55432/x?sslmode=bogus")
	_, _ = run("migrate")
	_, _ = run("config", "show")

	_ = apiProc.Process.Signal(syscall.SIGTERM)
	_ = worker.Process.Signal(syscall.SIGTERM)
	_ = apiProc.Wait()
	_ = worker.Wait()

	// Temporal histories of the worker's workflows: inputs, results,
	// heartbeats and failures.
	for _, topic := range []string{h.topic, h.invTopic, h.clkTopic, h.payTopic} {
		it := h.temporal.GetWorkflowHistory(ctx, workflows.SupervisorWorkflowID(topic), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatalf("history of %s: %v", topic, err)
			}
			fmt.Fprintf(lw, "%v\n", ev)
		}
	}

	text := out.String()
	if len(text) < 2000 || !strings.Contains(text, "shoppulse_") || !strings.Contains(text, "ConsumePartitions") {
		t.Fatalf("too little was captured to prove anything (%d bytes)", len(text))
	}
	for name, secret := range map[string]string{"database password": pw, "API key": key, "API key secret": key[strings.LastIndex(key, "_")+1:], "webhook secret": hookSecret} {
		if i := strings.Index(text, secret); i >= 0 {
			lo, hi := max(0, i-200), min(len(text), i+len(secret)+100)
			t.Errorf("the %s leaked: ...%s...", name, text[lo:hi])
		}
	}
}

func randHex(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func waitHTTP(t *testing.T, ctx context.Context, u string) {
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never answered: %v", u, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lockedWriter serialises writes of two processes' output into one buffer.
type lockedWriter struct{ w *bytes.Buffer }

var outMu = make(chan struct{}, 1)

func (l *lockedWriter) Write(p []byte) (int, error) {
	outMu <- struct{}{}
	defer func() { <-outMu }()
	return l.w.Write(p)
}
