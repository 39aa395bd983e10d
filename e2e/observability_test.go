package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.yaml.in/yaml/v3"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/workflows"
)

// TestObservability_DashboardsMetricsLogsSearchAndStatus runs a real worker
// (JSON logs, /metrics on a known port) over orders, poison messages and
// stock movements, runs Temporal workflows through it, and then checks what
// an operator relies on:
//   - every PromQL query of deploy/grafana/dashboards names metrics (and
//     labels) present in the worker's real /metrics scrape, ShopPulse's and
//     the Temporal SDK's;
//   - every SQL panel query runs, as the read-only role shoppulse_grafana,
//     against the migrated schema, time series with a time column;
//   - every log line of the worker, Temporal's own included, is JSON;
//   - the rollup workflow is found by its ShopPulsePeriod search attribute;
//   - `shoppulse status --json` and its text form report the lag, the last
//     batches, a schedule's last run and the open alerts.
func TestObservability_DashboardsMetricsLogsSearchAndStatus(t *testing.T) {
	h := newHarness(t)
	ctx := testenv.Context(t, 8*time.Minute)
	metricsAddr := freeAddr(t)
	h.env = append(h.env, "SHOPPULSE_METRICS_ADDR="+metricsAddr, "SHOPPULSE_LOG_FORMAT=json", "SHOPPULSE_LOG_LEVEL=info")

	// Orders, two poison messages (dead letters) and stock that runs out
	// (open alerts).
	from := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)
	orders := simulate(11, 400, from)
	h.produce(ctx, orders)
	raw := ingest.NewProducer(ingest.ProducerConfig{Brokers: h.brokers, Topic: h.topic})
	for i, b := range [][]byte{[]byte(`{"not":"an event"`), []byte(`{"id":"x","type":"page_view"}`)} {
		if err := raw.ProduceRaw(ctx, []byte(fmt.Sprint("poison-", i)), b); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()
	inv := ingest.NewProducer(ingest.ProducerConfig{Brokers: h.brokers, Topic: h.invTopic})
	for i, d := range []int64{8, -8} {
		ev := &events.InventoryAdjusted{
			Header:    events.Header{EventID: fmt.Sprint("obs-mv-", i), Type: events.TypeInventoryAdjusted, SchemaVersion: 1, EventTime: from.Add(time.Duration(i) * time.Minute)},
			ProductID: "P-OBS", WarehouseID: "W1", Delta: d, Reason: "sale",
		}
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := inv.ProduceRaw(ctx, ev.Key(), b); err != nil {
			t.Fatal(err)
		}
	}
	inv.Close()

	logs := &syncBuffer{}
	worker := exec.Command(h.bin, "worker")
	worker.Env = h.env
	worker.Stdout, worker.Stderr = logs, logs
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if worker.ProcessState == nil {
			_ = worker.Process.Signal(syscall.SIGTERM)
			_ = worker.Wait()
		}
	})
	h.waitForEnd(ctx)
	h.waitForTopicEnd(ctx, h.invTopic)

	// A workflow that completes (with activities) and one that fails, so the
	// SDK's workflow and activity metrics exist.
	hour := from
	run, err := h.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: h.queue},
		workflows.NameRevenueRollupHourly, workflows.RollupInput{Hour: hour, Topic: h.topic, WatermarkWait: workflows.Duration(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, nil); err != nil {
		t.Fatalf("rollup: %v", err)
	}
	bad, err := h.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: h.queue, ID: testenv.Name("obs-invalid-supervisor")},
		workflows.NameStreamSupervisor, workflows.SupervisorInput{Topic: h.topic})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Get(ctx, nil); err == nil {
		t.Fatal("a supervisor without partitions succeeded")
	}

	t.Run("search attributes", func(t *testing.T) {
		query := fmt.Sprintf("%s = '%s' AND TaskQueue = '%s'", workflows.SearchPeriod.GetName(), workflows.PeriodHour(hour), h.queue)
		for {
			resp, err := h.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query})
			if err != nil {
				t.Fatalf("list workflows %q: %v", query, err)
			}
			if len(resp.Executions) == 1 && resp.Executions[0].GetExecution().GetRunId() == run.GetRunID() {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("query %q never found run %s: %v", query, run.GetRunID(), resp.Executions)
			case <-time.After(300 * time.Millisecond):
			}
		}
	})

	dashboards := loadDashboards(t)
	t.Run("promql", func(t *testing.T) {
		var exprs []string
		for _, p := range dashboards.panels {
			for _, tg := range p.Targets {
				if p.Datasource.UID == promUID && tg.Expr != "" {
					exprs = append(exprs, tg.Expr)
				}
			}
		}
		if len(exprs) < 20 {
			t.Fatalf("only %d PromQL queries in the dashboards", len(exprs))
		}
		// The SDK reports every second: scrape until every name is there
		// or the wait is over, then report what is missing.
		var problems []string
		deadline := time.Now().Add(30 * time.Second)
		for {
			scrape := scrapeMetrics(t, "http://"+metricsAddr+"/metrics")
			problems = problems[:0]
			for _, e := range exprs {
				problems = append(problems, scrape.check(e)...)
			}
			if len(problems) == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		for _, p := range problems {
			t.Error(p)
		}
	})

	t.Run("sql as shoppulse_grafana", func(t *testing.T) {
		n, withRows := 0, map[string]bool{}
		for _, p := range dashboards.panels {
			if p.Datasource.UID != pgUID {
				continue
			}
			for _, tg := range p.Targets {
				n++
				sql, err := expandGrafanaMacros(tg.RawSQL)
				if err != nil {
					t.Errorf("panel %q: %v", p.Title, err)
					continue
				}
				cols, rows, err := queryAsGrafana(ctx, h.schema.DB, sql)
				if err != nil {
					t.Errorf("panel %q of %s: %v\n%s", p.Title, p.file, err, sql)
					continue
				}
				if tg.Format == "time_series" && !slices.Contains(cols, "time") {
					t.Errorf("panel %q is a time series without a time column: %v", p.Title, cols)
				}
				withRows[p.Title] = rows > 0
			}
		}
		if n < 15 {
			t.Fatalf("only %d SQL queries in the dashboards", n)
		}
		// The data this test produced shows up where it belongs.
		for _, title := range []string{"Revenue per minute", "Orders per minute", "Top products", "Open stock alerts", "Dead letters by reason (PostgreSQL)", "Stored offsets and watermarks (PostgreSQL)"} {
			if !withRows[title] {
				t.Errorf("panel %q returned no rows after the test's events (panels with rows: %v)", title, withRows)
			}
		}
	})

	t.Run("status", func(t *testing.T) { checkStatus(t, ctx, h) })

	// Stop the worker so its log is complete, then check every line.
	_ = worker.Process.Signal(syscall.SIGTERM)
	_ = worker.Wait()
	t.Run("json logs", func(t *testing.T) {
		var fromTemporal, lines int
		sc := bufio.NewScanner(bytes.NewReader(logs.Bytes()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			lines++
			var rec map[string]any
			if err := json.Unmarshal(line, &rec); err != nil {
				t.Errorf("log line is not JSON: %s", line)
				continue
			}
			for _, k := range []string{"time", "level", "msg"} {
				if _, ok := rec[k]; !ok {
					t.Errorf("log line without %q: %s", k, line)
				}
			}
			if rec["msg"] == "Started Worker" && rec["TaskQueue"] == h.queue { // the SDK's own line, through the slog bridge
				fromTemporal++
			}
		}
		if lines == 0 || fromTemporal == 0 {
			t.Errorf("%d log lines, %d from the Temporal SDK; want both > 0", lines, fromTemporal)
		}
	})
}

// checkStatus creates a schedule, runs it once, and checks `shoppulse status`
// against the stored state.
func checkStatus(t *testing.T, ctx context.Context, h *harness) {
	schedID := testenv.Name("obs-schedule")
	sh, err := h.temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:     schedID,
		Spec:   client.ScheduleSpec{CronExpressions: []string{"0 0 1 1 *"}},
		Action: &client.ScheduleWorkflowAction{ID: schedID + "-run", Workflow: workflows.NamePartitionMaintenance, TaskQueue: h.queue},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sh.Delete(context.Background()) })
	if err := sh.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatal(err)
	}
	var lastRun string
	for lastRun == "" {
		d, err := sh.Describe(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(d.Info.RecentActions); n > 0 {
			r := d.Info.RecentActions[n-1].StartWorkflowResult
			if err := h.temporal.GetWorkflow(ctx, r.WorkflowID, r.FirstExecutionRunID).Get(ctx, nil); err != nil {
				t.Fatalf("scheduled run: %v", err)
			}
			lastRun = r.FirstExecutionRunID
		}
		select {
		case <-ctx.Done():
			t.Fatal("the triggered schedule never ran")
		case <-time.After(200 * time.Millisecond):
		}
	}
	cfg := filepath.Join(t.TempDir(), "shoppulse.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("schedules:\n  - {id: %s, cron: '0 0 1 1 *', workflow: %s}\n", schedID, workflows.NamePartitionMaintenance)), 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, h.bin, "status", "--json", "--config", cfg)
	cmd.Env = h.env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("status --json: %v\n%s\n%s", err, out, stderr.Bytes())
	}
	var rep struct {
		Streams []struct {
			Topic       string     `json:"topic"`
			Supervisor  string     `json:"supervisor"`
			Lag         int64      `json:"lag"`
			LastBatchAt *time.Time `json:"last_batch_at"`
			Partitions  []struct {
				Partition int   `json:"partition"`
				Committed int64 `json:"committed"`
				End       int64 `json:"end"`
				Lag       int64 `json:"lag"`
			} `json:"partitions"`
		} `json:"streams"`
		Schedules []struct {
			ID      string `json:"id"`
			LastRun *struct {
				RunID  string `json:"run_id"`
				Status string `json:"status"`
			} `json:"last_run"`
		} `json:"schedules"`
		Alerts struct {
			Open   int `json:"open"`
			Latest []struct {
				Entity string `json:"entity"`
			} `json:"latest"`
		} `json:"alerts"`
		Errors []string `json:"errors"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("status --json is not JSON: %v\n%s", err, out)
	}
	if len(rep.Errors) > 0 {
		t.Errorf("status errors: %v", rep.Errors)
	}
	var orders, inventory bool
	for _, s := range rep.Streams {
		switch s.Topic {
		case h.topic, h.invTopic:
			orders = orders || s.Topic == h.topic
			inventory = inventory || s.Topic == h.invTopic
			if s.Supervisor != "Running" || s.Lag != 0 || s.LastBatchAt == nil || len(s.Partitions) != partitions {
				t.Errorf("stream %s: supervisor %q, lag %d, last batch %v, %d partitions; want Running, 0, a time, %d",
					s.Topic, s.Supervisor, s.Lag, s.LastBatchAt, len(s.Partitions), partitions)
			}
		}
	}
	if !orders || !inventory {
		t.Errorf("status lacks the orders or inventory stream: %+v", rep.Streams)
	}
	if len(rep.Schedules) != 1 || rep.Schedules[0].ID != schedID || rep.Schedules[0].LastRun == nil ||
		rep.Schedules[0].LastRun.RunID != lastRun || rep.Schedules[0].LastRun.Status != "Completed" {
		t.Errorf("schedules: %+v; want %s with its last run %s Completed", rep.Schedules, schedID, lastRun)
	}
	var open int
	if err := h.schema.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM alerts WHERE resolved_at IS NULL`).Scan(&open); err != nil {
		t.Fatal(err)
	}
	stockout := false // the rollup may raise its own alert beside it
	for _, a := range rep.Alerts.Latest {
		stockout = stockout || a.Entity == "P-OBS/W1"
	}
	if open == 0 || rep.Alerts.Open != open || len(rep.Alerts.Latest) != open || !stockout {
		t.Errorf("alerts: status says %d open (%+v), the database %d; want the stockout of P-OBS/W1", rep.Alerts.Open, rep.Alerts.Latest, open)
	}

	// The text form carries the same facts.
	cmd = exec.CommandContext(ctx, h.bin, "status", "--config", cfg)
	cmd.Env = h.env
	text, err := cmd.Output()
	if err != nil {
		t.Fatalf("status: %v\n%s", err, text)
	}
	for _, want := range []string{h.topic, h.invTopic, schedID, "Completed", fmt.Sprintf("OPEN ALERTS: %d", open), "P-OBS/W1"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("status text lacks %q:\n%s", want, text)
		}
	}
}

const (
	promUID = "shoppulse-prometheus"
	pgUID   = "shoppulse-postgres"
)

type panel struct {
	file       string
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr   string `json:"expr"`
		RawSQL string `json:"rawSql"`
		Format string `json:"format"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

type dashboardSet struct{ panels []panel }

// loadDashboards reads every dashboard and checks that the provisioning
// points Grafana at them and at datasources with the uids they use.
func loadDashboards(t *testing.T) dashboardSet {
	t.Helper()
	root := filepath.Join("..", "deploy", "grafana")
	var ds struct {
		Datasources []struct {
			UID, Type, User string
			JSONData        map[string]any `yaml:"jsonData"`
		} `yaml:"datasources"`
	}
	readYAML(t, filepath.Join(root, "provisioning", "datasources", "shoppulse.yml"), &ds)
	types := map[string]string{}
	for _, d := range ds.Datasources {
		types[d.UID] = d.Type
		if d.Type == "grafana-postgresql-datasource" && d.User != store.GrafanaRole {
			t.Errorf("the PostgreSQL datasource logs in as %q, want the read-only %s", d.User, store.GrafanaRole)
		}
	}
	if types[promUID] != "prometheus" || types[pgUID] != "grafana-postgresql-datasource" {
		t.Fatalf("provisioned datasources %v lack %s (prometheus) or %s (postgres)", types, promUID, pgUID)
	}
	var prov struct {
		Providers []struct {
			Options struct{ Path string } `yaml:"options"`
		} `yaml:"providers"`
	}
	readYAML(t, filepath.Join(root, "provisioning", "dashboards", "shoppulse.yml"), &prov)
	if len(prov.Providers) != 1 || prov.Providers[0].Options.Path != "/etc/grafana/dashboards" {
		t.Fatalf("dashboard provider %+v does not load /etc/grafana/dashboards (docker-compose.yml mounts deploy/grafana/dashboards there)", prov)
	}

	files, err := filepath.Glob(filepath.Join(root, "dashboards", "*.json"))
	if err != nil || len(files) < 3 {
		t.Fatalf("dashboards: %v %v", files, err)
	}
	var set dashboardSet
	uids := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d struct {
			UID    string  `json:"uid"`
			Title  string  `json:"title"`
			Panels []panel `json:"panels"`
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if d.UID == "" || d.Title == "" || uids[d.UID] != "" {
			t.Errorf("%s: uid %q (also in %q), title %q: want a unique uid and a title", f, d.UID, uids[d.UID], d.Title)
		}
		uids[d.UID] = f
		var walk func([]panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				p.file = filepath.Base(f)
				if p.Type != "row" {
					if _, ok := types[p.Datasource.UID]; !ok || types[p.Datasource.UID] != p.Datasource.Type {
						t.Errorf("%s: panel %q uses datasource %+v, not a provisioned one", f, p.Title, p.Datasource)
					}
					if len(p.Targets) == 0 {
						t.Errorf("%s: panel %q has no query", f, p.Title)
					}
					set.panels = append(set.panels, p)
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
	}
	return set
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// scrape is one /metrics scrape: each sample name (histograms also as
// _bucket, _sum and _count) with the label names it carries.
type scrape map[string]map[string]bool

func scrapeMetrics(t *testing.T, url string) scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	s := scrape{}
	add := func(name string, labels map[string]bool) {
		if s[name] == nil {
			s[name] = map[string]bool{}
		}
		for l := range labels {
			s[name][l] = true
		}
	}
	for name, f := range fams {
		labels := map[string]bool{}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		add(name, labels)
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			withLE := map[string]bool{"le": true}
			for l := range labels {
				withLE[l] = true
			}
			add(name+"_bucket", withLE)
			add(name+"_sum", labels)
			add(name+"_count", labels)
		case dto.MetricType_SUMMARY:
			add(name+"_sum", labels)
			add(name+"_count", labels)
		}
	}
	return s
}

// check reports, for one PromQL expression, each metric name absent from
// the scrape and each label it filters or groups by that none of its
// metrics carries.
func (s scrape) check(expr string) []string {
	names, matchers, grouping := promRefs(expr)
	if len(names) == 0 {
		return []string{fmt.Sprintf("no metric name found in %q", expr)}
	}
	var out []string
	has := func(metric, label string) bool {
		return label == "job" || label == "instance" || s[metric][label] // job and instance come from the scrape config
	}
	for _, n := range names {
		if _, ok := s[n]; !ok {
			out = append(out, fmt.Sprintf("metric %s (in %q) is not in the /metrics scrape", n, expr))
			continue
		}
		for _, l := range matchers[n] {
			if !has(n, l) {
				out = append(out, fmt.Sprintf("metric %s has no label %s (in %q)", n, l, expr))
			}
		}
	}
	for _, l := range grouping {
		if !slices.ContainsFunc(names, func(n string) bool { return has(n, l) }) {
			out = append(out, fmt.Sprintf("no metric of %q has the label %s it groups by", expr, l))
		}
	}
	return out
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promSelector = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`)
	promIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promKeywords = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true,
		"without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true, "inf": true, "nan": true}
)

// promRefs extracts from a PromQL expression its metric names (sorted), the
// label names matched on each metric's selector, and the labels of by,
// without, on and ignoring clauses. It covers the PromQL the dashboards
// use: selectors, ranges, functions, aggregations and binary operators.
func promRefs(expr string) (names []string, matchers map[string][]string, grouping []string) {
	e := promString.ReplaceAllString(expr, `""`)
	matchers = map[string][]string{}
	e = promSelector.ReplaceAllStringFunc(e, func(sel string) string {
		m := promSelector.FindStringSubmatch(sel)
		for _, part := range strings.Split(m[2], ",") {
			if l := strings.TrimSpace(strings.FieldsFunc(part, func(r rune) bool { return strings.ContainsRune("=!~", r) })[0]); l != "" && m[1] != "" {
				matchers[m[1]] = append(matchers[m[1]], l)
			}
		}
		return m[1]
	})
	e = promRange.ReplaceAllString(e, "")
	for _, m := range promGrouping.FindAllStringSubmatch(e, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				grouping = append(grouping, l)
			}
		}
	}
	e = promGrouping.ReplaceAllString(e, "")
	seen := map[string]bool{}
	for _, loc := range promIdent.FindAllStringIndex(e, -1) {
		id := e[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsRune("$.0123456789", rune(e[loc[0]-1])) { // a variable or a number's exponent
			continue
		}
		if rest := strings.TrimLeft(e[loc[1]:], " \t\n"); strings.HasPrefix(rest, "(") || promKeywords[strings.ToLower(id)] {
			continue // a function or aggregation, or a keyword
		}
		if !seen[id] {
			seen[id] = true
			names = append(names, id)
		}
	}
	sort.Strings(names)
	return names, matchers, grouping
}

var grafanaMacro = regexp.MustCompile(`\$__(\w+)(?:\(([^)]*)\))?`)

// expandGrafanaMacros replaces the Grafana PostgreSQL macros the dashboards
// use with SQL over the last week; any other macro is an error, since it
// would reach Grafana untested.
func expandGrafanaMacros(sql string) (string, error) {
	var bad []string
	out := grafanaMacro.ReplaceAllStringFunc(sql, func(m string) string {
		sm := grafanaMacro.FindStringSubmatch(m)
		switch sm[1] {
		case "timeFilter":
			return fmt.Sprintf("(%s BETWEEN now() - interval '7 days' AND now() + interval '1 day')", sm[2])
		case "timeFrom":
			return "(now() - interval '7 days')"
		case "timeTo":
			return "(now() + interval '1 day')"
		}
		bad = append(bad, m)
		return m
	})
	if len(bad) > 0 {
		return "", fmt.Errorf("untested Grafana macros %v", bad)
	}
	return out, nil
}

// queryAsGrafana runs sql as the read-only role in a transaction that is
// rolled back, and returns its column names and row count.
func queryAsGrafana(ctx context.Context, db *store.DB, sql string) ([]string, int, error) {
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if _, err := tx.Exec(ctx, "SET LOCAL ROLE "+pgx.Identifier{store.GrafanaRole}.Sanitize()); err != nil {
		return nil, 0, err
	}
	rows, err := tx.Query(ctx, sql)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	n := 0
	for rows.Next() {
		n++
	}
	return cols, n, rows.Err()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuffer collects a child's output written from two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

var _ io.Writer = (*syncBuffer)(nil)
