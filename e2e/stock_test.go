package e2e

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
	"github.com/shoppulse/shoppulse/workflows"
)

// waitForTopicEnd waits until the stored offsets of topic equal its end offsets.
func (h *harness) waitForTopicEnd(ctx context.Context, topic string) {
	h.waitForTopicEndN(ctx, topic, partitions)
}

// waitForTopicEndN is waitForTopicEnd for a topic of n partitions.
func (h *harness) waitForTopicEndN(ctx context.Context, topic string, partitions int) {
	h.t.Helper()
	testenv.WaitCaughtUp(h.t, ctx, h.schema.DB, h.brokers, topic, partitions)
}

// TestEndToEnd_StockAlertsAndTheirWebhook runs the worker on an inventory
// topic: stock per product and warehouse, one alert per crossing, and the
// AlertNotifier workflow delivering each alert once, signed, to a webhook.
func TestEndToEnd_StockAlertsAndTheirWebhook(t *testing.T) {
	h := newHarness(t)
	ctx := testenv.Context(t, 3*time.Minute)

	const secret = "e2e-webhook-secret"
	var mu sync.Mutex
	got := map[string]int{} // type entity -> deliveries
	badSignatures := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !hmac.Equal([]byte(r.Header.Get(activities.SignatureHeader)), []byte(activities.Sign(secret, body))) {
			badSignatures++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var a struct{ Type, Entity string }
		_ = json.Unmarshal(body, &a)
		got[a.Type+" "+a.Entity]++
	}))
	defer srv.Close()
	cfgFile := filepath.Join(t.TempDir(), "shoppulse.yaml")
	yaml := fmt.Sprintf("alerts:\n  webhooks:\n    - url: %s/hook\n      secret: %s\n", srv.URL, secret)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	h.env = append(h.env, "SHOPPULSE_CONFIG="+cfgFile)

	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Minute)
	n := 0
	mv := func(product, warehouse string, delta int64, reason string) *events.InventoryAdjusted {
		n++
		return &events.InventoryAdjusted{
			Header:    events.Header{EventID: fmt.Sprintf("e2e-mv-%d", n), Type: events.TypeInventoryAdjusted, SchemaVersion: 1, EventTime: base.Add(time.Duration(n) * time.Second)},
			ProductID: product, WarehouseID: warehouse, Delta: delta, Reason: reason,
		}
	}
	retried := mv("PA", "W1", -25, "sale")
	evs := []events.Event{
		mv("PA", "W1", 30, "receipt"), retried, retried, // PA/W1 5: low stock (the retry counts once)
		mv("PA", "W1", -5, "sale"),       // 0: stockout
		mv("PA", "W1", 50, "receipt"),    // 50: both resolved
		mv("PB", "W1", 5, "receipt"),     // PB/W1 5: low stock, open
		mv("PB", "W2", 100, "receipt"),   // PB/W2 100
		mv("PB", "W2", -20, "shrinkage"), // 80
		mv("PC", "W1", 12, "receipt"),    // PC/W1 12
		mv("PC", "W1", -12, "sale"),      // 0: low stock and stockout, open
	}
	p := ingest.NewProducer(ingest.ProducerConfig{Brokers: h.brokers, Topic: h.invTopic})
	defer p.Close()
	for _, ev := range evs {
		b, err := events.Encode(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ProduceRaw(ctx, ev.Key(), b); err != nil {
			t.Fatal(err)
		}
	}
	h.startWorker()
	h.waitForTopicEnd(ctx, h.invTopic)

	levels, err := h.schema.DB.StockLevels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stock := map[string]int64{}
	for _, l := range levels {
		stock[l.String()] = l.OnHand
	}
	if want := map[string]int64{"PA/W1": 50, "PB/W1": 5, "PB/W2": 80, "PC/W1": 0}; fmt.Sprint(stock) != fmt.Sprint(want) {
		t.Fatalf("stock: want %v, got %v", want, stock)
	}
	alerts, err := h.schema.DB.Alerts(ctx, store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, a := range alerts {
		seen = append(seen, fmt.Sprintf("%s %s open=%v", a.Type, a.Entity, a.ResolvedAt.IsZero()))
	}
	sort.Strings(seen)
	want := []string{
		"low_stock PA/W1 open=false", "low_stock PB/W1 open=true", "low_stock PC/W1 open=true",
		"stockout PA/W1 open=false", "stockout PC/W1 open=true",
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("alerts:\n want %v\n got  %v", want, seen)
	}

	// Two notifier runs, as the schedule would start them: the first
	// delivers every alert, the second finds nothing to deliver.
	for run, want := range []workflows.NotifierResult{{Pending: len(alerts), Delivered: len(alerts)}, {}} {
		r, err := h.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: h.queue},
			workflows.NameAlertNotifier, workflows.NotifierInput{})
		if err != nil {
			t.Fatal(err)
		}
		var res workflows.NotifierResult
		if err := r.Get(ctx, &res); err != nil {
			t.Fatalf("notifier run %d: %v", run+1, err)
		}
		if res != want {
			t.Fatalf("notifier run %d: %+v, want %+v", run+1, res, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if badSignatures != 0 || len(got) != len(alerts) {
		t.Fatalf("webhook: %d bad signatures, deliveries %v", badSignatures, got)
	}
	for k, n := range got {
		if n != 1 {
			t.Fatalf("alert %s delivered %d times", k, n)
		}
	}
}
