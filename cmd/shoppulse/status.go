package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	enums "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/workflows"
)

func newStatusCmd(a *app) *cobra.Command {
	var asJSON bool
	var alerts int
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the pipeline: lag per partition, last batch per stream, schedules and their last runs, open alerts",
		Long: `Reads the stored offsets from PostgreSQL and the end offsets from Kafka (lag =
end - committed, per partition), each stream supervisor and each configured
schedule with its last run from Temporal, and the open alerts. A service that
cannot be reached is reported in "errors" and the rest is still shown; the
exit status is then 1.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep := a.status(cmd.Context(), alerts)
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.writeText(out)
			}
			if len(rep.Errors) > 0 {
				return fmt.Errorf("status incomplete: %s", strings.Join(rep.Errors, "; "))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().IntVar(&alerts, "alerts", 10, "newest open alerts to list")
	return cmd
}

type statusReport struct {
	At        time.Time        `json:"at"`
	Streams   []streamStatus   `json:"streams"`
	Schedules []scheduleStatus `json:"schedules"`
	Alerts    alertsStatus     `json:"alerts"`
	Errors    []string         `json:"errors,omitempty"`
}

type streamStatus struct {
	Topic string `json:"topic"`
	// Supervisor is the status of the topic's supervisor workflow
	// (Running, Terminated, ...), or "not found".
	Supervisor  string            `json:"supervisor"`
	Lag         int64             `json:"lag"`
	LastBatchAt *time.Time        `json:"last_batch_at"`
	Partitions  []partitionStatus `json:"partitions"`
}

type partitionStatus struct {
	Partition int   `json:"partition"`
	Committed int64 `json:"committed"`
	// End is the partition's end offset in Kafka; -1 when Kafka did not answer.
	End         int64      `json:"end"`
	Lag         int64      `json:"lag"`
	Watermark   *time.Time `json:"watermark"`
	LastBatchAt time.Time  `json:"last_batch_at"`
	Owner       string     `json:"owner"`
}

type scheduleStatus struct {
	ID       string     `json:"id"`
	Workflow string     `json:"workflow"`
	Cron     string     `json:"cron"`
	Paused   bool       `json:"paused"`
	NextRun  *time.Time `json:"next_run"`
	LastRun  *runStatus `json:"last_run"`
	// Missing: configured but not on the server (run `shoppulse schedules apply`).
	Missing bool `json:"missing,omitempty"`
}

type runStatus struct {
	WorkflowID  string     `json:"workflow_id"`
	RunID       string     `json:"run_id"`
	ScheduledAt time.Time  `json:"scheduled_at"`
	StartedAt   time.Time  `json:"started_at"`
	Status      string     `json:"status"`
	ClosedAt    *time.Time `json:"closed_at"`
}

type alertsStatus struct {
	Open   int                `json:"open"`
	ByType []store.AlertCount `json:"by_type"`
	Latest []alertLine        `json:"latest"`
}

type alertLine struct {
	ID       int64     `json:"id"`
	Type     string    `json:"type"`
	Entity   string    `json:"entity"`
	Severity string    `json:"severity"`
	OpenedAt time.Time `json:"opened_at"`
}

// statusTimeout bounds each service's part of the report, so one service
// down does not hang the command.
const statusTimeout = 15 * time.Second

// status gathers the report. Each service's failure is recorded in Errors;
// the parts that could be read are filled in.
func (a *app) status(ctx context.Context, alertLimit int) statusReport {
	rep := statusReport{At: time.Now().UTC(), Streams: []streamStatus{}, Schedules: []scheduleStatus{}}
	fail := func(what string, err error) { rep.Errors = append(rep.Errors, what+": "+err.Error()) }
	k := a.cfg.Kafka
	topics := []string{k.OrdersTopic, k.InventoryTopic, k.ClickstreamTopic, k.PaymentsTopic}

	dctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	var stored []store.StoredOffset
	db, err := a.openDB(dctx)
	if err == nil {
		defer db.Close()
		stored, err = db.StoredOffsets(dctx)
	}
	if err != nil {
		fail("postgres", err)
	}
	byTopic := map[string][]store.StoredOffset{}
	for _, s := range stored {
		byTopic[s.Topic] = append(byTopic[s.Topic], s)
	}
	for _, topic := range topics {
		st := streamStatus{Topic: topic, Partitions: []partitionStatus{}}
		parts := byTopic[topic]
		var end map[int]int64
		if len(parts) > 0 {
			kctx, cancel := context.WithTimeout(ctx, statusTimeout)
			end, err = a.kafka().EndOffsets(kctx, topic, len(parts))
			cancel()
			if err != nil {
				fail("kafka "+topic, err)
			}
		}
		for _, p := range parts {
			ps := partitionStatus{Partition: p.Partition, Committed: p.NextOffset, End: -1, LastBatchAt: p.LastBatchAt, Owner: p.Owner}
			if !p.Watermark.IsZero() {
				w := p.Watermark
				ps.Watermark = &w
			}
			if e, ok := end[p.Partition]; ok {
				ps.End, ps.Lag = e, max(e-p.NextOffset, 0)
				st.Lag += ps.Lag
			}
			if st.LastBatchAt == nil || p.LastBatchAt.After(*st.LastBatchAt) {
				t := p.LastBatchAt
				st.LastBatchAt = &t
			}
			st.Partitions = append(st.Partitions, ps)
		}
		rep.Streams = append(rep.Streams, st)
	}

	if db != nil {
		counts, latest, err := db.OpenAlerts(dctx, alertLimit)
		if err != nil {
			fail("postgres", err)
		}
		rep.Alerts.ByType = counts
		if rep.Alerts.ByType == nil {
			rep.Alerts.ByType = []store.AlertCount{}
		}
		for _, c := range counts {
			rep.Alerts.Open += c.Open
		}
		rep.Alerts.Latest = []alertLine{}
		for _, al := range latest {
			rep.Alerts.Latest = append(rep.Alerts.Latest, alertLine{ID: al.ID, Type: al.Type, Entity: al.Entity, Severity: al.Severity, OpenedAt: al.OpenedAt})
		}
	}

	tctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	tc, err := a.dialTemporal(tctx)
	if err != nil {
		fail("temporal", err)
		for i := range rep.Streams {
			rep.Streams[i].Supervisor = "unknown"
		}
		return rep
	}
	defer tc.Close()
	for i := range rep.Streams {
		rep.Streams[i].Supervisor = workflowStatus(tctx, tc, workflows.SupervisorWorkflowID(rep.Streams[i].Topic), "", &rep)
	}
	for _, s := range a.cfg.Schedules {
		rep.Schedules = append(rep.Schedules, scheduleOf(tctx, tc, s.ID, s.Workflow, s.Cron, &rep))
	}
	return rep
}

// workflowStatus is a workflow's status name, "not found", or "unknown"
// with the error recorded.
func workflowStatus(ctx context.Context, tc client.Client, id, runID string, rep *statusReport) string {
	st, _, err := describeWorkflowRun(ctx, tc, id, runID)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return "not found"
		}
		rep.Errors = append(rep.Errors, fmt.Sprintf("temporal: describe %s: %v", id, err))
		return "unknown"
	}
	return st
}

func describeWorkflowRun(ctx context.Context, tc client.Client, id, runID string) (string, *time.Time, error) {
	d, err := tc.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return "", nil, err
	}
	info := d.GetWorkflowExecutionInfo()
	status := info.GetStatus().String() // Running, Completed, Failed, ... as the UI shows them
	if ct := info.GetCloseTime(); ct != nil && info.GetStatus() != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t := ct.AsTime().UTC()
		return status, &t, nil
	}
	return status, nil, nil
}

func scheduleOf(ctx context.Context, tc client.Client, id, wf, cron string, rep *statusReport) scheduleStatus {
	out := scheduleStatus{ID: id, Workflow: wf, Cron: cron}
	d, err := tc.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			out.Missing = true
			return out
		}
		rep.Errors = append(rep.Errors, fmt.Sprintf("temporal: describe schedule %s: %v", id, err))
		return out
	}
	out.Paused = d.Schedule.State != nil && d.Schedule.State.Paused
	if len(d.Info.NextActionTimes) > 0 {
		t := d.Info.NextActionTimes[0].UTC()
		out.NextRun = &t
	}
	if n := len(d.Info.RecentActions); n > 0 {
		last := d.Info.RecentActions[n-1]
		run := &runStatus{ScheduledAt: last.ScheduleTime.UTC(), StartedAt: last.ActualTime.UTC(), Status: "unknown"}
		if r := last.StartWorkflowResult; r != nil {
			run.WorkflowID, run.RunID = r.WorkflowID, r.FirstExecutionRunID
			st, closed, err := describeWorkflowRun(ctx, tc, r.WorkflowID, r.FirstExecutionRunID)
			if err != nil {
				var nf *serviceerror.NotFound
				if !errors.As(err, &nf) { // a run past retention is simply gone
					rep.Errors = append(rep.Errors, fmt.Sprintf("temporal: describe run %s of schedule %s: %v", r.WorkflowID, id, err))
				}
			} else {
				run.Status, run.ClosedAt = st, closed
			}
		}
		out.LastRun = run
	}
	return out
}

func (r statusReport) writeText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	ts := func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	ago := func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return "-"
		}
		return r.At.Sub(*t).Round(time.Second).String() + " ago"
	}
	fmt.Fprintf(tw, "ShopPulse status at %s\n\nSTREAMS\n", r.At.Format(time.RFC3339))
	fmt.Fprintln(tw, "topic\tsupervisor\tlag\tlast batch\t")
	for _, s := range r.Streams {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t\n", s.Topic, s.Supervisor, s.Lag, ago(s.LastBatchAt))
	}
	fmt.Fprintln(tw, "\nPARTITIONS\ntopic\tpartition\tcommitted\tend\tlag\twatermark\tlast batch\towner")
	for _, s := range r.Streams {
		for _, p := range s.Partitions {
			end := fmt.Sprint(p.End)
			if p.End < 0 {
				end = "?"
			}
			lb := p.LastBatchAt
			fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%s\t%s\t%s\n", s.Topic, p.Partition, p.Committed, end, p.Lag, ts(p.Watermark), ago(&lb), p.Owner)
		}
	}
	fmt.Fprintln(tw, "\nSCHEDULES\nid\tworkflow\tcron\tstate\tlast run\tlast status\tnext run")
	for _, s := range r.Schedules {
		state := "active"
		switch {
		case s.Missing:
			state = "missing (shoppulse schedules apply)"
		case s.Paused:
			state = "paused"
		}
		last, status := "-", "-"
		if s.LastRun != nil {
			last, status = ago(&s.LastRun.StartedAt), s.LastRun.Status
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.Workflow, s.Cron, state, last, status, ts(s.NextRun))
	}
	fmt.Fprintf(tw, "\nOPEN ALERTS: %d\n", r.Alerts.Open)
	for _, c := range r.Alerts.ByType {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t\n", c.Type, c.Severity, c.Open)
	}
	if len(r.Alerts.Latest) > 0 {
		fmt.Fprintln(tw, "id\ttype\tseverity\tentity\topened")
		for _, al := range r.Alerts.Latest {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", al.ID, al.Type, al.Severity, al.Entity, al.OpenedAt.Format(time.RFC3339))
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintln(tw, "\nERRORS")
		for _, e := range r.Errors {
			fmt.Fprintln(tw, "  "+e)
		}
	}
	tw.Flush()
}
