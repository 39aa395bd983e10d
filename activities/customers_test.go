package activities

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/shoppulse/shoppulse/analytics"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

var cutoff = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)

func ord(id string, at time.Time, total int64) store.CustomerOrder {
	return store.CustomerOrder{CustomerID: id, EventTime: at, TotalMinor: total}
}

func day(n int, hour int) time.Time {
	return cutoff.AddDate(0, 0, -n).Add(time.Duration(hour) * time.Hour)
}

// Customer a: orders 28 days before (100), 14 days before (two that day:
// 50 + 30) and 7 days before (40). Purchase days: -28, -14, -7, so x = 2,
// t_x = 21 days = 3 weeks, T = 28 days = 4 weeks, repeat spend (80 + 40)/2.
// Customer b: one order 3.5 days before: x = 0, T = 4 days (by day).
func TestChurnSummaries_ByPurchaseDay(t *testing.T) {
	orders := []store.CustomerOrder{
		ord("a", day(28, 10), 100), ord("a", day(14, 9), 50), ord("a", day(14, 20), 30), ord("a", day(7, 1), 40),
		ord("b", day(4, 12), 70),
		ord("c", cutoff.Add(time.Hour), 10), // after the cut-off: ignored
	}
	got := churnSummaries(orders, cutoff)
	want := []churnSummary{
		{ID: "a", RFT: analytics.RFT{X: 2, Tx: 3, T: 4}, Spend: analytics.Spend{X: 2, Mean: 60}},
		{ID: "b", RFT: analytics.RFT{X: 0, Tx: 0, T: 4.0 / 7}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("summary %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestCustomerHistories(t *testing.T) {
	orders := []store.CustomerOrder{ord("a", day(10, 12), 100), ord("a", day(2, 0), 50), ord("b", day(1, 12), 70)}
	hs, fs := customerHistories(orders, cutoff, "GBP")
	want := []analytics.CustomerHistory{
		{CustomerID: "a", RecencyDays: 2, Frequency: 2, Monetary: 150},
		{CustomerID: "b", RecencyDays: 0.5, Frequency: 1, Monetary: 70},
	}
	for i := range want {
		if hs[i] != want[i] {
			t.Errorf("history %d = %+v, want %+v", i, hs[i], want[i])
		}
	}
	if fs[0].FirstOrderAt != day(10, 12) || fs[0].LastOrderAt != day(2, 0) || fs[0].MonetaryMinor != 150 || fs[1].Currency != "GBP" {
		t.Errorf("features %+v", fs)
	}
}

func TestModelVersion_SameInputsSameVersion(t *testing.T) {
	v1, _ := modelVersion(cutoff, "kmeans", map[string]int{"k": 3}, []int{1, 2})
	v2, _ := modelVersion(cutoff, "kmeans", map[string]int{"k": 3}, []int{1, 2})
	v3, _ := modelVersion(cutoff, "kmeans", map[string]int{"k": 3}, []int{1, 3})
	if v1 != v2 || v1 == v3 || v1[:16] != "20260901-kmeans-" {
		t.Errorf("versions %s %s %s", v1, v2, v3)
	}
}

func TestCustomerActivities_RejectBadInput(t *testing.T) {
	a := &Customers{}
	ctx := context.Background()
	w := Window{AsOf: cutoff, Days: 30}
	tests := []struct {
		name string
		call func() error
	}{
		{"no as_of", func() error {
			_, err := a.ComputeCustomerFeatures(ctx, CustomerFeaturesInput{Window: Window{Days: 3}})
			return err
		}},
		{"zero window", func() error { _, err := a.FitChurnLTV(ctx, ChurnInput{Window: Window{AsOf: cutoff}}); return err }},
		{"k_max too big", func() error {
			_, err := a.ComputeCustomerFeatures(ctx, CustomerFeaturesInput{Window: w, KMax: 50})
			return err
		}},
		{"discount above 1", func() error { _, err := a.FitChurnLTV(ctx, ChurnInput{Window: w, AnnualDiscountRate: 2}); return err }},
		{"holdout past window", func() error { _, err := a.FitChurnLTV(ctx, ChurnInput{Window: w, HoldoutDays: 30}); return err }},
		{"k too big", func() error {
			_, err := a.BuildRecommendations(ctx, RecommendationsInput{Window: w, K: 1000})
			return err
		}},
		{"view weight above 1", func() error {
			_, err := a.BuildRecommendations(ctx, RecommendationsInput{Window: w, ViewWeight: 3})
			return err
		}},
		{"promote nothing", func() error { _, err := a.PromoteCustomerModel(ctx, PromoteInput{}); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var app *temporal.ApplicationError
			if err := tt.call(); !errors.As(err, &app) || app.Type() != "InvalidInput" || !app.NonRetryable() {
				t.Fatalf("want a non-retryable InvalidInput error, got %v", err)
			}
		})
	}
}

func TestPromoteCustomerModel_KeepsTheNewestWindowActive(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	a := &Customers{DB: db}
	reg := func(version string, asOf time.Time) {
		t.Helper()
		if err := a.register(ctx, ModelChurn, version, "bgnbd-gamma-gamma", Window{AsOf: asOf, Days: 30}, RunInfo{RunID: "r", Workflow: "ChurnLTV"},
			map[string]any{}, map[string]any{}); err != nil {
			t.Fatal(err)
		}
	}
	promote := func(version string) PromoteResult {
		t.Helper()
		res, err := a.PromoteCustomerModel(ctx, PromoteInput{Model: ModelChurn, Version: version, By: "test"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	reg("today", cutoff)
	if res := promote("today"); !res.Promoted {
		t.Fatalf("first promotion: %+v", res)
	}
	reg("backfill", cutoff.AddDate(0, 0, -10))
	if res := promote("backfill"); res.Promoted || res.Active != "today" {
		t.Errorf("backfill promotion: %+v, want today's model kept", res)
	}
	reg("tomorrow", cutoff.AddDate(0, 0, 1))
	if res := promote("tomorrow"); !res.Promoted {
		t.Errorf("newer promotion: %+v", res)
	}
	if m, err := db.ActiveModel(ctx, ModelChurn); err != nil || m.Version != "tomorrow" || m.PromotedBy != "test" {
		t.Errorf("active %+v, %v", m, err)
	}
	if _, err := a.PromoteCustomerModel(ctx, PromoteInput{Model: ModelChurn, Version: "missing"}); err == nil {
		t.Error("promoting an unregistered version: want an error")
	}
}
