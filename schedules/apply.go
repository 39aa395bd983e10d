package schedules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// ApplyOptions tunes Apply.
type ApplyOptions struct {
	// Prefix is the part of the schedule ID space Apply owns: every spec ID
	// must start with it, and any existing schedule with it that no spec
	// names is deleted. Empty means DefaultPrefix.
	Prefix string
	// DryRun reads the current schedules and reports what Apply would do,
	// without creating, updating or deleting anything.
	DryRun bool
}

// Result lists schedule IDs by what Apply did to them (or, on a dry run,
// would do). Created, Updated and Unchanged follow the order of the specs;
// Deleted is sorted.
type Result struct {
	Created, Updated, Unchanged, Deleted []string
}

// Apply makes the schedules whose ID starts with opts.Prefix match specs
// exactly: it creates missing schedules, updates those whose spec hash, pause
// state or note differ, and deletes prefixed schedules no spec names.
// Applying the same specs twice changes nothing the second time.
//
// Nothing is sent before Validate passes and every ID carries the prefix.
// Apply stops at the first failed call and returns what it did until then
// with the error. Deleting a schedule does not stop workflows it started.
//
// Deletion relies on listing schedules, which Temporal serves from its
// eventually consistent visibility store: a schedule created a moment ago by
// someone else may be deleted only by the next Apply.
func Apply(ctx context.Context, c client.ScheduleClient, specs []Spec, opts ApplyOptions) (Result, error) {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := Validate(specs); err != nil {
		return Result{}, fmt.Errorf("validate schedules: %w", err)
	}
	var errs []error
	for i, s := range specs {
		if !strings.HasPrefix(s.ID, prefix) || s.ID == prefix {
			errs = append(errs, fmt.Errorf("schedules[%d].id %q: must start with the prefix %q that Apply owns", i, s.ID, prefix))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Result{}, fmt.Errorf("validate schedules: %w", err)
	}

	var res Result
	want := make(map[string]bool, len(specs))
	for _, s := range specs {
		want[s.ID] = true
		changed, exists, err := compare(ctx, c, s)
		if err != nil {
			return res, err
		}
		switch {
		case !exists:
			if !opts.DryRun {
				if _, err := c.Create(ctx, createOptions(s)); err != nil {
					return res, fmt.Errorf("create schedule %s: %w", s.ID, err)
				}
			}
			res.Created = append(res.Created, s.ID)
		case changed:
			if !opts.DryRun {
				if err := update(ctx, c, s); err != nil {
					return res, fmt.Errorf("update schedule %s: %w", s.ID, err)
				}
			}
			res.Updated = append(res.Updated, s.ID)
		default:
			res.Unchanged = append(res.Unchanged, s.ID)
		}
	}

	stale, err := listStale(ctx, c, prefix, want)
	if err != nil {
		return res, err
	}
	for _, id := range stale {
		if !opts.DryRun {
			err := c.GetHandle(ctx, id).Delete(ctx)
			if isNotFound(err) {
				continue // already gone; the list was behind
			}
			if err != nil {
				return res, fmt.Errorf("delete schedule %s: %w", id, err)
			}
		}
		res.Deleted = append(res.Deleted, id)
	}
	return res, nil
}

// compare reports whether the schedule for s exists and whether it differs
// from s. Pause state and note are compared live as well as through the
// hash, because an operator can change them from the CLI or the Web UI.
func compare(ctx context.Context, c client.ScheduleClient, s Spec) (changed, exists bool, err error) {
	desc, err := c.GetHandle(ctx, s.ID).Describe(ctx)
	if isNotFound(err) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("describe schedule %s: %w", s.ID, err)
	}
	return !upToDate(desc, s), true, nil
}

func upToDate(desc *client.ScheduleDescription, s Spec) bool {
	state := desc.Schedule.State
	if state == nil || state.Paused != s.Paused || state.Note != s.Note {
		return false
	}
	action, ok := desc.Schedule.Action.(*client.ScheduleWorkflowAction)
	if !ok {
		return false
	}
	return memoString(action.Memo[MemoKey]) == s.hash()
}

// memoString decodes a memo value as Describe returns it (a payload); a
// missing or undecodable value reads as "" and so as changed.
func memoString(v any) string {
	p, ok := v.(*commonpb.Payload)
	if !ok {
		return ""
	}
	var out string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &out); err != nil {
		return ""
	}
	return out
}

func createOptions(s Spec) client.ScheduleOptions {
	return client.ScheduleOptions{
		ID:            s.ID,
		Spec:          scheduleSpec(s),
		Action:        workflowAction(s),
		Overlap:       s.overlap(),
		CatchupWindow: s.catchup(),
		Paused:        s.Paused,
		Note:          s.Note,
	}
}

// update replaces the schedule's spec, action, policies and state with s.
// The schedule's own memo cannot be changed after creation, which is why the
// hash lives in the workflow action's memo.
func update(ctx context.Context, c client.ScheduleClient, s Spec) error {
	return c.GetHandle(ctx, s.ID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			spec := scheduleSpec(s)
			return &client.ScheduleUpdate{Schedule: &client.Schedule{
				Action: workflowAction(s),
				Spec:   &spec,
				Policy: &client.SchedulePolicies{Overlap: s.overlap(), CatchupWindow: s.catchup()},
				State:  &client.ScheduleState{Note: s.Note, Paused: s.Paused},
			}}, nil
		},
	})
}

func scheduleSpec(s Spec) client.ScheduleSpec {
	return client.ScheduleSpec{CronExpressions: []string{s.Cron}, TimeZoneName: s.zone(), Jitter: s.Jitter}
}

func workflowAction(s Spec) *client.ScheduleWorkflowAction {
	a := &client.ScheduleWorkflowAction{
		ID:        s.ID + RunIDSuffix,
		Workflow:  s.Workflow,
		TaskQueue: s.TaskQueue,
		Memo:      map[string]any{MemoKey: s.hash()},
	}
	if s.Input != "" {
		// Sent as the JSON text itself, so the workflow decodes it into its
		// input struct exactly as from `temporal workflow start --input`.
		a.Args = []any{json.RawMessage(s.Input)}
	}
	return a
}

// listStale returns, sorted, the IDs of schedules that start with prefix
// and that no spec names.
func listStale(ctx context.Context, c client.ScheduleClient, prefix string, want map[string]bool) ([]string, error) {
	it, err := c.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	var stale []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		if strings.HasPrefix(e.ID, prefix) && !want[e.ID] {
			stale = append(stale, e.ID)
		}
	}
	slices.Sort(stale)
	return slices.Compact(stale), nil
}

func isNotFound(err error) bool {
	var nf *serviceerror.NotFound
	return errors.As(err, &nf)
}
