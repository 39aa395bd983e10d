package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// TLS is how a client connects to a server over TLS: kafka.tls and
// temporal.tls. PostgreSQL takes TLS through database.url (sslmode,
// sslrootcert, sslcert, sslkey), as libpq does.
type TLS struct {
	// Enabled turns TLS on. The other keys are ignored without it.
	Enabled bool `mapstructure:"enabled"`
	// CAFile is a PEM bundle of the CAs that sign the servers'
	// certificates. Empty: the system's roots.
	CAFile string `mapstructure:"ca_file"`
	// CertFile and KeyFile are the client's certificate chain and private
	// key (PEM), for servers that require client certificates (mTLS). Both
	// or neither.
	CertFile string `mapstructure:"cert_file"`
	KeyFile  string `mapstructure:"key_file"`
	// ServerName is the name the server's certificate must carry. Empty:
	// the host of the address dialled.
	ServerName string `mapstructure:"server_name"`
	// InsecureSkipVerify accepts any server certificate (kafka.tls only;
	// for a test cluster, never production).
	InsecureSkipVerify bool `mapstructure:"insecure_skip_verify"`
}

// ClientConfig builds the *tls.Config the clients use, or nil when TLS is
// not enabled. prefix is the config key of t ("kafka.tls"), so every error
// names the key to fix, and the file when a file cannot be used.
func (t TLS) ClientConfig(prefix string) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	if err := t.validate(prefix); err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("config %s.ca_file: cannot read %s: %w", prefix, t.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config %s.ca_file: %s holds no PEM certificate", prefix, t.CAFile)
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		for key, f := range map[string]string{"cert_file": t.CertFile, "key_file": t.KeyFile} {
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("config %s.%s: cannot read %s: %w", prefix, key, f, err)
			}
		}
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("config %s.cert_file, %s.key_file: %s and %s are not a certificate and its key: %w", prefix, prefix, t.CertFile, t.KeyFile, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// validate checks what can be checked without reading the files.
func (t TLS) validate(prefix string) error {
	if !t.Enabled {
		return nil
	}
	var errs []error
	if t.CertFile != "" && t.KeyFile == "" {
		errs = append(errs, &FieldError{Key: prefix + ".key_file", Want: "the private key of " + prefix + ".cert_file", Got: `""`})
	}
	if t.KeyFile != "" && t.CertFile == "" {
		errs = append(errs, &FieldError{Key: prefix + ".cert_file", Want: "the certificate of " + prefix + ".key_file", Got: `""`})
	}
	return errors.Join(errs...)
}
