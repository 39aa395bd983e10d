package schedules

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
)

// dialTemporal connects to the Temporal server named by
// SHOPPULSE_TEST_TEMPORAL_ADDRESS, skipping the test when it is unset unless
// SHOPPULSE_REQUIRE_SERVICES=1.
func dialTemporal(t *testing.T) client.Client {
	t.Helper()
	addr := os.Getenv("SHOPPULSE_TEST_TEMPORAL_ADDRESS")
	if addr == "" {
		if os.Getenv("SHOPPULSE_REQUIRE_SERVICES") == "1" {
			t.Fatal("SHOPPULSE_TEST_TEMPORAL_ADDRESS is unset and SHOPPULSE_REQUIRE_SERVICES=1")
		}
		t.Skip("SHOPPULSE_TEST_TEMPORAL_ADDRESS is unset")
	}
	c, err := client.Dial(client.Options{
		HostPort: addr,
		Logger:   log.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatalf("dial temporal %s: %v", addr, err)
	}
	t.Cleanup(c.Close)
	return c
}

// testPrefix is unique per run, so runs against a shared server never collide.
func testPrefix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "shoppulse-test-" + hex.EncodeToString(b) + "-"
}

// listIDs returns the sorted IDs of schedules starting with prefix.
func listIDs(ctx context.Context, t *testing.T, c client.ScheduleClient, prefix string) []string {
	t.Helper()
	it, err := c.List(ctx, client.ScheduleListOptions{})
	if err != nil {
		t.Fatalf("list schedules: %v", err)
	}
	var ids []string
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			t.Fatalf("list schedules: %v", err)
		}
		if strings.HasPrefix(e.ID, prefix) {
			ids = append(ids, e.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// waitListed waits until the eventually consistent schedule list shows
// exactly want under prefix.
func waitListed(ctx context.Context, t *testing.T, c client.ScheduleClient, prefix string, want ...string) {
	t.Helper()
	slices.Sort(want)
	var got []string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = listIDs(ctx, t, c, prefix); slices.Equal(got, want) {
			return
		}
	}
	t.Fatalf("schedules listed under %q = %v, want %v", prefix, got, want)
}

func describe(ctx context.Context, t *testing.T, c client.ScheduleClient, id string) *client.ScheduleDescription {
	t.Helper()
	d, err := c.GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		t.Fatalf("describe schedule %s: %v", id, err)
	}
	return d
}

func assertResult(t *testing.T, got, want Result) {
	t.Helper()
	if !slices.Equal(got.Created, want.Created) || !slices.Equal(got.Updated, want.Updated) ||
		!slices.Equal(got.Unchanged, want.Unchanged) || !slices.Equal(got.Deleted, want.Deleted) {
		t.Fatalf("Result = %+v\nwant     %+v", got, want)
	}
}

// assertNextRuns checks the schedule fires at minute:hour UTC, i.e. that the
// server holds the cron Apply sent, evaluated in UTC.
func assertNextRuns(t *testing.T, d *client.ScheduleDescription, hour, minute int) {
	t.Helper()
	if len(d.Info.NextActionTimes) == 0 {
		t.Fatal("schedule has no next action times")
	}
	for _, at := range d.Info.NextActionTimes {
		if at := at.UTC(); at.Hour() != hour || at.Minute() != minute || at.Second() != 0 {
			t.Fatalf("next action at %s, want %02d:%02d:00 UTC", at, hour, minute)
		}
	}
}

func TestApplyAgainstDevServer(t *testing.T) {
	c := dialTemporal(t)
	sc := c.ScheduleClient()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	prefix := testPrefix(t)
	opts := ApplyOptions{Prefix: prefix}
	rollup, retrain := prefix+"rollup", prefix+"retrain"
	// foreign shares the text of the prefix without its final dash: not ours.
	foreign := strings.TrimSuffix(prefix, "-") + "x-foreign"

	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, id := range []string{rollup, retrain, foreign, prefix + "late"} {
			if err := sc.GetHandle(ctx, id).Delete(ctx); err != nil && !isNotFound(err) {
				t.Errorf("cleanup: delete schedule %s: %v", id, err)
			}
		}
	})

	if _, err := sc.Create(ctx, client.ScheduleOptions{
		ID:     foreign,
		Spec:   client.ScheduleSpec{CronExpressions: []string{"0 0 * * *"}},
		Action: &client.ScheduleWorkflowAction{Workflow: "Foreign", TaskQueue: "elsewhere"},
		Paused: true,
	}); err != nil {
		t.Fatalf("create foreign schedule: %v", err)
	}
	foreignBefore := describe(ctx, t, sc, foreign)

	specs := []Spec{
		{ID: rollup, Cron: "5 3 * * *", Workflow: "RevenueRollupHourly", TaskQueue: "shoppulse-test", Note: "rollup"},
		{ID: retrain, Cron: "@daily", Workflow: "RetrainModels", TaskQueue: "shoppulse-test", Note: "retrain"},
	}

	t.Run("apply creates", func(t *testing.T) {
		res, err := Apply(ctx, sc, specs, opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Created: []string{rollup, retrain}})

		d := describe(ctx, t, sc, rollup)
		action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction)
		if !ok {
			t.Fatalf("action is %T, want *client.ScheduleWorkflowAction", d.Schedule.Action)
		}
		if action.Workflow != "RevenueRollupHourly" || action.TaskQueue != "shoppulse-test" || action.ID != rollup+"-run" {
			t.Fatalf("action = workflow %v, queue %q, id %q", action.Workflow, action.TaskQueue, action.ID)
		}
		if memoString(action.Memo[MemoKey]) != specs[0].hash() {
			t.Fatalf("action memo %s = %v, want the spec hash", MemoKey, action.Memo[MemoKey])
		}
		if p := d.Schedule.Policy; p.Overlap != Overlap || p.CatchupWindow != CatchupWindow {
			t.Fatalf("policy = %+v, want overlap %v, catchup %v", p, Overlap, CatchupWindow)
		}
		if d.Schedule.State.Paused || d.Schedule.State.Note != "rollup" {
			t.Fatalf("state = %+v, want running with note %q", d.Schedule.State, "rollup")
		}
		if tz := d.Schedule.Spec.TimeZoneName; tz != TimeZone {
			t.Fatalf("time zone = %q, want %q", tz, TimeZone)
		}
		assertNextRuns(t, d, 3, 5)
		assertNextRuns(t, describe(ctx, t, sc, retrain), 0, 0)
	})

	t.Run("apply again changes nothing", func(t *testing.T) {
		before := describe(ctx, t, sc, rollup)
		res, err := Apply(ctx, sc, specs, opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Unchanged: []string{rollup, retrain}})
		after := describe(ctx, t, sc, rollup)
		if !after.Info.LastUpdateAt.Equal(before.Info.LastUpdateAt) {
			t.Fatalf("LastUpdateAt moved from %s to %s on a no-op apply", before.Info.LastUpdateAt, after.Info.LastUpdateAt)
		}
		if !slices.EqualFunc(after.Info.NextActionTimes, before.Info.NextActionTimes, time.Time.Equal) {
			t.Fatalf("next action times changed on a no-op apply")
		}
	})

	t.Run("dry run reports without changing", func(t *testing.T) {
		changed := slices.Clone(specs)
		changed[0].Cron = "17 4 * * *"
		changed = append(changed, Spec{ID: prefix + "late", Cron: "@hourly", Workflow: "W", TaskQueue: "q"})
		res, err := Apply(ctx, sc, changed, ApplyOptions{Prefix: prefix, DryRun: true})
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Created: []string{prefix + "late"}, Updated: []string{rollup}, Unchanged: []string{retrain}})
		assertNextRuns(t, describe(ctx, t, sc, rollup), 3, 5)
		if _, err := sc.GetHandle(ctx, prefix+"late").Describe(ctx); !isNotFound(err) {
			t.Fatalf("dry run created %s (describe error %v)", prefix+"late", err)
		}
	})

	t.Run("changed cron updates", func(t *testing.T) {
		specs[0].Cron = "17 4 * * *"
		res, err := Apply(ctx, sc, specs, opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Updated: []string{rollup}, Unchanged: []string{retrain}})
		assertNextRuns(t, describe(ctx, t, sc, rollup), 4, 17)

		res, err = Apply(ctx, sc, specs, opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Unchanged: []string{rollup, retrain}})
	})

	t.Run("pause flag pauses and unpauses", func(t *testing.T) {
		specs[1].Paused = true
		res, err := Apply(ctx, sc, specs, opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Updated: []string{retrain}, Unchanged: []string{rollup}})
		if d := describe(ctx, t, sc, retrain); !d.Schedule.State.Paused {
			t.Fatalf("state = %+v, want paused", d.Schedule.State)
		}

		specs[1].Paused = false
		res, err = Apply(ctx, sc, specs, opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Updated: []string{retrain}, Unchanged: []string{rollup}})
		if d := describe(ctx, t, sc, retrain); d.Schedule.State.Paused || d.Schedule.State.Note != "retrain" {
			t.Fatalf("state = %+v, want running with note %q", d.Schedule.State, "retrain")
		}
	})

	t.Run("pause by hand is undone", func(t *testing.T) {
		if err := sc.GetHandle(ctx, rollup).Pause(ctx, client.SchedulePauseOptions{Note: "paused by an operator"}); err != nil {
			t.Fatalf("pause: %v", err)
		}
		res, err := Apply(ctx, sc, specs, opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Updated: []string{rollup}, Unchanged: []string{retrain}})
		if d := describe(ctx, t, sc, rollup); d.Schedule.State.Paused || d.Schedule.State.Note != "rollup" {
			t.Fatalf("state = %+v, want running with note %q", d.Schedule.State, "rollup")
		}
	})

	t.Run("removed spec is deleted", func(t *testing.T) {
		waitListed(ctx, t, sc, prefix, rollup, retrain)
		res, err := Apply(ctx, sc, specs[:1], opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Unchanged: []string{rollup}, Deleted: []string{retrain}})
		if _, err := sc.GetHandle(ctx, retrain).Describe(ctx); !isNotFound(err) {
			t.Fatalf("describe deleted schedule: err = %v, want not found", err)
		}
		waitListed(ctx, t, sc, prefix, rollup)

		res, err = Apply(ctx, sc, specs[:1], opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Unchanged: []string{rollup}})
	})

	t.Run("invalid spec sends nothing", func(t *testing.T) {
		bad := []Spec{
			specs[0],
			{ID: prefix + "late", Cron: "@hourly", Workflow: "W", TaskQueue: "q"},
			{ID: prefix + "broken", Cron: "61 * * * *", Workflow: "W", TaskQueue: "q"},
		}
		_, err := Apply(ctx, sc, bad, opts)
		if err == nil || !strings.Contains(err.Error(), `schedules[2].cron "61 * * * *"`) {
			t.Fatalf("Apply = %v, want an error naming schedules[2].cron", err)
		}
		outside := []Spec{specs[0], {ID: "elsewhere-late", Cron: "@hourly", Workflow: "W", TaskQueue: "q"}}
		_, err = Apply(ctx, sc, outside, opts)
		if err == nil || !strings.Contains(err.Error(), `schedules[1].id "elsewhere-late": must start with the prefix`) {
			t.Fatalf("Apply = %v, want an error naming schedules[1].id", err)
		}
		if _, err := sc.GetHandle(ctx, prefix+"late").Describe(ctx); !isNotFound(err) {
			t.Fatalf("invalid apply created %s (describe error %v)", prefix+"late", err)
		}
		time.Sleep(time.Second) // give visibility time to show a wrongly created schedule
		if got := listIDs(ctx, t, sc, prefix); !slices.Equal(got, []string{rollup}) {
			t.Fatalf("schedules under %q = %v, want only %s", prefix, got, rollup)
		}
	})

	t.Run("time zone, jitter, overlap, catchup and input reach Temporal", func(t *testing.T) {
		full := specs[0]
		full.TimeZone, full.Jitter, full.Overlap, full.CatchupWindow = "Asia/Tokyo", 90*time.Second, "buffer_one", 6*time.Hour
		full.Input = `{"hour":"2026-11-26T13:00:00Z","watermark_wait":"30s"}`
		res, err := Apply(ctx, sc, []Spec{full}, opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Updated: []string{rollup}})
		d := describe(ctx, t, sc, rollup)
		if d.Schedule.Spec.TimeZoneName != "Asia/Tokyo" || d.Schedule.Spec.Jitter != 90*time.Second {
			t.Fatalf("spec = %+v", d.Schedule.Spec)
		}
		if p := d.Schedule.Policy; p.Overlap != enumspb.SCHEDULE_OVERLAP_POLICY_BUFFER_ONE || p.CatchupWindow != 6*time.Hour {
			t.Fatalf("policy = %+v", p)
		}
		action := d.Schedule.Action.(*client.ScheduleWorkflowAction)
		if len(action.Args) != 1 {
			t.Fatalf("action args = %v, want the input", action.Args)
		}
		var in map[string]string
		if err := converter.GetDefaultDataConverter().FromPayload(action.Args[0].(*commonpb.Payload), &in); err != nil || in["watermark_wait"] != "30s" {
			t.Fatalf("input arg = %v (%v)", in, err)
		}
		// specs[0] fires at 04:17; in Tokyo (UTC+9, no daylight saving) that is 19:17 UTC.
		for _, at := range d.Info.NextActionTimes {
			if u := at.UTC(); u.Hour() != 19 || u.Minute() < 17 || u.Minute() > 18 {
				t.Fatalf("next action at %s, want 19:17 UTC plus up to 90s of jitter", u)
			}
		}
		res, err = Apply(ctx, sc, []Spec{full}, opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Unchanged: []string{rollup}})
		// Back to the plain spec for the tests that follow.
		if res, err = Apply(ctx, sc, specs[:1], opts); err != nil || len(res.Updated) != 1 {
			t.Fatalf("Apply back = %+v, %v", res, err)
		}
	})

	t.Run("schedule outside the prefix is never touched", func(t *testing.T) {
		after := describe(ctx, t, sc, foreign)
		if !after.Info.LastUpdateAt.Equal(foreignBefore.Info.LastUpdateAt) || !after.Schedule.State.Paused {
			t.Fatalf("foreign schedule changed: before %+v, after %+v", foreignBefore.Info, after.Info)
		}
	})

	t.Run("empty specs delete everything under the prefix", func(t *testing.T) {
		res, err := Apply(ctx, sc, nil, opts)
		if err != nil {
			t.Fatalf("Apply: %v", err)
		}
		assertResult(t, res, Result{Deleted: []string{rollup}})
		waitListed(ctx, t, sc, prefix)
		describe(ctx, t, sc, foreign)
	})
}
