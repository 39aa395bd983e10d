package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/events"
)

const sharedOnlineRetail = "../../../shared/data/online-retail"

func TestReadReplayFiles(t *testing.T) {
	days, _ := filepath.Glob(filepath.Join(sharedOnlineRetail, "*.csv"))
	if len(days) == 0 {
		t.Skip("the shared Online Retail sample is not at " + sharedOnlineRetail)
	}
	slices.Reverse(days) // merged by event time whatever the file order
	tests := []struct {
		name       string
		format     string
		files      []string
		rows       int
		wantEvents map[string]int
	}{
		{"online retail, three days, newest file first", formatOnlineRetail, days, 0,
			map[string]int{events.TypeOrderPlaced: 129 + 142 + 69, events.TypeRefund: 5 + 23 + 7}},
		{"rees46 fixture", formatRees46, []string{"../../ingest/testdata/rees46-sample.csv"}, 25,
			map[string]int{events.TypeProductView: 8, events.TypeAddToCart: 2, events.TypeRemoveFromCart: 1, events.TypeOrderPlaced: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			loc, _ := time.LoadLocation("Europe/London")
			evs, report, err := readReplayFiles(tt.format, tt.files, loc)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.IsSortedFunc(evs, func(a, b events.Event) int { return a.Head().EventTime.Compare(b.Head().EventTime) }) {
				t.Error("events not in event-time order across files")
			}
			for typ, n := range tt.wantEvents {
				if report.Events[typ] != n {
					t.Errorf("%s: %d, want %d", typ, report.Events[typ], n)
				}
			}
			if report.TotalEvents() != len(evs) || (tt.rows > 0 && report.Rows != tt.rows) {
				t.Errorf("report %+v for %d events", report, len(evs))
			}
			var sb strings.Builder
			if err := report.Write(&sb); err != nil || !strings.Contains(sb.String(), "rows skipped:") {
				t.Errorf("report text %q, %v", sb.String(), err)
			}
		})
	}
}

func TestReplayCmd_RefusesBadInputBeforeKafka(t *testing.T) {
	t.Setenv("SHOPPULSE_KAFKA_BROKERS", "127.0.0.1:1") // never reached
	good := filepath.Join(t.TempDir(), "x.csv")
	if err := os.WriteFile(good, []byte("a,b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no format", []string{"replay", good}, `"format" not set`},
		{"unknown format", []string{"replay", "--format", "parquet", good}, "--format"},
		{"missing file", []string{"replay", "--format", "rees46", "/no/such.csv"}, "no such file"},
		{"wrong header", []string{"replay", "--format", "rees46", good}, "header"},
		{"no files", []string{"replay", "--format", "rees46"}, "requires at least 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := execute(t, t.Context(), tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
