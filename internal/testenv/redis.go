package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Redis returns the URL of a Redis for the test: SHOPPULSE_TEST_REDIS_URL
// when set (shared: use a key prefix of the test's own), else a
// redis-server started from PATH on a free loopback port, stopped when the
// test ends. Without either the test is skipped, or fails when
// SHOPPULSE_REQUIRE_SERVICES=1 (Debian: apt-get install redis-server).
func Redis(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("SHOPPULSE_TEST_REDIS_URL"); u != "" {
		return u
	}
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("SHOPPULSE_REQUIRE_SERVICES") == "1" {
			t.Fatalf("Redis is required (SHOPPULSE_REQUIRE_SERVICES=1) but SHOPPULSE_TEST_REDIS_URL is unset and redis-server is not on PATH (apt-get install redis-server)")
		}
		t.Skip("Redis not available: set SHOPPULSE_TEST_REDIS_URL or install redis-server")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", t.TempDir(), "--loglevel", "warning")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ping(addr) == nil {
			return "redis://" + addr + "/0"
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer PING within 10s: %s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redis answered %q", line)
	}
	return nil
}
