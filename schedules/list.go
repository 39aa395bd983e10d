package schedules

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
)

// Listed is one schedule as `shoppulse schedules list` shows it.
type Listed struct {
	ID       string
	Workflow string
	Paused   bool
	Note     string
	// Next is the next action time (zero when none is due, e.g. paused).
	Next time.Time
	// LastRun is the scheduled time of the most recent action (zero if none).
	LastRun time.Time
	// LastWorkflowID is the workflow the most recent action started.
	LastWorkflowID string
}

// List returns the schedules whose ID starts with prefix (DefaultPrefix when
// empty), sorted by ID. It reads Temporal's eventually consistent schedule
// list, so a schedule created a moment ago may be missing.
func List(ctx context.Context, c client.ScheduleClient, prefix string) ([]Listed, error) {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	it, err := c.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var out []Listed
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		if !strings.HasPrefix(e.ID, prefix) {
			continue
		}
		l := Listed{ID: e.ID, Paused: e.Paused, Note: e.Note, Workflow: e.WorkflowType.Name}
		if len(e.NextActionTimes) > 0 {
			l.Next = e.NextActionTimes[0]
		}
		if n := len(e.RecentActions); n > 0 {
			last := e.RecentActions[n-1]
			l.LastRun = last.ScheduleTime
			if last.StartWorkflowResult != nil {
				l.LastWorkflowID = last.StartWorkflowResult.WorkflowID
			}
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Listed) int { return strings.Compare(a.ID, b.ID) })
	return slices.CompactFunc(out, func(a, b Listed) bool { return a.ID == b.ID }), nil
}
