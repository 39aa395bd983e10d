package devstack

import (
	"bufio"
	"context"
	"encoding/base64"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseServices(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Service
		wantErr bool
	}{
		{name: "empty means all", in: "", want: AllServices()},
		{name: "all keyword", in: "all", want: AllServices()},
		{name: "subset keeps order given", in: "temporal,postgres", want: []Service{Temporal, Postgres}},
		{name: "spaces, case and duplicates", in: " Kafka , kafka,", want: []Service{Kafka}},
		{name: "unknown service", in: "postgres,redis", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseServices(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseServices(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseServices(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	base := Options{DataDir: "d", CacheDir: "c"}.withDefaults()
	tests := []struct {
		name    string
		mutate  func(*Options)
		wantErr string
	}{
		{name: "defaults are valid", mutate: func(*Options) {}},
		{name: "missing data dir", mutate: func(o *Options) { o.DataDir = "" }, wantErr: "data dir"},
		{name: "missing cache dir", mutate: func(o *Options) { o.CacheDir = "" }, wantErr: "cache dir"},
		{name: "port clash", mutate: func(o *Options) { o.KafkaControllerPort = o.KafkaPort }, wantErr: "both 59092"},
		{name: "port out of range", mutate: func(o *Options) { o.TemporalUIPort = 70000 }, wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := base
			tt.mutate(&o)
			err := o.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWithDefaultsFillsPorts(t *testing.T) {
	o := Options{}.withDefaults()
	if o.PostgresPort != 55432 || o.KafkaPort != 59092 || o.KafkaControllerPort != 59093 || o.TemporalPort != 7233 || o.TemporalUIPort != 8233 {
		t.Errorf("defaults = %+v", o)
	}
	if o.Progress == nil {
		t.Error("Progress is nil after withDefaults")
	}
}

// parseProperties reads Java properties in the simple key=value form devstack writes.
func parseProperties(t *testing.T, s string) map[string]string {
	t.Helper()
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("malformed line %q", line)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, dup := m[k]; dup {
			t.Fatalf("duplicate key %q", k)
		}
		m[k] = v
	}
	return m
}

func TestRenderKafkaProperties(t *testing.T) {
	p := parseProperties(t, renderKafkaProperties(59092, 59093, "/data/kafka"))
	want := map[string]string{
		"process.roles":                                    "broker,controller",
		"controller.quorum.voters":                         "1@127.0.0.1:59093",
		"listeners":                                        "PLAINTEXT://127.0.0.1:59092,CONTROLLER://127.0.0.1:59093",
		"advertised.listeners":                             "PLAINTEXT://127.0.0.1:59092",
		"controller.listener.names":                        "CONTROLLER",
		"log.dirs":                                         "/data/kafka",
		"auto.create.topics.enable":                        "false",
		"offsets.topic.replication.factor":                 "1",
		"transaction.state.log.replication.factor":         "1",
		"transaction.state.log.min.isr":                    "1",
		"share.coordinator.state.topic.replication.factor": "1",
		"default.replication.factor":                       "1",
		"group.initial.rebalance.delay.ms":                 "0",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %q, want %q", k, p[k], v)
		}
	}
}

func TestKafkaLog4j2ConfigIsWellFormed(t *testing.T) {
	p := parseProperties(t, kafkaLog4j2)
	if p["rootLogger.appenderRef.stdout.ref"] != p["appender.stdout.name"] {
		t.Errorf("root logger refers to %q, appender is %q", p["rootLogger.appenderRef.stdout.ref"], p["appender.stdout.name"])
	}
	// Every logger.X.name has a logger.X.level.
	for k := range p {
		if id, ok := strings.CutSuffix(k, ".name"); ok && strings.HasPrefix(k, "logger.") {
			if p[id+".level"] == "" {
				t.Errorf("%s has no level", id)
			}
		}
	}
}

func TestRenderPostgresConf(t *testing.T) {
	conf := renderPostgresConf(55432, "/d/it's")
	for _, want := range []string{
		"listen_addresses = '127.0.0.1'\n",
		"port = 55432\n",
		"unix_socket_directories = '/d/it''s'\n",
		"max_connections = 200\n",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
}

func TestSocketDir(t *testing.T) {
	if got := socketDir("/work/main/.data/postgres", 55432); got != "/work/main/.data/postgres" {
		t.Errorf("short path: got %q", got)
	}
	long := "/" + strings.Repeat("x", 100)
	if got := socketDir(long, 55432); got != "" {
		t.Errorf("path over the socket name limit: got %q, want no socket", got)
	}
}

func TestPortOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	if !portOpen(a) {
		t.Errorf("portOpen(%s) = false while listening", a)
	}
	ln.Close()
	if portOpen(a) {
		t.Errorf("portOpen(%s) = true after close", a)
	}
}

func TestNewKafkaClusterID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, err := newKafkaClusterID()
		if err != nil {
			t.Fatal(err)
		}
		b, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(b) != 16 || len(id) != 22 {
			t.Fatalf("id %q: %d bytes, err %v; want 16 bytes of unpadded URL base64", id, len(b), err)
		}
		if strings.HasPrefix(id, "-") {
			t.Fatalf("id %q starts with '-'", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

func TestJavaMajor(t *testing.T) {
	tests := []struct {
		out  string
		want int
	}{
		{`openjdk version "17.0.15" 2025-04-15`, 17},
		{`openjdk version "21" 2023-09-19`, 21},
		{`java version "1.8.0_392"`, 8},
		{`something else`, 0},
	}
	for _, tt := range tests {
		if got := javaMajor(tt.out); got != tt.want {
			t.Errorf("javaMajor(%q) = %d, want %d", tt.out, got, tt.want)
		}
	}
}

func TestTemporalArgs(t *testing.T) {
	got := strings.Join(temporalArgs("/c/temporal", 7233, 8233, "/d/temporal.db"), " ")
	want := "/c/temporal server start-dev --db-filename /d/temporal.db --ip 127.0.0.1 --port 7233 --ui-port 8233 --log-level warn" +
		" --sqlite-pragma journal_mode=wal --sqlite-pragma synchronous=normal" +
		" --search-attribute ShopPulseCustomer=Keyword --search-attribute ShopPulsePartition=KeywordList" +
		" --search-attribute ShopPulsePeriod=Keyword --search-attribute ShopPulseProduct=Keyword --search-attribute ShopPulseTopic=Keyword"
	if got != want {
		t.Errorf("args = %q\nwant    %q", got, want)
	}
}

func TestBuildProgress(t *testing.T) {
	p := filepath.Join(t.TempDir(), "build.log")
	log := "go: downloading a v1\ngo: downloading b v2\ngithub.com/a/x\ngithub.com/b/y\n# github.com/c\n"
	if err := os.WriteFile(p, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	if d, c := buildProgress(p); d != 2 || c != 2 {
		t.Errorf("buildProgress = %d downloaded, %d compiled; want 2, 2", d, c)
	}
}

func TestPOMMatchesKafkaVersion(t *testing.T) {
	if !strings.Contains(string(kafkaPOM), "<kafka.version>"+KafkaVersion+"</kafka.version>") {
		t.Errorf("kafka/pom.xml does not pin Kafka %s", KafkaVersion)
	}
	// Exactly one SLF4J binding, the Log4j 2 one: Kafka 4 logs through Log4j 2.
	if !strings.Contains(string(kafkaPOM), "<artifactId>log4j-slf4j-impl</artifactId>") {
		t.Error("kafka/pom.xml lacks the log4j-slf4j-impl binding")
	}
	if strings.Contains(string(kafkaPOM), "<artifactId>slf4j-reload4j</artifactId>") {
		t.Error("kafka/pom.xml adds slf4j-reload4j, a second SLF4J binding")
	}
}

func TestDaemonOutlivesStarterAndStops(t *testing.T) {
	dir := t.TempDir()
	d := daemon{name: "sleeper", pidFile: filepath.Join(dir, "s.pid"), logFile: filepath.Join(dir, "s.log"), marker: "sleep 300"}
	pid, err := d.start(context.Background(), dir, os.Environ(), "sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = terminate(pid, time.Second) })
	if got := d.alivePID(); got != pid {
		t.Fatalf("alivePID = %d, want %d", got, pid)
	}
	// A pid file pointing at an unrelated process is not trusted.
	other := daemon{pidFile: d.pidFile, marker: "kafka.Kafka"}
	if got := other.alivePID(); got != 0 {
		t.Errorf("alivePID with wrong marker = %d, want 0", got)
	}
	if err := d.stop(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if processAlive(pid) {
		t.Error("process alive after stop")
	}
	if _, err := os.Stat(d.pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	if err := d.stop(time.Second); err != nil {
		t.Errorf("second stop = %v, want nil", err)
	}
}

func TestFlockIsExclusive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "lock")
	unlock, err := flock(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	waited := false
	if _, err := flock(ctx, p, func() { waited = true }); err == nil {
		t.Fatal("second lock succeeded while the first is held")
	}
	if !waited {
		t.Error("waiting callback not called")
	}
	unlock()
	unlock2, err := flock(context.Background(), p, nil)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	unlock2()
}

func TestReachable(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open", "inner")
	if err := os.MkdirAll(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := reachable(open); err != nil {
		t.Errorf("reachable(%s) = %v", open, err)
	}
	if err := os.Chmod(filepath.Join(dir, "open"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := reachable(open); err == nil {
		t.Errorf("reachable(%s) = nil under a 0700 directory", open)
	}
}

func TestPgDataDir_FallsBackWhenPostgresCannotReachTheDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to the postgres user")
	}
	hidden := filepath.Join(t.TempDir(), "private")
	if err := os.MkdirAll(filepath.Join(hidden, "clone", ".data"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := &stack{o: Options{DataDir: filepath.Join(hidden, "clone", ".data")}}
	got := s.pgDataDir()
	if !strings.HasPrefix(got, "/var/tmp/shoppulse-postgres-") {
		t.Fatalf("pgDataDir under an unreachable dir = %s, want one under /var/tmp", got)
	}
	if s.logFile(Postgres) != got+".log" {
		t.Fatalf("postgres log %s, want beside the cluster", s.logFile(Postgres))
	}
	if again := (&stack{o: s.o}).pgDataDir(); again != got {
		t.Fatalf("pgDataDir is not stable: %s then %s", got, again)
	}
}

func TestRenderKafkaProperties_TLSListener(t *testing.T) {
	k := &KafkaTLS{CAFile: "/pki/ca.pem", RequireClientCert: true}
	p := parseProperties(t, k.properties(renderKafkaProperties(59092, 59093, "/data/kafka"), 59092, "/data/keystore.pem"))
	want := map[string]string{
		"listeners":                             "SSL://127.0.0.1:59092,CONTROLLER://127.0.0.1:59093",
		"advertised.listeners":                  "SSL://127.0.0.1:59092",
		"inter.broker.listener.name":            "SSL",
		"listener.security.protocol.map":        "SSL:SSL,CONTROLLER:PLAINTEXT",
		"ssl.keystore.type":                     "PEM",
		"ssl.keystore.location":                 "/data/keystore.pem",
		"ssl.truststore.type":                   "PEM",
		"ssl.truststore.location":               "/pki/ca.pem",
		"ssl.client.auth":                       "required",
		"ssl.endpoint.identification.algorithm": "https",
	}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %q, want %q", k, p[k], v)
		}
	}
}
