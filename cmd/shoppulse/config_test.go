package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// run executes `shoppulse config show ARGS` and returns the loaded app.
func run(t *testing.T, args ...string) (*app, error) {
	t.Helper()
	a := &app{}
	root := buildRootCmd(a)
	root.SetArgs(append([]string{"config", "show"}, args...))
	root.SetOut(new(strings.Builder))
	return a, root.Execute()
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "shoppulse.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfig_PrecedenceFlagOverEnvOverFileOverDefault(t *testing.T) {
	file := writeFile(t, "kafka:\n  brokers: [file:1]\n  partitions: 9\nstream:\n  batch_wait: 1s\n  batch_size: 10\n")
	t.Setenv("SHOPPULSE_KAFKA_BROKERS", "env:1,env:2")
	t.Setenv("SHOPPULSE_STREAM_BATCH_WAIT", "3s")
	a, err := run(t, "--config", file, "--kafka-brokers", "flag:1")
	if err != nil {
		t.Fatal(err)
	}
	c := a.cfg
	if got := strings.Join(c.Kafka.Brokers, ","); got != "flag:1" {
		t.Errorf("flag should win: brokers %s", got)
	}
	if c.Stream.BatchWait != 3*time.Second {
		t.Errorf("env should beat the file: batch_wait %s", c.Stream.BatchWait)
	}
	if c.Kafka.Partitions != 9 || c.Stream.BatchSize != 10 {
		t.Errorf("file should beat defaults: partitions %d, batch size %d", c.Kafka.Partitions, c.Stream.BatchSize)
	}
	if c.Temporal.TaskQueue != "shoppulse" {
		t.Errorf("default task queue: %q", c.Temporal.TaskQueue)
	}
}

func TestConfig_EnvListIsCommaSeparated(t *testing.T) {
	t.Setenv("SHOPPULSE_KAFKA_BROKERS", "a:1,b:2")
	a, err := run(t)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(a.cfg.Kafka.Brokers, "|"); got != "a:1|b:2" {
		t.Fatalf("brokers %s", got)
	}
}

func TestConfig_ErrorsNameTheKey(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		file string
		want []string
	}{
		{"bad number in env", map[string]string{"SHOPPULSE_STREAM_CONSUMERS": "two"}, "", []string{"stream.consumers"}},
		{"bad duration in env", map[string]string{"SHOPPULSE_STREAM_BATCH_WAIT": "soon"}, "", []string{"stream.batch_wait"}},
		{"unknown key in file", nil, "stream:\n  consumer: 3\n", []string{"consumer"}},
		{"several bad values", nil, "stream:\n  consumers: 0\nlog:\n  level: loud\n", []string{"stream.consumers", "log.level"}},
		{"not a postgres url", map[string]string{"SHOPPULSE_DATABASE_URL": "mysql://db"}, "", []string{"database.url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var args []string
			if tt.file != "" {
				args = []string{"--config", writeFile(t, tt.file)}
			}
			_, err := run(t, args...)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("want a config error, got %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestConfig_MissingFileIsAnError(t *testing.T) {
	_, err := run(t, "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}

func TestConfig_ExampleFileLoadsAndEqualsDefaults(t *testing.T) {
	a, err := run(t, "--config", "../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, err := run(t)
	if err != nil {
		t.Fatal(err)
	}
	ga, gb := a.cfg, b.cfg
	if ga.Database != gb.Database || ga.Stream != gb.Stream || ga.Temporal != gb.Temporal || ga.Generate != gb.Generate ||
		ga.Dev != gb.Dev || !slices.Equal(ga.Schedules, gb.Schedules) {
		t.Fatalf("config.example.yaml drifted from the defaults:\n%+v\n%+v", ga, gb)
	}
}

func TestConfig_AlertWebhooksFromTheFileSecretsNeverShown(t *testing.T) {
	file := writeFile(t, "alerts:\n  webhooks:\n    - url: https://hook:pw@hooks.example.com/a\n      secret: s3cret-value\n")
	a := &app{}
	root := buildRootCmd(a)
	root.SetArgs([]string{"config", "show", "--config", file})
	out := new(strings.Builder)
	root.SetOut(out)
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if hooks := a.cfg.Alerts.Webhooks; len(hooks) != 1 || hooks[0].Secret != "s3cret-value" || hooks[0].URL != "https://hook:pw@hooks.example.com/a" {
		t.Fatalf("webhooks %+v", hooks)
	}
	if strings.Contains(out.String(), "s3cret-value") || strings.Contains(out.String(), ":pw@") {
		t.Fatalf("config show prints a secret:\n%s", out)
	}
	_, err := run(t, "--config", writeFile(t, "alerts:\n  webhooks:\n    - url: ftp://x\n      secret: s3cret-value\n    - url: https://ok\n"))
	if err == nil || !strings.Contains(err.Error(), "alerts.webhooks[0].url") || !strings.Contains(err.Error(), "alerts.webhooks[1].secret") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("want errors naming both keys and no secret, got %v", err)
	}
}
