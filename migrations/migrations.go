// Package migrations holds ShopPulse's SQL schema as goose migrations, embedded
// in the binary. It has no code of its own: store runs them.
package migrations

import "embed"

// FS holds every migration, named NNNNN_what.sql, applied in order.
//
//go:embed *.sql
var FS embed.FS
