package workflows_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	enums "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/streaming"
	"github.com/shoppulse/shoppulse/workers"
	"github.com/shoppulse/shoppulse/workflows"
)

// Recorded histories: every workflow type the worker registers, run once on
// the Temporal dev server against a real schema, its history saved as the
// JSON `temporal workflow show --output json` prints (what
// worker.WorkflowReplayer reads), with a manifest naming each file's
// workflow type, ID and run ID. TestReplay_RecordedHistories replays them
// against the current code on every `make test`, without services.
//
// Rewrite them after a deliberate change to a workflow (one that is
// versioned with workflow.GetVersion, or that no running workflow can
// meet), with the services of /work/testenv.sh or `make services`:
//
//	SHOPPULSE_RECORD_HISTORIES=1 go test ./workflows -run TestRecordHistories -count=1 -v -timeout 15m
//
// Keep the old files as well when running workflows may still replay them:
// copy them to another name in the manifest first.
const (
	historiesDir = "testdata/histories"
	manifestFile = "manifest.json"
)

// recordedHistory is one manifest entry.
type recordedHistory struct {
	File         string `json:"file"`
	WorkflowType string `json:"workflow_type"`
	WorkflowID   string `json:"workflow_id"`
	RunID        string `json:"run_id"`
	// Note says where a partial history stops.
	Note string `json:"note,omitempty"`
}

// recorder runs workflows on the dev server and keeps their histories.
type recorder struct {
	t       *testing.T
	c       client.Client
	queue   string
	entries []recordedHistory
}

// start starts a workflow under a fixed ID (unique per recording) on the
// recorder's queue.
func (r *recorder) start(ctx context.Context, id, wf string, in any) client.WorkflowRun {
	r.t.Helper()
	run, err := r.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: r.queue, WorkflowExecutionTimeout: 15 * time.Minute,
	}, wf, in)
	if err != nil {
		r.t.Fatalf("start %s: %v", wf, err)
	}
	return run
}

// run starts a workflow, waits for its result and keeps its history.
func (r *recorder) run(ctx context.Context, id, wf string, in, out any) {
	r.t.Helper()
	run := r.start(ctx, id, wf, in)
	if err := run.Get(ctx, out); err != nil {
		r.t.Fatalf("%s %s: %v", wf, id, err)
	}
	r.keep(ctx, wf, id, run.GetRunID(), "")
}

// keep fetches a workflow run's history as it is now and writes it.
func (r *recorder) keep(ctx context.Context, wf, id, runID, note string) {
	r.t.Helper()
	it := r.c.GetWorkflowHistory(ctx, id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			r.t.Fatalf("history of %s %s: %v", wf, id, err)
		}
		h.Events = append(h.Events, ev)
	}
	if err := personalDataIn(h); err != nil {
		r.t.Fatalf("history of %s %s: %v", wf, id, err)
	}
	b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		r.t.Fatal(err)
	}
	file := wf + ".json"
	if err := os.WriteFile(filepath.Join(historiesDir, file), append(b, '\n'), 0o644); err != nil {
		r.t.Fatal(err)
	}
	r.entries = append(r.entries, recordedHistory{File: file, WorkflowType: wf, WorkflowID: id, RunID: runID, Note: note})
	r.t.Logf("%s: %d events -> %s", wf, len(h.Events), file)
}

func (r *recorder) writeManifest() {
	r.t.Helper()
	slices.SortFunc(r.entries, func(a, b recordedHistory) int { return cmpString(a.File, b.File) })
	b, err := json.MarshalIndent(r.entries, "", "  ")
	if err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(historiesDir, manifestFile), append(b, '\n'), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// storeSimulatedShop stores the shop simulator's events from start for days
// through the hot path's sinks, one topic kind each (clickstream only from
// clicksFrom on: it is most of the volume), as the consumers would, under
// the real topic names.
func storeSimulatedShop(ctx context.Context, t *testing.T, db *store.DB, start time.Time, days int, clicksFrom time.Time) {
	t.Helper()
	if err := db.EnsurePartitionsAhead(ctx, start.AddDate(0, 0, -45), days+50); err != nil {
		t.Fatal(err)
	}
	sinks := map[string]streaming.Sink{
		events.TopicOrders:      streaming.NewOrderSink(db, 0, nil),
		events.TopicPayments:    streaming.PaymentsSink{DB: db},
		events.TopicInventory:   streaming.InventorySink{DB: db, DefaultReorderPoint: 10},
		events.TopicClickstream: streaming.ClickstreamSink{DB: db},
		events.TopicMarket:      streaming.MarketSink{DB: db},
		events.TopicCustomers:   streaming.CustomersSink{DB: db},
	}
	type pending struct {
		b          streaming.Batch
		start, end int64
	}
	batches := map[string]*pending{}
	for topic, s := range sinks {
		if err := db.InitOffsets(ctx, topic, 1); err != nil {
			t.Fatal(err)
		}
		batches[topic] = &pending{b: s.NewBatch(2000)}
	}
	flush := func(topic string) {
		p := batches[topic]
		if p.end == p.start {
			return
		}
		if _, err := p.b.Commit(ctx, store.BatchMeta{Topic: topic, Start: p.start, End: p.end, Owner: "recorder"}); err != nil {
			t.Fatalf("commit %s [%d, %d): %v", topic, p.start, p.end, err)
		}
		batches[topic] = &pending{b: sinks[topic].NewBatch(2000), start: p.end, end: p.end}
	}
	shop := ingest.NewShop(ingest.ShopConfig{Seed: 5, Start: start, Days: days, EventsPerSecond: 0.1, Customers: 400, Products: 40, Warehouses: 1})
	for {
		ev, ok := shop.Next()
		if !ok {
			break
		}
		topic := ev.Topic()
		if topic == events.TopicClickstream && ev.Head().EventTime.Before(clicksFrom) {
			continue
		}
		p := batches[topic]
		if p == nil || !p.b.Add(ev, p.end) {
			continue
		}
		p.end++
		if p.end-p.start >= 2000 {
			flush(topic)
		}
	}
	for topic := range sinks {
		flush(topic)
	}
	st := shop.Stats()
	t.Logf("stored %d simulated days: %d orders, %d fraudulent, %d chargebacks", days, st.Orders, st.FraudOrders, st.Chargebacks)
}

// replenishmentMoves is an opening receipt and four weeks of sales of 4 or
// 6 units a day, leaving onHand units: a reorder whose value needs approval.
func replenishmentMoves(product string, today time.Time, onHand int64) []store.PositionedMovement {
	move := func(id string, at time.Time, delta int64, reason string) events.InventoryAdjusted {
		m := events.InventoryAdjusted{
			Header:    events.Header{EventID: id, Type: events.TypeInventoryAdjusted, SchemaVersion: 1, EventTime: at},
			ProductID: product, WarehouseID: "wh-1", Delta: delta, Reason: reason,
		}
		if reason == "receipt" {
			m.SupplierID, m.LeadTimeDays, m.UnitCostMinor, m.Currency = "sup-1", 2, 1000, "GBP"
		}
		return m
	}
	var sold int64
	var moves []events.InventoryAdjusted
	for d := 28; d >= 1; d-- {
		q := int64(4 + 2*(d%2))
		sold += q
		moves = append(moves, move(fmt.Sprintf("%s-sale-%d", product, d), today.AddDate(0, 0, -d).Add(15*time.Hour), -q, "sale"))
	}
	moves = append([]events.InventoryAdjusted{move(product+"-open", today.AddDate(0, 0, -40), sold+onHand, "receipt")}, moves...)
	out := make([]store.PositionedMovement, len(moves))
	for i, m := range moves {
		out[i] = store.PositionedMovement{Movement: m, Offset: int64(i)}
	}
	return out
}

func TestRecordHistories(t *testing.T) {
	if os.Getenv("SHOPPULSE_RECORD_HISTORIES") != "1" {
		t.Skip("set SHOPPULSE_RECORD_HISTORIES=1 to record the histories in testdata/histories again")
	}
	ctx := testenv.Context(t, 30*time.Minute)
	brokers := testenv.Brokers(t)
	s := testenv.DB(t)
	c, err := client.Dial(client.Options{HostPort: testenv.TemporalAddress(t), Logger: quietLogger()})
	if err != nil {
		t.Fatalf("dial temporal: %v", err)
	}
	t.Cleanup(c.Close)
	if err := os.MkdirAll(historiesDir, 0o755); err != nil {
		t.Fatal(err)
	}

	// Webhook receiver of the alert notifier.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(hook.Close)
	dlq := testenv.Topic(t, brokers, 1)
	driftTopic := testenv.Topic(t, brokers, 1)
	queue := testenv.Name("record")
	w := worker.New(c, queue, worker.Options{})
	workers.Register(w, workers.Deps{
		Stream:      &activities.Stream{DB: s.DB, Log: slog.New(slog.DiscardHandler), Base: streaming.Config{Brokers: brokers, DLQTopic: dlq, BatchSize: 100, BatchWait: 50 * time.Millisecond}, ReplicationFactor: 1},
		Rollup:      &activities.Rollup{DB: s.DB},
		Partitions:  &activities.Partitions{DB: s.DB},
		Alerts:      &activities.Alerts{DB: s.DB, Webhooks: []activities.Webhook{{URL: strings.Replace(hook.URL, "127.0.0.1", "localhost", 1), Secret: "recorder"}}, Client: &http.Client{Timeout: 10 * time.Second}},
		Anomalies:   &activities.Anomalies{DB: s.DB},
		BatchAlerts: &activities.BatchAlerts{DB: s.DB},
		Erasure:     &activities.Erasure{DB: s.DB},
		Quality:     &activities.Quality{DB: s.DB, Brokers: brokers},
		Customers:   &activities.Customers{DB: s.DB},
		Fraud:       &activities.FraudTraining{DB: s.DB, OrdersTopic: events.TopicOrders, AlertThreshold: streaming.DefaultFraudAlertThreshold},
		Forecasts:   &activities.Forecasts{DB: s.DB, OrdersTopic: events.TopicOrders},
		Pricing:     &activities.Pricing{DB: s.DB},
		// The scan runs on a schema of its own (below): this one's
		// simulated products would start forty long-lived workflows.
		Replenishment: &activities.Replenishment{DB: s.DB, Client: c, TaskQueue: queue},
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	r := &recorder{t: t, c: c, queue: queue}
	id := func(name string) string { return testenv.Name("history-" + name) }

	today := time.Now().UTC().Truncate(24 * time.Hour)
	end := today.AddDate(0, 0, -1)
	const days = 60
	began := time.Now()
	storeSimulatedShop(ctx, t, s.DB, end.AddDate(0, 0, -days), days, end.AddDate(0, 0, -21))
	t.Logf("seeded in %v", time.Since(began).Round(time.Second))

	var parts workflows.PartitionsResult
	r.run(ctx, id("partitions"), workflows.NamePartitionMaintenance, workflows.PartitionsInput{DaysAhead: 3, RetentionDays: 400}, &parts)

	var hourly workflows.RollupResult
	r.run(ctx, id("rollup-hour"), workflows.NameRevenueRollupHourly,
		workflows.RollupInput{Hour: end.Add(-12 * time.Hour), WatermarkWait: workflows.Duration(30 * time.Second)}, &hourly)
	var daily workflows.RollupDailyResult
	r.run(ctx, id("rollup-day"), workflows.NameRollupDaily,
		workflows.RollupDailyInput{Day: end.AddDate(0, 0, -5), WatermarkWait: workflows.Duration(30 * time.Second)}, &daily)

	from, to := end.AddDate(0, 0, -3), end.AddDate(0, 0, -2)
	backfillID := id("backfill")
	var bf workflows.BackfillResult
	r.run(ctx, backfillID, workflows.NameBackfill, workflows.BackfillInput{
		Workflow: workflows.NameRollupDaily, From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), Concurrency: 2,
	}, &bf)
	if bf.Days != 2 || len(bf.Failed) != 0 {
		t.Fatalf("backfill %+v", bf)
	}
	dayID := workflows.BackfillDayID(backfillID, workflows.NameRollupDaily, from)
	r.keep(ctx, workflows.NameBackfillDay, dayID, "", "")

	var dq workflows.DQResult
	r.run(ctx, id("dq"), workflows.NameDataQuality,
		workflows.DQInput{Grain: "day", Period: end.AddDate(0, 0, -2), Topics: []string{driftTopic}}, &dq)
	var anomalies workflows.AnomalyResult
	r.run(ctx, id("anomalies"), workflows.NameAnomalyDetector, workflows.AnomalyInput{Rounds: 2}, &anomalies)

	asOf := workflows.Date{Time: end}
	var features workflows.CustomerFeaturesResult
	r.run(ctx, id("features"), workflows.NameCustomerFeatures, workflows.CustomerFeaturesInput{AsOf: asOf, WindowDays: days}, &features)
	var churn workflows.ChurnLTVResult
	r.run(ctx, id("churn"), workflows.NameChurnLTV, workflows.ChurnLTVInput{AsOf: asOf, WindowDays: days}, &churn)
	var recs workflows.RecommendationsResult
	r.run(ctx, id("recs"), workflows.NameRecommendations, workflows.RecommendationsInput{AsOf: asOf, WindowDays: days}, &recs)

	// Chargebacks come up to 30 days late, so the latest orders have few
	// labels: an analyst's decisions on three high scores in the holdout
	// give it both classes.
	delay := 10
	if _, err := s.DB.Pool.Exec(ctx, `
		INSERT INTO fraud_labels (order_id, label, decided_by, decided_at)
		SELECT order_id, 'fraud', 'analyst-1', $1 FROM fraud_scores
		 WHERE event_time >= $2 AND event_time < $3 ORDER BY score DESC, order_id LIMIT 3`,
		end.Add(-time.Hour), end.AddDate(0, 0, -18), end.AddDate(0, 0, -delay)); err != nil {
		t.Fatal(err)
	}
	var fraud workflows.FraudTrainingResult
	r.run(ctx, id("fraud"), workflows.NameFraudModelTraining,
		workflows.FraudTrainingInput{AsOf: end, TrainDays: 45, LabelDelayDays: &delay}, &fraud)
	t.Logf("fraud model %s: AUC %.3f against %.3f, promoted %v", fraud.Version, fraud.Candidate.AUC, fraud.Baseline.AUC, fraud.Promoted)
	var forecast activities.ForecastResult
	r.run(ctx, id("forecast"), workflows.NameDemandForecast, workflows.ForecastInput{AsOf: end, HistoryDays: days}, &forecast)
	var pricing workflows.PricingResult
	r.run(ctx, id("pricing"), workflows.NamePricingRecommendations, workflows.PricingInput{AsOf: end}, &pricing)

	var cust string
	if err := s.DB.Pool.QueryRow(ctx, `SELECT customer_id FROM orders WHERE customer_id <> '' ORDER BY event_time LIMIT 1`).Scan(&cust); err != nil {
		t.Fatal(err)
	}
	req := testenv.Name("req")
	var erased workflows.ErasureResult
	r.run(ctx, workflows.ErasureWorkflowID(req), workflows.NameEraseCustomer, workflows.ErasureInput{RequestID: req, CustomerID: cust}, &erased)

	var notified workflows.NotifierResult
	r.run(ctx, id("notifier"), workflows.NameAlertNotifier, workflows.NotifierInput{Limit: 3}, &notified)
	if notified.Delivered == 0 {
		t.Fatalf("notifier delivered nothing: %+v", notified)
	}

	recordReplenishment(ctx, t, c, r)
	recordSupervisor(ctx, t, c, r, brokers)
	r.writeManifest()
}

// recordReplenishment runs a scan over one product on a schema and queue of
// its own: it drafts an order above the approval threshold, which an Update
// approves; the receipt arrives and the product's workflow completes.
func recordReplenishment(ctx context.Context, t *testing.T, c client.Client, r *recorder) {
	s := testenv.DB(t)
	queue := testenv.Name("record-replen")
	w := worker.New(c, queue, worker.Options{})
	workers.Register(w, workers.Deps{Replenishment: &activities.Replenishment{DB: s.DB, Client: c, TaskQueue: queue}})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	rr := &recorder{t: t, c: c, queue: queue}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	product := testenv.Name("sku")
	k := store.StockKey{ProductID: product, WarehouseID: "wh-1"}
	if err := s.DB.InitOffsets(ctx, events.TopicInventory, 1); err != nil {
		t.Fatal(err)
	}
	moves := replenishmentMoves(product, today, 4)
	if _, err := s.DB.CommitInventoryBatch(ctx, store.InventoryBatch{
		BatchMeta: store.BatchMeta{Topic: events.TopicInventory, Start: 0, End: int64(len(moves)), Owner: "recorder"}, Movements: moves, DefaultReorderPoint: 10,
	}); err != nil {
		t.Fatal(err)
	}
	var scan workflows.ReplenishmentScanResult
	rr.run(ctx, testenv.Name("history-scan"), workflows.NameReplenishmentScan, workflows.ReplenishmentScanInput{Cycles: 1, Policy: activities.ReplenishPolicy{
		HistoryDays: 28, ApprovalThresholdMinor: 10000, PollInterval: activities.Duration(time.Second),
	}}, &scan)
	if scan.Keys != 1 {
		t.Fatalf("scan %+v", scan)
	}
	wid := activities.ReplenishWorkflowID(k)
	last := func() (store.PurchaseOrder, error) {
		pos, err := s.DB.PurchaseOrders(ctx, k)
		if err != nil || len(pos) == 0 {
			return store.PurchaseOrder{}, err
		}
		return pos[len(pos)-1], nil
	}
	testenv.WaitFor(ctx, t, "an order awaiting approval", func() (bool, error) {
		po, err := last()
		return po.Status == store.POAwaitingApproval, err
	})
	hd, err := c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID: wid, UpdateName: workflows.UpdateDecide, WaitForStage: client.WorkflowUpdateStageCompleted,
		Args: []any{workflows.Decision{Approver: "buyer-7", Approve: true, Quantity: 90}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var approved store.PurchaseOrder
	if err := hd.Get(ctx, &approved); err != nil || approved.Status != store.POApproved {
		t.Fatalf("approve: %+v %v", approved, err)
	}
	testenv.WaitFor(ctx, t, "the order sent", func() (bool, error) {
		po, err := last()
		return po.Status == store.POSent, err
	})
	receipt := replenishmentMoves(product, today, 0)[0]
	receipt.Movement.EventID, receipt.Movement.EventTime, receipt.Movement.Delta = product+"-po-receipt", time.Now().UTC(), 90
	receipt.Offset = int64(len(moves))
	if _, err := s.DB.CommitInventoryBatch(ctx, store.InventoryBatch{
		BatchMeta: store.BatchMeta{Topic: events.TopicInventory, Start: receipt.Offset, End: receipt.Offset + 1, Owner: "recorder"},
		Movements: []store.PositionedMovement{receipt}, DefaultReorderPoint: 10,
	}); err != nil {
		t.Fatal(err)
	}
	run := c.GetWorkflow(ctx, wid, "")
	var res workflows.ReplenishResult
	if err := run.Get(ctx, &res); err != nil || len(res.Orders) != 1 || res.Orders[0].Status != store.POReceived {
		t.Fatalf("replenishment %+v %v", res, err)
	}
	rr.keep(ctx, workflows.NameReplenishProduct, wid, run.GetRunID(), "")
	r.entries = append(r.entries, rr.entries...)
}

// recordSupervisor runs a stream supervisor over a fresh two-partition topic
// with one consumer whose activity returns every two seconds, then asks it
// for two consumers: the first run drains and continues as new, and its
// history ends there. The new run is terminated.
func recordSupervisor(ctx context.Context, t *testing.T, c client.Client, r *recorder, brokers []string) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	topic := testenv.Topic(t, brokers, 2)
	in := workflows.SupervisorInput{Topic: topic, Partitions: 2, Consumers: 1, MaxRun: 2 * time.Second, HeartbeatTimeout: 20 * time.Second}
	wid := workflows.SupervisorWorkflowID(topic)
	run := r.start(ctx, wid, workflows.NameStreamSupervisor, in)
	defer func() { _ = c.TerminateWorkflow(context.Background(), wid, "", "history recorded") }()
	// Let the consumer activity return once and start again.
	testenv.WaitFor(ctx, t, "a second consumer activity", func() (bool, error) {
		it := c.GetWorkflowHistory(ctx, wid, run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		n := 0
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				return false, err
			}
			if ev.GetEventType() == enums.EVENT_TYPE_ACTIVITY_TASK_COMPLETED {
				n++
			}
		}
		return n >= 2, nil // ensure stream, a consumer run
	})
	if err := c.SignalWorkflow(ctx, wid, run.GetRunID(), workflows.SignalSetConsumers, 2); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(ctx, t, "the supervisor to continue as new", func() (bool, error) {
		d, err := c.DescribeWorkflowExecution(ctx, wid, run.GetRunID())
		if err != nil {
			return false, err
		}
		return d.GetWorkflowExecutionInfo().GetStatus() == enums.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW, nil
	})
	r.keep(ctx, workflows.NameStreamSupervisor, wid, run.GetRunID(), "the first run, up to its continue-as-new after set-consumers")
}
