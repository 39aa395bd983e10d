package main

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/api"
	"github.com/shoppulse/shoppulse/store"
)

func newAPIKeyCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "apikey", Short: "Create, list and revoke API keys"}

	var name string
	var scopes []string
	create := &cobra.Command{
		Use:   "create --name NAME --scopes ingest,read",
		Short: "Create a key and print it once (only its hash is stored)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, k, err := api.NewAPIKey(name, scopes)
			if err != nil {
				return err
			}
			db, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			if k, err = db.CreateAPIKey(cmd.Context(), k); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "created key %s (%s) with scopes %s; it is shown only now:\n",
				k.ID, k.Name, strings.Join(k.Scopes, ","))
			fmt.Fprintln(cmd.OutOrStdout(), tok)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "what the key is for (required)")
	create.Flags().StringSliceVar(&scopes, "scopes", nil, "comma-separated scopes: "+strings.Join(api.Scopes, ", "))
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("scopes")

	list := &cobra.Command{
		Use:   "list",
		Short: "List every key (never the secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			keys, err := db.APIKeys(cmd.Context())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tLAST USED\tREVOKED")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","),
					k.CreatedAt.UTC().Format(time.RFC3339), optTime(k.LastUsedAt), optTime(k.RevokedAt))
			}
			return tw.Flush()
		},
	}

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key (takes effect within api.key_cache_ttl)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			at, err := db.RevokeAPIKey(cmd.Context(), args[0])
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("no API key with id %q (see shoppulse apikey list)", args[0])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s at %s; running API servers refuse it within %s\n",
				args[0], at.UTC().Format(time.RFC3339), a.cfg.API.KeyCacheTTL)
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func optTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
