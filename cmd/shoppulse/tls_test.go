package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/shoppulse/shoppulse/internal/testcerts"
)

// TestConfig_TLSKeysLoadAndBuildOnce: kafka.tls and temporal.tls from the
// file and the environment build the clients' TLS configs at load; a bad
// one stops the process (configError, exit 2) naming the key.
func TestConfig_TLSKeysLoadAndBuildOnce(t *testing.T) {
	pki := testcerts.New(t)
	file := writeFile(t, "kafka:\n  tls:\n    enabled: true\n    ca_file: "+pki.CA+"\n    server_name: localhost\n"+
		"temporal:\n  tls:\n    enabled: true\n    ca_file: "+pki.CA+"\n    cert_file: "+pki.ClientCert+"\n")
	t.Setenv("SHOPPULSE_TEMPORAL_TLS_KEY_FILE", pki.ClientKey)
	a, err := run(t, "--config", file)
	if err != nil {
		t.Fatal(err)
	}
	if a.kafkaTLS == nil || a.kafkaTLS.ServerName != "localhost" || a.kafkaTLS.RootCAs == nil || len(a.kafkaTLS.Certificates) != 0 {
		t.Errorf("kafka tls: %+v", a.kafkaTLS)
	}
	if a.temporalTLS == nil || len(a.temporalTLS.Certificates) != 1 || a.temporalConnection().TLS != a.temporalTLS {
		t.Errorf("temporal tls: %+v", a.temporalTLS)
	}
	if k := a.kafka(); k.TLS != a.kafkaTLS || k.Dialer().TLS != a.kafkaTLS || k.Transport() == nil {
		t.Errorf("kafka clients do not carry the TLS config")
	}

	t.Setenv("SHOPPULSE_TEMPORAL_TLS_KEY_FILE", "")
	_, err = run(t, "--config", file)
	var ce *configError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "temporal.tls.key_file") {
		t.Fatalf("cert without key: %v", err)
	}
}
