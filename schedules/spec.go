// Package schedules owns ShopPulse's Temporal Schedules: the definitions that
// start the batch workflows (rollups, retraining, replenishment, ...) on a cron,
// their validation, and Apply, which brings a Temporal namespace in step with
// them idempotently.
//
// Every schedule ID Apply manages starts with a prefix (default "shoppulse-").
// Apply creates what is missing, updates what changed, leaves the rest alone
// and deletes prefixed schedules that are no longer defined. It must never
// touch a schedule without the prefix, never start a workflow itself and
// never read configuration files or the environment: the caller hands it
// specs and a client.
//
// Time zone: every cron is evaluated in UTC. Time zone prefixes (CRON_TZ=,
// TZ=) are rejected, so a schedule fires at the same instant wherever the
// server runs and never twice or not at all on a daylight saving change.
package schedules

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/shoppulse/shoppulse/config"
)

const (
	// DefaultPrefix is the schedule ID prefix Apply owns when ApplyOptions.Prefix is empty.
	DefaultPrefix = "shoppulse-"

	// TimeZone is the zone every schedule's cron is evaluated in.
	TimeZone = "UTC"

	// CatchupWindow is how late a missed action may still run after a Temporal
	// outage. Older misses are dropped; backfill workflows repair their periods.
	CatchupWindow = time.Hour

	// Overlap skips an action while the previous run of the same schedule is
	// still running, so a slow rollup never runs twice at once.
	Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP

	// RunIDSuffix is appended to the schedule ID to form the workflow ID of
	// each run; Temporal appends the scheduled time after it, e.g.
	// "shoppulse-rollup-hourly-run-2025-01-02T03:05:00Z".
	RunIDSuffix = "-run"

	// MemoKey is the workflow-action memo key that holds the spec hash Apply
	// compares to decide whether a schedule changed.
	MemoKey = "shoppulse_spec"

	// hashVersion changes whenever the way a Spec becomes a Temporal Schedule
	// changes, so the next Apply updates every schedule.
	hashVersion = 1
)

// Spec is one Temporal Schedule that starts one workflow type, with no
// arguments, on TaskQueue.
type Spec struct {
	// ID is the full Temporal schedule ID, including Apply's prefix.
	ID string
	// Cron is a standard 5-field cron (minute hour day-of-month month
	// day-of-week) or one of @yearly, @annually, @monthly, @weekly, @daily,
	// @midnight, @hourly; evaluated in UTC.
	Cron string
	// Workflow is the registered workflow type name.
	Workflow  string
	TaskQueue string
	// Note is shown by `temporal schedule describe` and the Web UI.
	Note string
	// Paused keeps the schedule defined but idle. Apply enforces it: a schedule
	// paused by hand is unpaused by the next Apply unless its spec says Paused.
	Paused bool
}

// FromConfig turns the configured schedules into specs that start their
// workflows on taskQueue.
func FromConfig(cs []config.Schedule, taskQueue string) []Spec {
	specs := make([]Spec, 0, len(cs))
	for _, c := range cs {
		specs = append(specs, Spec{
			ID:        c.ID,
			Cron:      c.Cron,
			Workflow:  c.Workflow,
			TaskQueue: taskQueue,
			Note:      c.Note,
			Paused:    c.Paused,
		})
	}
	return specs
}

// Validate checks every spec and reports all problems at once, each naming
// schedules[i] and its field. It sends nothing anywhere.
//
// A cron must parse with robfig/cron's standard parser and mean the same to
// Temporal, so Validate also rejects what the two read differently: "?",
// @every, time zone prefixes, and a cron restricting both day-of-month and
// day-of-week (standard cron fires on either, Temporal only when both match).
func Validate(specs []Spec) error {
	var errs []error
	seen := make(map[string]int, len(specs))
	for i, s := range specs {
		key := fmt.Sprintf("schedules[%d]", i)
		switch first, dup := seen[s.ID]; {
		case strings.TrimSpace(s.ID) == "":
			errs = append(errs, fmt.Errorf("%s.id: empty, want a schedule id", key))
		case dup:
			errs = append(errs, fmt.Errorf("%s.id %q: duplicate of schedules[%d].id", key, s.ID, first))
		default:
			seen[s.ID] = i
		}
		if err := validateCron(s.Cron); err != nil {
			errs = append(errs, fmt.Errorf("%s.cron %q: %w", key, s.Cron, err))
		}
		if strings.TrimSpace(s.Workflow) == "" {
			errs = append(errs, fmt.Errorf("%s.workflow: empty, want a workflow type name", key))
		}
		if strings.TrimSpace(s.TaskQueue) == "" {
			errs = append(errs, fmt.Errorf("%s.task_queue: empty, want a task queue name", key))
		}
	}
	return errors.Join(errs...)
}

// starBit is robfig/cron's marker for a field written as "*" (unexported there).
const starBit = 1 << 63

func validateCron(expr string) error {
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		return errors.New("empty, want 5 fields (minute hour day-of-month month day-of-week) or a descriptor such as @hourly")
	case strings.HasPrefix(expr, "TZ=") || strings.HasPrefix(expr, "CRON_TZ="):
		return errors.New("time zone prefixes are not allowed: every schedule runs in UTC")
	case strings.HasPrefix(expr, "@every"):
		return errors.New("@every is not supported (robfig and Temporal align it differently); use a step such as */15")
	case expr == "@yearly", expr == "@annually", expr == "@monthly", expr == "@weekly",
		expr == "@daily", expr == "@midnight", expr == "@hourly":
		return nil // robfig/cron and Temporal read these the same way
	case strings.HasPrefix(expr, "@"):
		return errors.New("unknown descriptor, want one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly")
	case strings.Contains(expr, "?"):
		return errors.New(`"?" is not supported by Temporal, use "*"`)
	}
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return fmt.Errorf("has %d fields, want 5 (minute hour day-of-month month day-of-week)", len(fields))
	}
	sched, err := cron.ParseStandard(expr)
	if err != nil {
		return fieldError(fields, err)
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return fmt.Errorf("parsed to %T, want a cron spec", sched)
	}
	if spec.Dom&starBit == 0 && spec.Dow&starBit == 0 {
		return fmt.Errorf("restricts both day-of-month (%q) and day-of-week (%q): standard cron fires on either, Temporal only when both match; restrict one and leave the other \"*\"", fields[2], fields[4])
	}
	return nil
}

// fieldError names the first field that fails to parse on its own, since
// robfig/cron's errors do not say which field is wrong.
func fieldError(fields []string, whole error) error {
	names := [...]string{"minute", "hour", "day-of-month", "month", "day-of-week"}
	for i, f := range fields {
		probe := []string{"*", "*", "*", "*", "*"}
		probe[i] = f
		if _, err := cron.ParseStandard(strings.Join(probe, " ")); err != nil {
			return fmt.Errorf("%s field %q: %w", names[i], f, err)
		}
	}
	return whole
}

// hash identifies everything Apply sends to Temporal for s. Describe returns
// crons as calendars, so Apply compares this hash, stored in the schedule's
// workflow-action memo, instead of the spec itself.
func (s Spec) hash() string {
	b, err := json.Marshal(struct {
		Version       int
		ID            string
		Cron          string
		Workflow      string
		TaskQueue     string
		Note          string
		Paused        bool
		TimeZone      string
		CatchupWindow time.Duration
		Overlap       string
		RunIDSuffix   string
	}{hashVersion, s.ID, s.Cron, s.Workflow, s.TaskQueue, s.Note, s.Paused,
		TimeZone, CatchupWindow, Overlap.String(), RunIDSuffix})
	if err != nil {
		panic(fmt.Sprintf("marshal spec hash input: %v", err)) // only strings, ints and bools: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
