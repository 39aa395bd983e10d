package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/store"
)

func newJourneyCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "journey CUSTOMER_ID",
		Short: "Print a customer's sessions and orders in time order",
		Long: `Prints the customer's journey: each session where the customer was known
(from the sessions view: start, end, pages, products viewed, cart adds,
checkout, purchase, device, entry page, referrer) and each order (from the
orders table, with the session it names), in time order.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			steps, err := db.CustomerJourney(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if len(steps) == 0 {
				return fmt.Errorf("no sessions or orders for customer %q", args[0])
			}
			return printJourney(cmd.OutOrStdout(), steps)
		},
	}
}

func printJourney(w io.Writer, steps []store.JourneyStep) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tWHAT\tSESSION\tDETAILS")
	for _, s := range steps {
		at := s.At.UTC().Format(time.RFC3339)
		switch s.Kind {
		case "session":
			ss := s.Session
			fmt.Fprintf(tw, "%s\tsession\t%s\tuntil %s, %d events, %d pages, %d products viewed, %d cart adds, checkout %t, purchase %t (%d orders, %d %s), %s, entry %s, referrer %s\n",
				at, ss.SessionKey, ss.EndedAt.UTC().Format(time.RFC3339), ss.Events, ss.Pages, ss.ProductsViewed, ss.CartAdds,
				ss.Checkout, ss.Purchase, ss.Orders, ss.RevenueMinor, ss.Currency, orDash(ss.Device), orDash(ss.EntryPage), orDash(ss.Referrer))
		default:
			fmt.Fprintf(tw, "%s\torder\t%s\t%s, %d %s\n", at, orDash(s.SessionID), s.OrderID, s.TotalMinor, s.Currency)
		}
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
