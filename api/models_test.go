package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/shoppulse/shoppulse/internal/batchseed"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// TestBatchResults_SeededRowsThroughEveryRoute seeds one run of each batch
// result through the workflows' store functions and reads each back through
// its route; answers are validated against the document by readAPI.
func TestBatchResults_SeededRowsThroughEveryRoute(t *testing.T) {
	a := newReadAPI(t, Config{})
	ctx := testenv.Context(t, 2*time.Minute)
	seed := batchseed.Seed(t, ctx, a.DB)
	day := seed.AsOf.Format(time.DateOnly)

	recs := get[Recommendations](t, a, "/v1/customers/c-loyal/recommendations")
	if recs.AsOf == nil || *recs.AsOf != day || recs.CustomerID != "c-loyal" || len(recs.Items) != 2 ||
		recs.Items[0].ProductID != "p-teapot" || recs.Items[0].Source != "similar" || recs.Items[1].ProductID != "p-kite" || recs.Items[0].ModelVersion != "rec-seed" {
		t.Errorf("customer recommendations: %s", mustJSON(recs))
	}
	if one := get[Recommendations](t, a, "/v1/customers/c-loyal/recommendations?limit=1&as_of="+day); len(one.Items) != 1 {
		t.Errorf("limit 1: %s", mustJSON(one))
	}
	if none := get[Recommendations](t, a, "/v1/customers/c-loyal/recommendations?as_of=2001-01-01"); none.AsOf != nil || len(none.Items) != 0 {
		t.Errorf("an as-of date without a run: %s", mustJSON(none))
	}
	sim := get[Recommendations](t, a, "/v1/products/p-kettle/recommendations")
	if sim.ProductID != "p-kettle" || len(sim.Items) != 2 || sim.Items[0].ProductID != "p-teapot" || sim.Items[0].Score != 0.82 || sim.Items[1].Rank != 2 {
		t.Errorf("similar products: %s", mustJSON(sim))
	}

	segs := get[Segments](t, a, "/v1/segments")
	if segs.AsOf == nil || *segs.AsOf != day || len(segs.Clusters) != 2 || segs.Clusters[1].Customers != 2 || segs.Clusters[1].TopSegment != "champions" ||
		len(segs.Clusters[0].Centroid) != 3 || len(segs.RFMSegments) != 3 {
		t.Errorf("segments: %s", mustJSON(segs))
	}

	type churnPage struct {
		AsOf *string `json:"as_of"`
		page[ChurnRisk]
	}
	churn := get[churnPage](t, a, "/v1/churn?limit=2")
	if len(churn.Items) != 2 || churn.Items[0].CustomerID != "c-gone" || churn.Items[0].PAlive != 0.12 || churn.Items[0].Segment == nil ||
		*churn.Items[0].Segment != "hibernating" || churn.Items[1].CustomerID != "c-loyal" || churn.Items[1].CLVMinor != 24800 || churn.NextCursor == nil {
		t.Fatalf("churn page 1: %s", mustJSON(churn))
	}
	rest := get[churnPage](t, a, "/v1/churn?limit=2&cursor="+url.QueryEscape(*churn.NextCursor))
	if len(rest.Items) != 1 || rest.Items[0].CustomerID != "c-new" || rest.NextCursor != nil {
		t.Errorf("churn page 2: %s", mustJSON(rest))
	}
	if risky := get[churnPage](t, a, "/v1/churn?max_p_alive=0.5"); len(risky.Items) != 1 || risky.Items[0].CustomerID != "c-gone" {
		t.Errorf("max_p_alive=0.5: %s", mustJSON(risky))
	}
	if champs := get[churnPage](t, a, "/v1/churn?segment=champions"); len(champs.Items) != 1 || champs.Items[0].CustomerID != "c-loyal" {
		t.Errorf("segment=champions: %s", mustJSON(champs))
	}

	fc := get[page[Forecast]](t, a, "/v1/forecasts?days=7")
	if len(fc.Items) != 2 || fc.Items[0].ProductID != "p-kettle" || fc.Items[0].Method != "holt-winters" || fc.Items[0].MASE == nil ||
		*fc.Items[0].MASE != 0.71 || len(fc.Items[0].Days) != 7 || fc.Items[0].Days[0].Date != day || fc.Items[0].ForecastTotal != 91 ||
		fc.Items[1].Method != "croston-sba" || fc.Items[1].MASE != nil || fc.Items[1].DemandClass != "intermittent" {
		t.Errorf("forecasts: %s", mustJSON(fc))
	}
	if p1 := get[page[Forecast]](t, a, "/v1/forecasts?limit=1"); len(p1.Items) != 1 || p1.NextCursor == nil || len(p1.Items[0].Days) != 14 {
		t.Errorf("forecasts limit 1: %s", mustJSON(p1))
	} else if p2 := get[page[Forecast]](t, a, "/v1/forecasts?limit=1&cursor="+url.QueryEscape(*p1.NextCursor)); len(p2.Items) != 1 || p2.Items[0].ProductID != "p-mug" || p2.NextCursor != nil {
		t.Errorf("forecasts page 2: %s", mustJSON(p2))
	}

	prices := get[page[PricingRecommendation]](t, a, "/v1/pricing/recommendations?status=proposed")
	if len(prices.Items) != 2 {
		t.Fatalf("pricing: %s", mustJSON(prices))
	}
	kettle := prices.Items[slices.IndexFunc(prices.Items, func(p PricingRecommendation) bool { return p.ProductID == "p-kettle" })]
	if kettle.RecommendedPriceMinor != 1590 || kettle.CompetitorMinMinor == nil || *kettle.CompetitorMinMinor != 1650 || kettle.Binding[0] != "max_step_up" {
		t.Errorf("kettle: %s", mustJSON(kettle))
	}

	dq := get[page[QualityCheck]](t, a, "/v1/data-quality")
	if len(dq.Items) != 3 || dq.Items[0].Table != "orders" || dq.Items[0].Check != "freshness" || !dq.Items[0].Passed || dq.Items[0].Score == nil || *dq.Items[0].Score != 50 {
		t.Errorf("data quality: %s", mustJSON(dq))
	}
	failed := get[page[QualityCheck]](t, a, "/v1/data-quality?failed=true")
	if len(failed.Items) != 1 || failed.Items[0].Check != seed.FailedCheck || failed.Items[0].Value != 4.2 {
		t.Errorf("failed checks: %s", mustJSON(failed))
	}
	if sessions := get[page[QualityCheck]](t, a, "/v1/data-quality?table=sessions&grain=hour"); len(sessions.Items) != 1 || sessions.Items[0].Check != "nulls" {
		t.Errorf("sessions: %s", mustJSON(sessions))
	}

	// Bad parameters are named.
	for path, fields := range map[string][]string{
		"/v1/churn?max_p_alive=2&as_of=yesterday&cursor=x":                    {"as_of", "max_p_alive", "cursor"},
		"/v1/forecasts?days=0&limit=501":                                      {"days", "limit"},
		"/v1/replenishment/orders?status=lost&colour=red":                     {"status", "colour"},
		"/v1/pricing/recommendations?status=maybe":                            {"status"},
		"/v1/data-quality?failed=perhaps&grain=week":                          {"grain", "failed"},
		"/v1/customers/c-1/recommendations?limit=101":                         {"limit"},
		"/v1/segments?as_of=2026-13-01":                                       {"as_of"},
		"/v1/products/" + strings.Repeat("p", 201) + "/recommendations":       {"product_id"},
		"/v1/churn?segment=" + url.QueryEscape("x'; DROP TABLE churn_scores"): {"segment"},
	} {
		wantBadParams(t, a.do(t, http.MethodGet, path, a.Keys[ScopeRead], nil), fields...)
	}

	// Pricing decisions: operate only, recorded with the key, once.
	path := fmt.Sprintf("/v1/pricing/recommendations/%d/approve", seed.Pricing["p-kettle"])
	if ans := a.do(t, http.MethodPost, path, a.Keys[ScopeRead], nil); ans.Status != http.StatusForbidden {
		t.Errorf("approve with read: %d", ans.Status)
	}
	ans := a.do(t, http.MethodPost, path, a.Keys[ScopeOperate], PriceDecision{Note: "competitors are dearer"})
	got := decode[PricingRecommendation](t, ans.Body)
	if ans.Status != 200 || got.Status != store.PriceApproved || got.DecidedBy == nil || *got.DecidedBy != a.KeyIDs[ScopeOperate] || got.Note != "competitors are dearer" {
		t.Errorf("approve: %d %s", ans.Status, ans.Body)
	}
	if ans := a.do(t, http.MethodPost, strings.Replace(path, "approve", "reject", 1), a.Keys[ScopeOperate], nil); ans.Status != http.StatusConflict {
		t.Errorf("reject an approved price: %d %s", ans.Status, ans.Body)
	}
	if ans := a.do(t, http.MethodPost, fmt.Sprintf("/v1/pricing/recommendations/%d/reject", seed.Pricing["p-mug"]), a.Keys[ScopeOperate], nil); ans.Status != 200 {
		t.Errorf("reject: %d %s", ans.Status, ans.Body)
	}
	if approved := get[page[PricingRecommendation]](t, a, "/v1/pricing/recommendations?status=approved"); len(approved.Items) != 1 || approved.Items[0].ProductID != "p-kettle" {
		t.Errorf("approved: %s", mustJSON(approved))
	}
	if ans := a.do(t, http.MethodPost, "/v1/pricing/recommendations/999999/approve", a.Keys[ScopeOperate], nil); ans.Status != http.StatusNotFound {
		t.Errorf("unknown recommendation: %d", ans.Status)
	}
	wantBadParams(t, a.do(t, http.MethodPost, "/v1/pricing/recommendations/x/approve", a.Keys[ScopeOperate], nil), "id")
}

// TestReplenishmentDecision_ThroughTheRunningWorkflow runs a real
// ReplenishProduct workflow on the Temporal dev server to an order awaiting
// approval and decides it through the API: the workflow's Update validator
// refuses a quantity beyond its bounds (422 naming it), a key without
// operate is refused, and an approval reaches the workflow, which sends the
// order (its status in Postgres moves on).
func TestReplenishmentDecision_ThroughTheRunningWorkflow(t *testing.T) {
	ctx := testenv.Context(t, 4*time.Minute)
	schema := testenv.DB(t)
	rp := batchseed.StartReplenisher(t, ctx, schema.DB)
	a := newReadAPIOn(t, schema.DB, Config{Temporal: rp.C})
	approveP, rejectP := testenv.Name("sku-a"), testenv.Name("sku-r")
	po := rp.AwaitApproval(t, ctx, approveP)
	other := rp.AwaitApproval(t, ctx, rejectP)
	if po.Quantity != 79 || po.WorkflowID == "" {
		t.Fatalf("drafted %+v", po)
	}

	list := get[page[PurchaseOrder]](t, a, "/v1/replenishment/orders?status=awaiting_approval")
	if len(list.Items) != 2 || list.Items[0].POID != other.ID || list.Items[1].POID != po.ID || list.Items[1].Quantity != 79 ||
		list.Items[1].ValueMinor != 79000 || list.Items[1].ApprovalDeadline == nil || list.Items[1].WorkflowID != po.WorkflowID {
		t.Fatalf("orders awaiting approval: %s", mustJSON(list))
	}
	if p1 := get[page[PurchaseOrder]](t, a, "/v1/replenishment/orders?limit=1"); len(p1.Items) != 1 || p1.NextCursor == nil {
		t.Errorf("limit 1: %s", mustJSON(p1))
	} else if p2 := get[page[PurchaseOrder]](t, a, "/v1/replenishment/orders?limit=1&cursor="+url.QueryEscape(*p1.NextCursor)); len(p2.Items) != 1 || p2.Items[0].POID != po.ID || p2.NextCursor != nil {
		t.Errorf("page 2: %s", mustJSON(p2))
	}

	approve := "/v1/replenishment/orders/" + url.PathEscape(po.ID) + "/approve"
	if ans := a.do(t, http.MethodPost, approve, a.Keys[ScopeRead], ApproveOrder{}); ans.Status != http.StatusForbidden {
		t.Errorf("approve with a read key: %d %s", ans.Status, ans.Body)
	}
	// Over the limits: 1,000 > 3 x the planned 79. The workflow's validator
	// refuses it and the order stays as it was.
	ans := a.do(t, http.MethodPost, approve, a.Keys[ScopeOperate], ApproveOrder{Quantity: 1000})
	p := decode[Problem](t, ans.Body)
	if ans.Status != http.StatusUnprocessableEntity || p.Type != ProblemDecisionRefused || len(p.Errors) != 1 || p.Errors[0].Path != "/quantity" ||
		!strings.Contains(p.Errors[0].Reason, "at most 237") {
		t.Fatalf("approve 1000: %d %s", ans.Status, ans.Body)
	}
	if ans := a.do(t, http.MethodPost, approve, a.Keys[ScopeOperate], ApproveOrder{Quantity: -1}); ans.Status != http.StatusBadRequest {
		t.Errorf("approve -1: %d %s", ans.Status, ans.Body)
	}
	if still, err := a.DB.PurchaseOrder(ctx, po.ID); err != nil || still.Status != store.POAwaitingApproval || still.DecidedBy != "" {
		t.Fatalf("after refused decisions: %+v %v", still, err)
	}

	ans = a.do(t, http.MethodPost, approve, a.Keys[ScopeOperate], ApproveOrder{Quantity: 90, Note: "round up"})
	got := decode[PurchaseOrder](t, ans.Body)
	if ans.Status != 200 || got.Status != store.POApproved || got.Quantity != 90 || got.DecidedBy == nil || *got.DecidedBy != a.KeyIDs[ScopeOperate] || got.DecisionNote != "round up" {
		t.Fatalf("approve 90: %d %s", ans.Status, ans.Body)
	}
	// The workflow goes on: it sends the approved order.
	rp.WaitFor(t, ctx, "the approved order sent by its workflow", func() bool {
		o, err := a.DB.PurchaseOrder(ctx, po.ID)
		return err == nil && o.Status == store.POSent
	})
	if ans := a.do(t, http.MethodPost, approve, a.Keys[ScopeOperate], nil); ans.Status != http.StatusConflict {
		t.Errorf("approve again: %d %s", ans.Status, ans.Body)
	}

	reject := "/v1/replenishment/orders/" + url.PathEscape(other.ID) + "/reject"
	ans = a.do(t, http.MethodPost, reject, a.Keys[ScopeOperate], RejectOrder{Note: "overstocked elsewhere"})
	if got := decode[PurchaseOrder](t, ans.Body); ans.Status != 200 || got.Status != store.PORejected {
		t.Fatalf("reject: %d %s", ans.Status, ans.Body)
	}
	if ans := a.do(t, http.MethodPost, "/v1/replenishment/orders/po-none/approve", a.Keys[ScopeOperate], nil); ans.Status != http.StatusNotFound {
		t.Errorf("unknown order: %d", ans.Status)
	}
}

// TestReplenishmentDecision_WorkflowWithoutWorker: the order's workflow is
// running but no worker serves its task queue, so the Update is never
// answered: 503 after the timeout, and the order is unchanged.
func TestReplenishmentDecision_WorkflowWithoutWorker(t *testing.T) {
	ctx := testenv.Context(t, 2*time.Minute)
	schema := testenv.DB(t)
	c, err := client.Dial(client.Options{HostPort: testenv.TemporalAddress(t), Logger: log.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := testenv.Name("replenish-no-worker")
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: id, WorkflowExecutionTimeout: 10 * time.Minute}, "ReplenishProduct")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.TerminateWorkflow(context.Background(), run.GetID(), run.GetRunID(), "test over") })
	a := newReadAPIOn(t, schema.DB, Config{Temporal: c})
	a.Server.updateTimeout = 2 * time.Second
	draftFor(t, a.DB, id)
	ans := a.do(t, http.MethodPost, "/v1/replenishment/orders/po-1/approve", a.Keys[ScopeOperate], nil)
	if pr := decode[Problem](t, ans.Body); ans.Status != http.StatusServiceUnavailable || !strings.Contains(pr.Detail, "did not answer") {
		t.Errorf("approve without a worker: %d %s", ans.Status, ans.Body)
	}
	if po, err := a.DB.PurchaseOrder(ctx, "po-1"); err != nil || po.Status != store.POAwaitingApproval {
		t.Errorf("order after the timeout: %+v %v", po, err)
	}
}

// draftFor stores po-1 awaiting approval, held by the workflow wid.
func draftFor(t *testing.T, db *store.DB, wid string) {
	t.Helper()
	po, err := db.DraftPurchaseOrder(testenv.Context(t, time.Minute), store.PurchaseOrder{ID: "po-1", ProductID: "sku-1", WarehouseID: "wh-1", Quantity: 5,
		UnitCostMinor: 100, Currency: "GBP", WorkflowID: wid, Plan: []byte(`{}`),
		ApprovalDeadline: time.Now().Add(time.Hour)}, true, store.Lineage{RunID: "r", Workflow: "test", Step: "draft", Started: time.Now(), Outputs: map[string]any{}})
	if err != nil || po.Status != store.POAwaitingApproval {
		t.Fatalf("draft: %+v %v", po, err)
	}
}

// TestReplenishmentDecision_WithoutTemporal: the order exists but no
// Temporal client is configured: 503, and nothing changes.
func TestReplenishmentDecision_WithoutTemporal(t *testing.T) {
	a := newReadAPI(t, Config{})
	draftFor(t, a.DB, "shoppulse-replenish-sku-1@wh-1")
	ans := a.do(t, http.MethodPost, "/v1/replenishment/orders/po-1/approve", a.Keys[ScopeOperate], nil)
	if pr := decode[Problem](t, ans.Body); ans.Status != http.StatusServiceUnavailable || pr.Type != ProblemUnavailable {
		t.Errorf("approve without Temporal: %d %s", ans.Status, ans.Body)
	}
}
