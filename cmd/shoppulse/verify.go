package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/oracle"
)

func newVerifyCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check Postgres against the Kafka log, row for row (the oracle)",
		Long: `Reads every hot-path topic (orders, inventory, clickstream, payments) from
its first offset to its end with its own Kafka readers, recomputes what the
pipeline claims (revenue and orders per minute, traffic and sessions, stock
per product and warehouse, payments per minute, facts stored, dead letters)
and compares it with PostgreSQL, naming every differing row. Run it when the
pipeline is quiescent (no traffic, consumers caught up): a partition whose
committed offset is behind the log's end is itself a difference.

Exit status 1 when any difference is found.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			k := a.cfg.Kafka
			rep, err := oracle.Check(cmd.Context(), oracle.Config{
				Brokers: k.Brokers,
				TLS:     a.kafkaTLS,
				Topics: oracle.Topics{Orders: k.OrdersTopic, Inventory: k.InventoryTopic,
					Clickstream: k.ClickstreamTopic, Payments: k.PaymentsTopic},
				SessionGap: a.cfg.Stream.SessionGap,
			}, db)
			if err != nil {
				return err
			}
			if asJSON {
				b, err := json.Marshal(rep)
				if err != nil {
					return err
				}
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
			} else {
				rep.Write(cmd.OutOrStdout())
			}
			if !rep.OK() {
				return errors.New("verify: the database disagrees with the log")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as one JSON object")
	return cmd
}
