package main

import (
	"errors"

	"go.temporal.io/sdk/client"

	"github.com/shoppulse/shoppulse/streaming"
)

// buildTLS builds the TLS configs of the Kafka and Temporal clients once,
// from kafka.tls and temporal.tls; every client of the process uses them.
// Errors name the key (and the file that cannot be used).
func (a *app) buildTLS() error {
	var errs [2]error
	a.kafkaTLS, errs[0] = a.cfg.Kafka.TLS.ClientConfig("kafka.tls")
	a.temporalTLS, errs[1] = a.cfg.Temporal.TLS.ClientConfig("temporal.tls")
	return errors.Join(errs[:]...)
}

// kafka is how this process reaches the brokers.
func (a *app) kafka() streaming.Kafka {
	return streaming.Kafka{Brokers: a.cfg.Kafka.Brokers, TLS: a.kafkaTLS}
}

// temporalConnection carries temporal.tls into client.Options: with a
// client certificate the connection is mutual TLS.
func (a *app) temporalConnection() client.ConnectionOptions {
	return client.ConnectionOptions{TLS: a.temporalTLS}
}
