package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shoppulse/shoppulse/devstack"
)

func TestSkipOverridden(t *testing.T) {
	opts := devstack.Options{}
	own := ownEndpoints(opts)
	tests := []struct {
		name string
		env  map[string]string
		want []devstack.Service
	}{
		{name: "nothing set starts all", want: devstack.AllServices()},
		{
			name: "elsewhere skips that service",
			env:  map[string]string{"SHOPPULSE_DATABASE_URL": "postgres://db.example/x"},
			want: []devstack.Service{devstack.Kafka, devstack.Temporal},
		},
		{
			name: "pointing at the stack itself still starts it",
			env:  map[string]string{"SHOPPULSE_KAFKA_BROKERS": strings.Join(own.KafkaBrokers, ",")},
			want: devstack.AllServices(),
		},
		{
			name: "all elsewhere starts nothing",
			env: map[string]string{
				"SHOPPULSE_DATABASE_URL":     "postgres://db.example/x",
				"SHOPPULSE_KAFKA_BROKERS":    "k1:9092",
				"SHOPPULSE_TEMPORAL_ADDRESS": "t:7233",
			},
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ov := stackOverrides("SHOPPULSE_", func(k string) string { return tt.env[k] })
			got := skipOverridden(devstack.AllServices(), ov, opts, &bytes.Buffer{})
			if !slices.Equal(got, tt.want) {
				t.Errorf("services = %v, want %v", got, tt.want)
			}
		})
	}
}

// The output of `stack up` must be something a shell can eval.
func TestPrintEndpointsIsShellEvaluable(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	ep := devstack.Endpoints{
		DatabaseURL:     "postgres://u:it's@127.0.0.1:1/db?sslmode=disable",
		KafkaBrokers:    []string{"127.0.0.1:2", "127.0.0.1:3"},
		TemporalAddress: "127.0.0.1:4",
		TemporalUI:      "http://127.0.0.1:5",
	}
	var out bytes.Buffer
	printEndpoints(&out, "SHOPPULSE_TEST_", ep, devstack.Options{DataDir: "/d", CacheDir: "/c"})
	script := out.String() + `printf '%s|%s|%s' "$SHOPPULSE_TEST_DATABASE_URL" "$SHOPPULSE_TEST_KAFKA_BROKERS" "$SHOPPULSE_TEST_TEMPORAL_ADDRESS"`
	got, err := exec.Command(sh, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("eval: %v: %s\n%s", err, got, out.String())
	}
	want := ep.DatabaseURL + "|127.0.0.1:2,127.0.0.1:3|127.0.0.1:4"
	if string(got) != want {
		t.Errorf("evaluated to %q, want %q", got, want)
	}
}

func TestIsShopPulseModule(t *testing.T) {
	dir := t.TempDir()
	ours := filepath.Join(dir, "ours.mod")
	other := filepath.Join(dir, "other.mod")
	if err := os.WriteFile(ours, []byte("module github.com/shoppulse/shoppulse\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !isShopPulseModule(ours) || isShopPulseModule(other) || isShopPulseModule(filepath.Join(dir, "missing")) {
		t.Error("isShopPulseModule misjudged a go.mod")
	}
}
