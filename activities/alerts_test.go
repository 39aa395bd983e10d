package activities_test

import (
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

// webhook is a receiver that checks signatures and can refuse the first
// deliveries.
type webhook struct {
	secret string
	mu     sync.Mutex
	fail   int // answer 500 to this many more requests
	got    []map[string]any
	bad    int // requests with a wrong signature
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !hmac.Equal([]byte(r.Header.Get(activities.SignatureHeader)), []byte(activities.Sign(w.secret, body))) {
		w.bad++
		rw.WriteHeader(http.StatusUnauthorized)
		return
	}
	if w.fail > 0 {
		w.fail--
		rw.WriteHeader(http.StatusInternalServerError)
		return
	}
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	m["header_id"] = r.Header.Get(activities.AlertIDHeader)
	w.got = append(w.got, m)
	rw.WriteHeader(http.StatusNoContent)
}

func (w *webhook) received() ([]map[string]any, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]map[string]any(nil), w.got...), w.bad
}

// raise opens alerts as the hot path does, in a transaction.
func raise(t *testing.T, ctx context.Context, db *store.DB, alerts ...store.NewAlert) {
	t.Helper()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	for _, a := range alerts {
		if _, err := store.RaiseAlert(ctx, tx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestDeliverAlert_SignedRetriedRecordedAndNotRepeated(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	at := time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)
	raise(t, ctx, s.DB,
		store.NewAlert{Type: store.AlertLowStock, Entity: "P1/W1", Severity: store.SeverityWarning, DedupKey: "low_stock:P1/W1", OpenedAt: at, Details: map[string]any{"on_hand": 3}},
		store.NewAlert{Type: store.AlertStockout, Entity: "P1/W1", Severity: store.SeverityCritical, DedupKey: "stockout:P1/W1", OpenedAt: at},
		// The same key while open: deduplicated.
		store.NewAlert{Type: store.AlertLowStock, Entity: "P1/W1", Severity: store.SeverityWarning, DedupKey: "low_stock:P1/W1", OpenedAt: at.Add(time.Minute)},
	)
	flaky := &webhook{secret: "flaky-secret", fail: 1}
	steady := &webhook{secret: "steady-secret"}
	fs, ss := httptest.NewServer(flaky), httptest.NewServer(steady)
	defer fs.Close()
	defer ss.Close()
	flakyURL := strings.Replace(fs.URL, "http://", "http://hook:hunter2@", 1)
	a := &activities.Alerts{DB: s.DB, Client: fs.Client(), Webhooks: []activities.Webhook{
		{URL: flakyURL, Secret: flaky.secret}, {URL: ss.URL, Secret: steady.secret},
	}}

	pending, err := a.PendingAlerts(ctx, activities.PendingAlertsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pending.AlertIDs) != 2 {
		t.Fatalf("want 2 pending alerts (the repeat deduplicated), got %v", pending.AlertIDs)
	}
	id := pending.AlertIDs[0]

	// First attempt: the flaky webhook answers 500, the steady one accepts.
	res, err := a.DeliverAlert(ctx, activities.DeliverAlertInput{AlertID: id})
	if err == nil || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("first attempt: want the 500 reported, got %v", err)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("the error leaks a secret: %v", err)
	}
	if len(res.Delivered) != 1 || res.Delivered[0] != ss.URL {
		t.Fatalf("first attempt delivered to %v, want only %s", res.Delivered, ss.URL)
	}
	// Second attempt (Temporal's retry): only the flaky webhook is posted to.
	res, err = a.DeliverAlert(ctx, activities.DeliverAlertInput{AlertID: id})
	if err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if len(res.Delivered) != 1 || strings.Contains(res.Delivered[0], "hunter2") {
		t.Fatalf("second attempt delivered to %v, want only the flaky webhook, password redacted", res.Delivered)
	}
	// A re-run after success posts nothing.
	res, err = a.DeliverAlert(ctx, activities.DeliverAlertInput{AlertID: id})
	if err != nil || !res.AlreadyDelivered {
		t.Fatalf("re-run: want already delivered, got %+v, %v", res, err)
	}

	for name, w := range map[string]*webhook{"flaky": flaky, "steady": steady} {
		got, bad := w.received()
		if bad != 0 || len(got) != 1 {
			t.Fatalf("%s webhook: %d deliveries, %d bad signatures; want 1 and 0", name, len(got), bad)
		}
		if got[0]["type"] != store.AlertLowStock || got[0]["entity"] != "P1/W1" || got[0]["header_id"] != fmt.Sprint(id) || got[0]["id"] != float64(id) {
			t.Fatalf("%s webhook got %v", name, got[0])
		}
		if d, _ := got[0]["details"].(map[string]any); d["on_hand"] != float64(3) {
			t.Fatalf("%s webhook got details %v", name, got[0]["details"])
		}
	}

	deliveries, err := s.DB.AlertDeliveries(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		webhook          string
		attempt, status  int
		delivered, error bool
	}
	redacted := strings.Replace(fs.URL, "http://", "http://hook:xxxxx@", 1)
	// By webhook, then attempt: "http://127..." sorts before "http://hook...".
	want := []row{{ss.URL, 1, 204, true, false}, {redacted, 1, 500, false, true}, {redacted, 2, 204, true, false}}
	if len(deliveries) != len(want) {
		t.Fatalf("deliveries: want %d, got %+v", len(want), deliveries)
	}
	for i, d := range deliveries {
		if got := (row{d.Webhook, d.Attempt, d.StatusCode, d.Delivered, d.Error != ""}); got != want[i] {
			t.Errorf("delivery %d: want %+v, got %+v", i, want[i], got)
		}
	}
	pending, err = a.PendingAlerts(ctx, activities.PendingAlertsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(pending.AlertIDs) != 1 || pending.AlertIDs[0] == id {
		t.Fatalf("after delivery: pending %v, want only the other alert", pending.AlertIDs)
	}
}
