package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/config"
	"github.com/shoppulse/shoppulse/schedules"
)

func newSchedulesCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "schedules", Short: "Manage the Temporal Schedules of the batch workflows"}
	var dry bool
	apply := &cobra.Command{
		Use:   "apply",
		Short: "Make the Temporal Schedules match the config: create, update, delete",
		Long: `Validates every cron of the config's schedules, then creates the missing
Temporal Schedules, updates the changed ones and deletes the ones whose id has
the shoppulse- prefix but are no longer configured. Applying twice changes
nothing the second time.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := a.applySchedules(cmd.Context(), dry, cmd.OutOrStdout())
			return err
		},
	}
	apply.Flags().BoolVar(&dry, "dry-run", false, "report what would change, change nothing")
	cmd.AddCommand(apply)
	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the shoppulse- Temporal Schedules: workflow, state, next and last run",
		Long: `Lists the Temporal Schedules whose id has the shoppulse- prefix, with the
workflow each starts, whether it is paused, its next and last run, and whether
the config declares it (a schedule the config no longer declares is deleted by
the next "schedules apply"; one declared but missing is created by it).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.listSchedules(cmd.Context(), cmd.OutOrStdout())
		},
	})
	return cmd
}

func (a *app) listSchedules(ctx context.Context, out io.Writer) error {
	tc, err := a.dialTemporal(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	listed, err := schedules.List(ctx, tc.ScheduleClient(), schedules.DefaultPrefix)
	if err != nil {
		return err
	}
	configured := map[string]config.Schedule{}
	for _, s := range a.cfg.Schedules {
		configured[s.ID] = s
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tWORKFLOW\tSTATE\tCRON\tNEXT RUN\tLAST RUN\tNOTE")
	seen := map[string]bool{}
	for _, l := range listed {
		seen[l.ID] = true
		state := "running"
		if l.Paused {
			state = "paused"
		}
		cron := "(not in config)"
		if c, ok := configured[l.ID]; ok {
			cron = c.Cron
			if c.TimeZone != "" {
				cron += " " + c.TimeZone
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID, l.Workflow, state, cron, showTime(l.Next), showTime(l.LastRun), l.Note)
	}
	for _, c := range a.cfg.Schedules {
		if !seen[c.ID] {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t-\t-\t%s\n", c.ID, c.Workflow, "missing (run schedules apply)", c.Cron, c.Note)
		}
	}
	return w.Flush()
}

func showTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func (a *app) applySchedules(ctx context.Context, dry bool, out io.Writer) (schedules.Result, error) {
	specs := schedules.FromConfig(a.cfg.Schedules, a.cfg.Temporal.TaskQueue)
	if err := schedules.Validate(specs); err != nil {
		return schedules.Result{}, &configError{fmt.Errorf("invalid schedules:\n%w", err)}
	}
	tc, err := a.dialTemporal(ctx)
	if err != nil {
		return schedules.Result{}, err
	}
	defer tc.Close()
	res, err := schedules.Apply(ctx, tc.ScheduleClient(), specs, schedules.ApplyOptions{DryRun: dry})
	verb := ""
	if dry {
		verb = " (dry run)"
	}
	for _, l := range []struct {
		what string
		ids  []string
	}{{"created", res.Created}, {"updated", res.Updated}, {"unchanged", res.Unchanged}, {"deleted", res.Deleted}} {
		if len(l.ids) > 0 {
			fmt.Fprintf(out, "schedules %s%s: %s\n", l.what, verb, strings.Join(l.ids, ", "))
		}
	}
	return res, err
}
