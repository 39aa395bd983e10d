// Package testcerts makes a throwaway PKI for tests of TLS connections: a
// CA, a server certificate for 127.0.0.1 and localhost, and a client
// certificate, written as PEM files (keys in PKCS#8, as Kafka's PEM
// keystores want). Nothing here is fit for production.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Set is the PKI's files.
type Set struct {
	Dir string
	// CA is the CA certificate; ServerCert/ServerKey are signed by it for
	// 127.0.0.1 and localhost; ClientCert/ClientKey are a client
	// certificate (CN shoppulse-client) signed by it.
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	// OtherCA is a second CA that signed nothing here: a client trusting
	// only it must refuse the server.
	OtherCA string
}

// New writes a fresh PKI under a temporary directory of the test.
func New(t testing.TB) Set {
	t.Helper()
	dir := t.TempDir()
	s := Set{Dir: dir}
	caKey, caCert := newCA(t, "shoppulse test CA")
	s.CA = writePEM(t, dir, "ca.pem", "CERTIFICATE", caCert.Raw)
	_, other := newCA(t, "another CA")
	s.OtherCA = writePEM(t, dir, "other-ca.pem", "CERTIFICATE", other.Raw)
	s.ServerCert, s.ServerKey = leaf(t, dir, "server", caKey, caCert, x509.ExtKeyUsageServerAuth)
	s.ClientCert, s.ClientKey = leaf(t, dir, "client", caKey, caCert, x509.ExtKeyUsageClientAuth)
	return s
}

// ServerTLS is a server config with the server certificate; with
// requireClient it requires a client certificate signed by the CA.
func (s Set) ServerTLS(t testing.TB, requireClient bool) *tls.Config {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(s.ServerCert, s.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if requireClient {
		pool := x509.NewCertPool()
		b, err := os.ReadFile(s.CA)
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(b)
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c
}

var serial int64 = time.Now().UnixNano()

func template(cn string) *x509.Certificate {
	serial++
	return &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"ShopPulse tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
}

func newCA(t testing.TB, cn string) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := template(cn)
	tpl.IsCA, tpl.BasicConstraintsValid = true, true
	tpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func leaf(t testing.TB, dir, name string, caKey *ecdsa.PrivateKey, ca *x509.Certificate, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := template("shoppulse-" + name)
	tpl.KeyUsage = x509.KeyUsageDigitalSignature
	tpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	if usage == x509.ExtKeyUsageServerAuth {
		// A broker is also a client of its own listener (inter-broker).
		tpl.ExtKeyUsage = append(tpl.ExtKeyUsage, x509.ExtKeyUsageClientAuth)
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tpl.DNSNames = []string{"localhost"}
		tpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+"-key.pem", "PRIVATE KEY", pk)
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
