package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// Grafana's role reads every table and view of the schema, including ones
// created after the migration, and can change nothing.
func TestGrafanaRoleIsReadOnly(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	if _, err := s.DB.Pool.Exec(ctx, `CREATE TABLE later_table (x int)`); err != nil {
		t.Fatal(err)
	}
	asGrafana := func(sql string) error {
		return pgx.BeginFunc(ctx, s.DB.Pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+store.GrafanaRole); err != nil {
				t.Fatal(err)
			}
			_, err := tx.Exec(ctx, sql)
			return err
		})
	}
	for _, q := range []string{
		`SELECT count(*) FROM revenue_minute`,
		`SELECT count(*) FROM funnel_minute`, // a view
		`SELECT count(*) FROM alerts`,
		`SELECT count(*) FROM later_table`, // default privileges
	} {
		if err := asGrafana(q); err != nil {
			t.Errorf("%s as %s: %v", q, store.GrafanaRole, err)
		}
	}
	for _, q := range []string{
		`INSERT INTO later_table VALUES (1)`,
		`DELETE FROM alerts`,
		`UPDATE stream_offsets SET next_offset = 0`,
		`CREATE TABLE grafana_was_here (x int)`,
	} {
		err := asGrafana(q)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" { // insufficient_privilege
			t.Errorf("%s as %s: err = %v, want permission denied", q, store.GrafanaRole, err)
		}
	}

	if err := s.DB.SetRolePassword(ctx, store.GrafanaRole, "it's a 'secret'"); err != nil {
		t.Fatal(err)
	}
	var ok bool
	if err := s.DB.Pool.QueryRow(ctx, `SELECT rolcanlogin AND rolpassword IS NOT NULL FROM pg_authid WHERE rolname = $1`, store.GrafanaRole).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	if !ok {
		t.Errorf("%s cannot log in with a password", store.GrafanaRole)
	}
}
