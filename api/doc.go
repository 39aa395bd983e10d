// Package api owns ShopPulse's HTTP API: routing, authentication with scoped
// API keys, the ingest endpoint, problem details (RFC 9457) and the OpenAPI
// document. It grows into the read API of the dashboard.
//
// It must not hold business logic: it validates requests (events with
// events.Decode), routes valid events to their Kafka topic and calls store
// methods; it never writes SQL. Every error a client sees is a problem
// details document with a stable type URI.
//
// Ingest is bounded: a request holds one of Config.MaxInFlight produce slots
// while its events are written, and one that cannot get a slot within
// Config.QueueWait, or whose write to Kafka takes longer than
// Config.ProduceTimeout, is answered 503 with Retry-After. Nothing is
// buffered beyond that.
package api
