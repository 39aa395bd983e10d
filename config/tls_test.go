package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/shoppulse/shoppulse/internal/testcerts"
)

func TestTLS_ErrorsNameTheKeyAndTheFile(t *testing.T) {
	pki := testcerts.New(t)
	cases := []struct {
		name string
		tls  TLS
		want []string // substrings of the error
	}{
		{"cert without key", TLS{Enabled: true, CertFile: pki.ClientCert}, []string{"kafka.tls.key_file"}},
		{"key without cert", TLS{Enabled: true, KeyFile: pki.ClientKey}, []string{"kafka.tls.cert_file"}},
		{"unreadable CA", TLS{Enabled: true, CAFile: "/nonexistent/ca.pem"}, []string{"kafka.tls.ca_file", "/nonexistent/ca.pem"}},
		{"CA that is no PEM", TLS{Enabled: true, CAFile: "tls.go"}, []string{"kafka.tls.ca_file", "tls.go", "no PEM certificate"}},
		{"unreadable key", TLS{Enabled: true, CertFile: pki.ClientCert, KeyFile: "/nonexistent/key.pem"}, []string{"kafka.tls.key_file", "/nonexistent/key.pem"}},
		{"key of another cert", TLS{Enabled: true, CertFile: pki.ClientCert, KeyFile: pki.ServerKey}, []string{"kafka.tls.cert_file", pki.ClientCert, pki.ServerKey}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := c.tls.ClientConfig("kafka.tls")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
	if c, err := (TLS{CertFile: "/nonexistent"}).ClientConfig("kafka.tls"); c != nil || err != nil {
		t.Errorf("disabled TLS: %v %v", c, err)
	}
}

func TestTLS_ValidateReportsBothSections(t *testing.T) {
	c := Default()
	c.Kafka.TLS = TLS{Enabled: true, CertFile: "x.pem"}
	c.Temporal.TLS = TLS{Enabled: true, CAFile: "/nonexistent/temporal-ca.pem"}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "kafka.tls.key_file") || !strings.Contains(err.Error(), "temporal.tls.ca_file: cannot read /nonexistent/temporal-ca.pem") {
		t.Fatalf("validate: %v", err)
	}
}

// TestTLS_ClientConfigHandshakes connects the built config to a real TLS
// listener that requires a client certificate: it verifies the server by
// the CA and presents the client certificate.
func TestTLS_ClientConfigHandshakes(t *testing.T) {
	pki := testcerts.New(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pki.ServerTLS(t, true))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tc := c.(*tls.Conn)
			if tc.Handshake() == nil && len(tc.ConnectionState().PeerCertificates) > 0 {
				peer <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
			}
			c.Close()
		}
	}()
	cfg, err := TLS{Enabled: true, CAFile: pki.CA, CertFile: pki.ClientCert, KeyFile: pki.ClientKey}.ClientConfig("temporal.tls")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.DialWithDialer(&net.Dialer{}, "tcp", ln.Addr().String(), cfg)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	conn.Close()
	if cn := <-peer; cn != "shoppulse-client" {
		t.Errorf("server saw client %q", cn)
	}
	// Trusting another CA, the client refuses the server.
	other, err := TLS{Enabled: true, CAFile: pki.OtherCA}.ClientConfig("kafka.tls")
	if err != nil {
		t.Fatal(err)
	}
	_, err = tls.Dial("tcp", ln.Addr().String(), other)
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("untrusted server: %v", err)
	}
}
