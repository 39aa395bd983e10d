package store_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

func TestModelRegistryPromotion(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)

	if _, err := db.ActiveModel(ctx, "churn"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("active model of an empty registry: %v, want ErrNotFound", err)
	}
	v1 := store.ModelVersion{Model: "churn", Version: "bgnbd-1", Algorithm: "bgnbd", TrainFrom: from, TrainTo: to,
		Params: json.RawMessage(`{"r":0.24}`), Metrics: json.RawMessage(`{"mae":0.1}`), TrainedBy: "run-1"}
	for range 2 { // registering twice changes nothing
		if err := db.RegisterModel(ctx, v1); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PromoteModel(ctx, "churn", "bgnbd-1", "tester"); err != nil {
		t.Fatal(err)
	}
	if err := db.RegisterModel(ctx, store.ModelVersion{Model: "churn", Version: "bgnbd-2", Algorithm: "bgnbd"}); err != nil {
		t.Fatal(err)
	}
	if err := db.PromoteModel(ctx, "churn", "bgnbd-2", "ChurnWorkflow"); err != nil {
		t.Fatal(err)
	}
	if err := db.PromoteModel(ctx, "churn", "missing", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("promote a missing version: %v, want ErrNotFound", err)
	}
	ms, err := db.Models(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, m := range ms {
		status[m.Version] = m.Status
	}
	if len(ms) != 2 || status["bgnbd-1"] != store.ModelRetired || status["bgnbd-2"] != store.ModelActive {
		t.Fatalf("registry after two promotions: %+v", ms)
	}
	active, err := db.ActiveModel(ctx, "churn")
	if err != nil || active.Version != "bgnbd-2" || active.PromotedBy != "ChurnWorkflow" || active.PromotedAt.IsZero() {
		t.Fatalf("active churn model: %+v, %v", active, err)
	}
	for _, m := range ms {
		if m.Version == "bgnbd-1" && (!m.TrainFrom.Equal(from) || !m.TrainTo.Equal(to) || m.TrainedBy != "run-1") {
			t.Fatalf("training window not kept: %+v", m)
		}
	}
	// A fraud model registered through the old entry point is in the
	// registry and in the fraud_models view the hot path reads.
	if err := db.RegisterFraudModel(ctx, store.FraudModelRow{Version: "lr-1", Kind: "logistic", Active: true,
		Params: json.RawMessage(`{"bias":-3,"weights":{}}`)}); err != nil {
		t.Fatal(err)
	}
	var kind string
	if err := db.Pool.QueryRow(ctx, `SELECT kind FROM fraud_models WHERE active`).Scan(&kind); err != nil || kind != "logistic" {
		t.Fatalf("fraud_models view: %q, %v", kind, err)
	}
	if err := db.RegisterModel(ctx, store.ModelVersion{Model: "x", Version: "1", Algorithm: "a", Status: "live"}); err == nil {
		t.Fatal("a bad status was accepted")
	}
}
