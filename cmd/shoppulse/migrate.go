package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/store"
)

func newMigrateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the database migrations and create the coming days' partitions",
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			v, err := a.migrate(cmd.Context(), db)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "database at schema version %d\n", v)
			return nil
		},
	}
}

// migrate applies the migrations, then gives the Grafana role its password
// when one is configured.
func (a *app) migrate(ctx context.Context, db *store.DB) (int64, error) {
	v, err := db.Migrate(ctx)
	if err != nil {
		return v, err
	}
	if pw := a.cfg.Database.GrafanaPassword; pw != "" {
		if err := db.SetRolePassword(ctx, store.GrafanaRole, pw); err != nil {
			return v, err
		}
	}
	return v, nil
}

func (a *app) openDB(ctx context.Context) (*store.DB, error) {
	return store.Open(ctx, store.Config{URL: a.cfg.Database.URL, MaxConns: a.cfg.Database.MaxConns})
}
