package streaming

import (
	"crypto/tls"
	"time"

	"github.com/segmentio/kafka-go"
)

// Kafka is how ShopPulse reaches the brokers: their addresses and, when
// set, the TLS of every connection (config kafka.tls, built once by
// config.TLS.ClientConfig). Readers, writers and admin clients take their
// dialer or transport from it, so no client is built without the TLS.
type Kafka struct {
	Brokers []string
	// TLS nil means plaintext.
	TLS *tls.Config
}

// Dialer is the dialer of kafka.Reader and kafka.Conn.
func (k Kafka) Dialer() *kafka.Dialer {
	return &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: k.TLS}
}

// Transport is the transport of kafka.Writer and kafka.Client: nil (kafka-go's
// shared default) without TLS, else a transport of its own that the owner
// may close idle connections of.
func (k Kafka) Transport() kafka.RoundTripper {
	if k.TLS == nil {
		return nil
	}
	return &kafka.Transport{TLS: k.TLS}
}

// Client is an admin client with the given timeout per request.
func (k Kafka) Client(timeout time.Duration) *kafka.Client {
	return &kafka.Client{Addr: kafka.TCP(k.Brokers...), Timeout: timeout, Transport: k.Transport()}
}

// closeIdle releases the connections of a client built by Client.
func closeIdle(cl *kafka.Client) {
	if t, ok := cl.Transport.(*kafka.Transport); ok {
		t.CloseIdleConnections()
	}
}
