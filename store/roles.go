package store

import (
	"context"
	"fmt"
)

// GrafanaRole is the read-only role of Grafana's PostgreSQL datasource,
// created by migration 00070 with SELECT on the schema's tables and views.
const GrafanaRole = "shoppulse_grafana"

// SetRolePassword sets a role's login password. The password is quoted by
// the server (format %L), never spliced into SQL by us.
func (db *DB) SetRolePassword(ctx context.Context, role, password string) error {
	var stmt string
	if err := db.Pool.QueryRow(ctx, `SELECT format('ALTER ROLE %I WITH LOGIN PASSWORD %L', $1::text, $2::text)`, role, password).Scan(&stmt); err != nil {
		return fmt.Errorf("set password of role %s: %w", role, err)
	}
	if _, err := db.Pool.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("set password of role %s: %w", role, err)
	}
	return nil
}
