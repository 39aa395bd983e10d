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
// Time zone: a cron is evaluated in its spec's TimeZone (an IANA name, UTC
// when empty), never in the server's local zone. Time zone prefixes in the
// cron itself (CRON_TZ=, TZ=) are rejected: the zone has its own field. A
// zone with daylight saving time can fire an action twice or not at all on
// the night of a change; UTC never does, which is why it is the default.
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

	// TimeZone is the zone a schedule's cron is evaluated in when its spec
	// names none.
	TimeZone = "UTC"

	// CatchupWindow is how late a missed action may still run after a Temporal
	// outage, when the spec sets none. Older misses are dropped; the Backfill
	// workflow repairs their periods.
	CatchupWindow = time.Hour

	// Overlap is the default overlap policy: skip an action while the
	// previous run of the same schedule is still running, so a slow rollup
	// never runs twice at once.
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
	hashVersion = 2
)

// overlapPolicies maps config.Schedule.Overlap to Temporal's policies.
var overlapPolicies = map[string]enumspb.ScheduleOverlapPolicy{
	"":                enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	"skip":            enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
	"buffer_one":      enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE,
	"buffer_all":      enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ALL,
	"cancel_other":    enumspb.SCHEDULE_OVERLAP_POLICY_CANCEL_OTHER,
	"terminate_other": enumspb.SCHEDULE_OVERLAP_POLICY_TERMINATE_OTHER,
	"allow_all":       enumspb.SCHEDULE_OVERLAP_POLICY_ALLOW_ALL,
}

// Spec is one Temporal Schedule that starts one workflow type on TaskQueue,
// with Input as its one argument (or none).
type Spec struct {
	// ID is the full Temporal schedule ID, including Apply's prefix.
	ID string
	// Cron is a standard 5-field cron (minute hour day-of-month month
	// day-of-week) or one of @yearly, @annually, @monthly, @weekly, @daily,
	// @midnight, @hourly; evaluated in TimeZone.
	Cron string
	// Workflow is the registered workflow type name.
	Workflow  string
	TaskQueue string
	// Note is shown by `temporal schedule describe` and the Web UI.
	Note string
	// Paused keeps the schedule defined but idle. Apply enforces it: a schedule
	// paused by hand is unpaused by the next Apply unless its spec says Paused.
	Paused bool
	// TimeZone is the IANA zone of the cron; empty means TimeZone (UTC).
	TimeZone string
	// Jitter delays each action by a random time in [0, Jitter).
	Jitter time.Duration
	// Overlap is a key of overlapPolicies (skip, buffer_one, buffer_all,
	// cancel_other, terminate_other, allow_all); empty means skip.
	Overlap string
	// CatchupWindow: 0 means the package's CatchupWindow (one hour).
	CatchupWindow time.Duration
	// Input is the workflow's one argument, a JSON object; empty means the
	// workflow starts with no argument (its zero input).
	Input string
}

// zone is the time zone the cron is evaluated in.
func (s Spec) zone() string {
	if s.TimeZone == "" {
		return TimeZone
	}
	return s.TimeZone
}

// overlap is the Temporal overlap policy of the spec.
func (s Spec) overlap() enumspb.ScheduleOverlapPolicy { return overlapPolicies[s.Overlap] }

// catchup is the catch-up window of the spec.
func (s Spec) catchup() time.Duration {
	if s.CatchupWindow <= 0 {
		return CatchupWindow
	}
	return s.CatchupWindow
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

			TimeZone:      c.TimeZone,
			Jitter:        c.Jitter,
			Overlap:       c.Overlap,
			CatchupWindow: c.CatchupWindow,
			Input:         c.Input,
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
		if _, err := time.LoadLocation(s.zone()); err != nil || strings.TrimSpace(s.TimeZone) != s.TimeZone {
			errs = append(errs, fmt.Errorf("%s.time_zone %q: want an IANA time zone such as UTC or Europe/Paris", key, s.TimeZone))
		} else if err := validateCron(s.Cron); err == nil && !strings.HasPrefix(strings.TrimSpace(s.Cron), "@") {
			// robfig/cron reads the cron in the zone as Temporal will.
			if _, err := cron.ParseStandard("CRON_TZ=" + s.zone() + " " + s.Cron); err != nil {
				errs = append(errs, fmt.Errorf("%s.time_zone %q: %w", key, s.TimeZone, err))
			}
		}
		if _, ok := overlapPolicies[s.Overlap]; !ok {
			errs = append(errs, fmt.Errorf("%s.overlap %q: want one of skip, buffer_one, buffer_all, cancel_other, terminate_other, allow_all", key, s.Overlap))
		}
		if s.Jitter < 0 {
			errs = append(errs, fmt.Errorf("%s.jitter %s: want 0 or a positive duration", key, s.Jitter))
		}
		if s.CatchupWindow < 0 {
			errs = append(errs, fmt.Errorf("%s.catchup_window %s: want 0 (one hour) or a positive duration", key, s.CatchupWindow))
		}
		if s.Input != "" {
			var obj map[string]any
			if err := json.Unmarshal([]byte(s.Input), &obj); err != nil {
				errs = append(errs, fmt.Errorf("%s.input: want a JSON object: %w", key, err))
			}
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
		return errors.New("time zone prefixes are not allowed: set the schedule's time_zone instead")
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
		Jitter        time.Duration
		Input         string
	}{hashVersion, s.ID, s.Cron, s.Workflow, s.TaskQueue, s.Note, s.Paused,
		s.zone(), s.catchup(), s.overlap().String(), RunIDSuffix, s.Jitter, s.Input})
	if err != nil {
		panic(fmt.Sprintf("marshal spec hash input: %v", err)) // only strings, ints and bools: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
