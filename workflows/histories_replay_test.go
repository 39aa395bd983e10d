package workflows_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/workers"
	"github.com/shoppulse/shoppulse/workflows"
)

// replayRegistry registers the worker's workflows with a replayer, as
// workers.Register does for a real worker, and notes their names;
// activities are not needed to replay.
type replayRegistry struct {
	worker.Registry // unused methods: workers.Register calls none of them
	replayer        worker.WorkflowReplayer
	types           []string
	// inputs is each workflow's input type.
	inputs map[string]reflect.Type
}

func (r *replayRegistry) RegisterWorkflowWithOptions(w any, o workflow.RegisterOptions) {
	r.replayer.RegisterWorkflowWithOptions(w, o)
	r.types = append(r.types, o.Name)
	if r.inputs == nil {
		r.inputs = map[string]reflect.Type{}
	}
	if ft := reflect.TypeOf(w); ft.NumIn() > 1 {
		r.inputs[o.Name] = ft.In(1)
	}
}

func (r *replayRegistry) RegisterActivityWithOptions(any, activity.RegisterOptions) {}

// newReplayer returns a replayer with every workflow the worker registers,
// and their names, sorted.
func newReplayer(t *testing.T) (worker.WorkflowReplayer, []string) {
	t.Helper()
	reg := &replayRegistry{replayer: worker.NewWorkflowReplayer()}
	workers.Register(reg, allDeps())
	slices.Sort(reg.types)
	return reg.replayer, reg.types
}

// allDeps has every dependency set, so every workflow is registered.
func allDeps() workers.Deps {
	return workers.Deps{
		Stream: &activities.Stream{}, Rollup: &activities.Rollup{}, Partitions: &activities.Partitions{},
		Alerts: &activities.Alerts{}, Anomalies: &activities.Anomalies{}, BatchAlerts: &activities.BatchAlerts{},
		Erasure: &activities.Erasure{}, Quality: &activities.Quality{}, Customers: &activities.Customers{},
		Fraud: &activities.FraudTraining{}, Forecasts: &activities.Forecasts{},
		Replenishment: &activities.Replenishment{}, Pricing: &activities.Pricing{},
	}
}

func loadManifest(t *testing.T) []recordedHistory {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(historiesDir, manifestFile))
	if err != nil {
		t.Fatalf("read the histories' manifest (record them with SHOPPULSE_RECORD_HISTORIES=1, see histories_record_test.go): %v", err)
	}
	var m []recordedHistory
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", manifestFile, err)
	}
	return m
}

func loadHistory(t *testing.T, file string) *historypb.History {
	t.Helper()
	f, err := os.Open(filepath.Join(historiesDir, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return h
}

// quietLogger drops the SDK's logs: a replay's failure is its error, and the
// recorder's worker would log every activity.
func quietLogger() log.Logger { return log.NewStructuredLogger(slog.New(slog.DiscardHandler)) }

func replay(r worker.WorkflowReplayer, h recordedHistory, hist *historypb.History) error {
	return r.ReplayWorkflowHistoryWithOptions(quietLogger(), hist, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: h.WorkflowID, RunID: h.RunID},
	})
}

// TestReplay_RecordedHistories replays the history recorded of every
// workflow type the worker registers against the current code: a change
// that would break a running workflow (a command added, removed or
// reordered without workflow.GetVersion) fails here.
func TestReplay_RecordedHistories(t *testing.T) {
	replayer, types := newReplayer(t)
	manifest := loadManifest(t)
	var recorded []string
	for _, h := range manifest {
		recorded = append(recorded, h.WorkflowType)
	}
	slices.Sort(recorded)
	for _, typ := range types {
		if !slices.Contains(recorded, typ) {
			t.Errorf("no recorded history of %s: record the histories again (histories_record_test.go)", typ)
		}
	}
	for _, h := range manifest {
		t.Run(h.WorkflowType, func(t *testing.T) {
			if !slices.Contains(types, h.WorkflowType) {
				t.Fatalf("%s is recorded but the worker no longer registers it: drop the history only when no run can be left", h.File)
			}
			hist := loadHistory(t, h.File)
			if got := hist.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName(); got != h.WorkflowType {
				t.Fatalf("%s holds a %s history, the manifest says %s", h.File, got, h.WorkflowType)
			}
			if err := replay(replayer, h, hist); err != nil {
				t.Fatalf("replay %s (%d events): %v", h.File, len(hist.GetEvents()), err)
			}
		})
	}
}

// partitionsReordered is PartitionMaintenance with its two activities
// swapped: what an unversioned edit could do to running workflows.
func partitionsReordered(ctx workflow.Context, in workflows.PartitionsInput) (workflows.PartitionsResult, error) {
	today := workflow.Now(ctx).UTC().Truncate(24 * time.Hour)
	if workflow.GetVersion(ctx, "search-attributes", workflow.DefaultVersion, 1) == 1 {
		_ = workflow.UpsertTypedSearchAttributes(ctx, workflows.SearchPeriod.ValueSet(workflows.PeriodDay(today)))
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 10},
	})
	var res workflows.PartitionsResult
	if in.RetentionDays > 0 && workflow.GetVersion(ctx, "partition-retention", workflow.DefaultVersion, 1) == 1 {
		var dropped activities.DropPartitionsResult
		if err := workflow.ExecuteActivity(actx, activities.NameDropExpiredPartitions, activities.DropPartitionsInput{
			Before: today.AddDate(0, 0, -in.RetentionDays),
		}).Get(ctx, &dropped); err != nil {
			return res, err
		}
		res.Dropped = dropped.Dropped
	}
	err := workflow.ExecuteActivity(actx, activities.NameEnsurePartitions,
		activities.PartitionsInput{From: today, Days: in.DaysAhead + 1}).Get(ctx, &res.PartitionsResult)
	return res, err
}

// The replay test can fail: the partition maintenance history replays
// against the real workflow and not against one whose activities run in
// another order under the same name.
func TestReplay_FailsOnAReorderedWorkflow(t *testing.T) {
	var h recordedHistory
	for _, e := range loadManifest(t) {
		if e.WorkflowType == workflows.NamePartitionMaintenance {
			h = e
		}
	}
	if h.File == "" {
		t.Fatalf("no %s history in the manifest", workflows.NamePartitionMaintenance)
	}
	hist := loadHistory(t, h.File)

	same := worker.NewWorkflowReplayer()
	same.RegisterWorkflowWithOptions(workflows.PartitionMaintenance, workflow.RegisterOptions{Name: workflows.NamePartitionMaintenance})
	if err := replay(same, h, hist); err != nil {
		t.Fatalf("the recorded workflow does not replay against its own code: %v", err)
	}

	changed := worker.NewWorkflowReplayer()
	changed.RegisterWorkflowWithOptions(partitionsReordered, workflow.RegisterOptions{Name: workflows.NamePartitionMaintenance})
	err := replay(changed, h, hist)
	if err == nil {
		t.Fatal("a workflow with its activities reordered replayed the recorded history without error")
	}
	if !strings.Contains(err.Error(), "nondeterministic") && !strings.Contains(err.Error(), "TMPRL1100") {
		t.Fatalf("want a non-determinism error, got %v", err)
	}
	t.Logf("reordered workflow: %v", err)
}

// Histories are kept in the repository and shown in the Temporal UI: their
// payloads (inputs, results, signals, updates, search attributes) carry
// ids, never personal data.
func TestReplay_RecordedHistoriesHoldNoPersonalData(t *testing.T) {
	for _, h := range loadManifest(t) {
		if err := personalDataIn(loadHistory(t, h.File)); err != nil {
			t.Errorf("%s: %v", h.File, err)
		}
	}
}

var personalData = []struct {
	what string
	re   *regexp.Regexp
}{
	{"an email address", regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)},
	{"an IPv4 address", regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}\b`)},
	{"a personal field", regexp.MustCompile(`"(?i:email|ip|device_id|card_fingerprint|phone|address|first_name|last_name|full_name|billing_address|shipping_address)"\s*:\s*"[^"]`)},
}

// personalDataIn returns an error naming the first payload of h that looks
// like it holds personal data.
func personalDataIn(h *historypb.History) error {
	for _, ev := range h.GetEvents() {
		var found error
		payloadsOf(ev.ProtoReflect(), func(p *commonpb.Payload) {
			if found != nil {
				return
			}
			for _, pd := range personalData {
				if m := pd.re.Find(p.GetData()); m != nil {
					found = fmt.Errorf("event %d (%s) carries %s: %q", ev.GetEventId(), ev.GetEventType(), pd.what, m)
					return
				}
			}
		})
		if found != nil {
			return found
		}
	}
	return nil
}

// payloadsOf calls f with every Payload in m, however deeply nested.
func payloadsOf(m protoreflect.Message, f func(*commonpb.Payload)) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		f(p)
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList():
			if fd.Message() != nil {
				for i := range v.List().Len() {
					payloadsOf(v.List().Get(i).Message(), f)
				}
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					payloadsOf(mv.Message(), f)
					return true
				})
			}
		case fd.Message() != nil:
			payloadsOf(v.Message(), f)
		}
		return true
	})
}
