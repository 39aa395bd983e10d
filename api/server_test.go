package api

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/internal/testenv"
)

// TestRunServesUntilCancelled runs the server as `shoppulse api` does, on a
// real listener, and checks that cancelling shuts it down cleanly.
func TestRunServesUntilCancelled(t *testing.T) {
	db := testenv.DB(t).DB
	s, err := New(Config{Brokers: testenv.Brokers(t)}, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("still serving after shutdown")
	}
}
