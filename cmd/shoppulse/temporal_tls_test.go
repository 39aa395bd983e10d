package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/shoppulse/shoppulse/internal/testcerts"
	"github.com/shoppulse/shoppulse/internal/testenv"
)

// TestTemporal_MutualTLS: `temporal server start-dev` (CLI v1.5.1) has no
// TLS flags, so the test puts a TLS terminator it controls in front of the
// shared dev server's plaintext gRPC port: a real TLS 1.3 listener on
// 127.0.0.1 that requires a client certificate signed by the test CA and
// forwards the decrypted bytes to the dev server. What is real: the SDK's
// TLS handshake with the client certificate from temporal.tls (loaded by
// the same config code as `shoppulse worker`, dialled by the worker's
// dialTemporal), and gRPC calls answered by the real dev server through it.
// What is not: the dev server itself does not see TLS.
func TestTemporal_MutualTLS(t *testing.T) {
	upstream := testenv.TemporalAddress(t)
	pki := testcerts.New(t)
	proxy := startTLSProxy(t, pki.ServerTLS(t, true), upstream)

	t.Setenv("SHOPPULSE_TEMPORAL_ADDRESS", proxy.addr)
	t.Setenv("SHOPPULSE_TEMPORAL_TLS_ENABLED", "true")
	t.Setenv("SHOPPULSE_TEMPORAL_TLS_CA_FILE", pki.CA)
	t.Setenv("SHOPPULSE_TEMPORAL_TLS_CERT_FILE", pki.ClientCert)
	t.Setenv("SHOPPULSE_TEMPORAL_TLS_KEY_FILE", pki.ClientKey)
	a, err := run(t)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testenv.Context(t, 2*time.Minute)
	c, err := a.dialTemporal(ctx)
	if err != nil {
		t.Fatalf("dial over mTLS: %v", err)
	}
	defer c.Close()
	ns, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: a.cfg.Temporal.Namespace})
	if err != nil || ns.GetNamespaceInfo().GetName() != a.cfg.Temporal.Namespace {
		t.Fatalf("describe namespace over mTLS: %v %v", ns, err)
	}
	if _, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: a.cfg.Temporal.Namespace, PageSize: 1}); err != nil {
		t.Fatalf("list workflows over mTLS: %v", err)
	}
	if got := proxy.clients(); len(got) == 0 || got[0] != "shoppulse-client" {
		t.Fatalf("the terminator saw client certificates %v, want shoppulse-client", got)
	}

	// Without a client certificate the handshake is refused, and the dial
	// (which checks the server's health) fails.
	t.Setenv("SHOPPULSE_TEMPORAL_TLS_CERT_FILE", "")
	t.Setenv("SHOPPULSE_TEMPORAL_TLS_KEY_FILE", "")
	a, err = run(t)
	if err != nil {
		t.Fatal(err)
	}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if c, err := a.dialTemporal(dctx); err == nil {
		c.Close()
		t.Fatal("a client without a certificate was let in")
	} else {
		// The client reads the server's alert ("certificate required")
		// or, in TLS 1.3, may first meet the closed connection when it
		// writes: the server's side of the refusal says why.
		t.Logf("without a client certificate: %v", err)
	}
	noCert := func(e string) bool { return strings.Contains(e, "didn't provide a certificate") }
	for deadline := time.Now().Add(5 * time.Second); !slices.ContainsFunc(proxy.refused(), noCert); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the terminator refused %v, want a handshake without a client certificate", proxy.refused())
		}
	}
	// Trusting another CA, the client refuses the terminator.
	t.Setenv("SHOPPULSE_TEMPORAL_TLS_CA_FILE", pki.OtherCA)
	t.Setenv("SHOPPULSE_TEMPORAL_TLS_CERT_FILE", pki.ClientCert)
	t.Setenv("SHOPPULSE_TEMPORAL_TLS_KEY_FILE", pki.ClientKey)
	if a, err = run(t); err != nil {
		t.Fatal(err)
	}
	dctx2, cancel2 := context.WithTimeout(ctx, 20*time.Second)
	defer cancel2()
	if c, err := a.dialTemporal(dctx2); err == nil {
		c.Close()
		t.Fatal("the client trusted a server its CA did not sign")
	} else if !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("refusal does not say why: %v", err)
	}
}

// tlsProxy terminates TLS and pipes each connection to upstream.
type tlsProxy struct {
	addr string
	mu   sync.Mutex
	cns  []string // client certificate subjects seen
	errs []string // handshakes refused
}

func (p *tlsProxy) refused() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

func (p *tlsProxy) clients() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.cns...)
}

func startTLSProxy(t *testing.T, cfg *tls.Config, upstream string) *tlsProxy {
	t.Helper()
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"} // gRPC clients require ALPN h2
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &tlsProxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.pipe(conn.(*tls.Conn), upstream)
			}()
		}
	}()
	return p
}

func (p *tlsProxy) pipe(c *tls.Conn, upstream string) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(); err != nil {
		p.mu.Lock()
		p.errs = append(p.errs, err.Error()) // refused: no or a bad client certificate
		p.mu.Unlock()
		return
	}
	_ = c.SetDeadline(time.Time{})
	if st := c.ConnectionState(); len(st.PeerCertificates) > 0 {
		p.mu.Lock()
		p.cns = append(p.cns, st.PeerCertificates[0].Subject.CommonName)
		p.mu.Unlock()
	}
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	// One side ended: close both so the other copy returns too.
	_ = up.Close()
	_ = c.Close()
	<-done
}
