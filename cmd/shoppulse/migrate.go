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
			v, err := db.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "database at schema version %d\n", v)
			return nil
		},
	}
}

func (a *app) openDB(ctx context.Context) (*store.DB, error) {
	return store.Open(ctx, store.Config{URL: a.cfg.Database.URL, MaxConns: a.cfg.Database.MaxConns})
}
