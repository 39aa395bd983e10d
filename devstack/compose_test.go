package devstack

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// docker-compose.yml is the production-shaped stack; devstack is its
// Docker-free twin. This test keeps the compose file loadable by the Compose
// spec loader (schema, interpolation, references) and its ports stable, since
// docs and dashboards point at them.
func TestDockerComposeFile(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(nil), // no host environment: the file must stand alone
		cli.WithInterpolation(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load docker-compose.yml: %v", err)
	}
	if p.Name != "shoppulse" {
		t.Errorf("project name = %q, want shoppulse", p.Name)
	}

	wantPorts := map[string]struct {
		published string
		target    uint32
	}{
		"postgres":      {"5432", 5432},
		"kafka":         {"9092", 9092},
		"temporal":      {"7233", 7233},
		"temporal-ui":   {"8233", 8080},
		"prometheus":    {"9090", 9090},
		"grafana":       {"3000", 3000},
		"shoppulse":     {"9464", 9464},
		"shoppulse-api": {"9465", 9465},
	}
	for name, want := range wantPorts {
		svc, ok := p.Services[name]
		if !ok {
			t.Errorf("service %q missing", name)
			continue
		}
		if !publishes(svc, want.published, want.target) {
			t.Errorf("service %q does not publish %s->%d; ports: %+v", name, want.published, want.target, svc.Ports)
		}
	}
	if svc, ok := p.Services["shoppulse"]; ok {
		if svc.Build == nil || svc.Build.Dockerfile != "Dockerfile" {
			t.Errorf("shoppulse is not built from the Dockerfile: %+v", svc.Build)
		}
		if _, err := os.Stat(filepath.Join(root, "Dockerfile")); err != nil {
			t.Errorf("Dockerfile: %v", err)
		}
		for _, key := range []string{"SHOPPULSE_DATABASE_URL", "SHOPPULSE_KAFKA_BROKERS", "SHOPPULSE_TEMPORAL_ADDRESS", "SHOPPULSE_METRICS_ADDR"} {
			if v := svc.Environment[key]; v == nil || *v == "" {
				t.Errorf("shoppulse lacks %s", key)
			}
		}
		for _, dep := range []string{"postgres", "kafka", "temporal"} {
			if _, ok := svc.DependsOn[dep]; !ok {
				t.Errorf("shoppulse does not depend on %s", dep)
			}
		}
	}
	if svc, ok := p.Services["kafka"]; ok {
		if v := svc.Environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"]; v == nil || *v != "false" {
			t.Error("kafka must not auto-create topics (ShopPulse creates them explicitly)")
		}
	}

	// Every file the stack mounts from the repo exists.
	for name, svc := range p.Services {
		for _, v := range svc.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("service %s mounts %s: %v", name, v.Source, err)
			}
		}
	}
	mounts := func(service, source, target string) {
		t.Helper()
		svc, ok := p.Services[service]
		if !ok {
			return
		}
		for _, v := range svc.Volumes {
			if v.Source == filepath.Join(root, source) && v.Target == target {
				return
			}
		}
		t.Errorf("service %s does not mount %s at %s", service, source, target)
	}
	mounts("prometheus", "deploy/prometheus/prometheus.yml", "/etc/prometheus/prometheus.yml")
	mounts("grafana", "deploy/grafana/provisioning", "/etc/grafana/provisioning")
	mounts("grafana", "deploy/grafana/dashboards", "/etc/grafana/dashboards")

	// The read-only Grafana role gets the password Grafana logs in with.
	worker, grafana := p.Services["shoppulse"], p.Services["grafana"]
	if pw, gpw := worker.Environment["SHOPPULSE_DATABASE_GRAFANA_PASSWORD"], grafana.Environment["GRAFANA_DB_PASSWORD"]; pw == nil || gpw == nil || *pw == "" || *pw != *gpw {
		t.Errorf("the worker's SHOPPULSE_DATABASE_GRAFANA_PASSWORD and grafana's GRAFANA_DB_PASSWORD differ or are missing")
	}
	// Prometheus scrapes every ShopPulse process on the port it serves
	// /metrics on.
	prom, err := os.ReadFile(filepath.Join(root, "deploy/prometheus/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"shoppulse:9464", "shoppulse-api:9465"} {
		if !strings.Contains(string(prom), `"`+target+`"`) {
			t.Errorf("deploy/prometheus/prometheus.yml does not scrape %s", target)
		}
	}
	if v := p.Services["shoppulse-api"].Environment["SHOPPULSE_API_METRICS_ADDR"]; v == nil || *v != "0.0.0.0:9465" {
		t.Errorf("shoppulse-api does not serve /metrics on 0.0.0.0:9465")
	}
}

func publishes(svc types.ServiceConfig, published string, target uint32) bool {
	for _, p := range svc.Ports {
		if p.Published == published && p.Target == target {
			return true
		}
	}
	return false
}
