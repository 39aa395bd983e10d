package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

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
	return cmd
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
