// Package events owns ShopPulse's event catalogue: the Go types of every
// event, their versioned JSON Schemas (embedded from schemas/), validation and
// the wire encoding. It is pure: no I/O, no Kafka, no database, no clock of
// its own (callers pass now). It must not import anything but the standard
// library and the schema validator.
//
// # The envelope
//
// On the wire every event is one JSON object:
//
//	{"id": "e-1", "type": "order_placed", "source": "web",
//	 "time": "2026-03-02T11:59:00Z", "schema_version": 2, "shop_id": "s-1",
//	 "seq": 7, "data": {...the type's own fields...}}
//
// id is the idempotency key, time the event time (RFC 3339 with a zone),
// schema_version the version of the type's schema the event was written
// against, seq an optional per-key sequence number. Each type travels on one
// topic, keyed by the entity whose events must stay in order: clickstream by
// session, orders, payments and customers by customer, inventory and prices
// by product (see Event, Schemas and `shoppulse schemas list`).
//
// # Decoding
//
// Decode checks size and UTF-8, validates against the JSON Schema of the
// event's type and version, decodes into the type's struct and runs the Go
// checks a schema cannot express (order totals, times relative to now,
// cross-field rules). The schema check and the typed decode normally run as
// one pass over the bytes (fastpath.go), compiled from the same schemas and
// conservative: an event it is not sure of goes through the full JSON Schema
// engine and encoding/json, so decisions and errors are the engine's.
// Errors are a *ValidationError whose FieldErrors name the field by JSON
// path, such as $.data.lines[2].quantity, and say what was wanted and what
// came; the API answers with them and the stream dead-letters with them. Money is integer minor units with its currency:
// a JSON number with a fraction or an exponent (5.0, 1e3) is rejected.
//
// # Versioning
//
// Each type's schema has versions 1..N (schemas/<type>/v<N>.json), and
// consumers accept every version side by side: an event's schema_version
// picks its schema, and all versions decode into the same struct, whose newer
// fields are empty in older events. A new version must be backward compatible
// with its predecessor (CheckCompatibility, `shoppulse schemas check`): only
// optional fields added, nothing removed, no type changed, no field made
// required or optional, enums and ranges only widened, and no change of
// meaning. Producers stamp LatestVersion(type), or an older version as long
// as they leave the newer fields empty.
package events
