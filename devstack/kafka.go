package devstack

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// kafkaPOM lists the broker's runtime jars; Maven copies them into the cache.
//
//go:embed kafka/pom.xml
var kafkaPOM []byte

const kafkaMain = "kafka.Kafka"

func (s *stack) kafkaAddr() string    { return addr(s.o.KafkaPort) }
func (s *stack) kafkaDir() string     { return filepath.Join(s.o.DataDir, "kafka") }
func (s *stack) kafkaHome() string    { return filepath.Join(s.o.CacheDir, "kafka-"+KafkaVersion) }
func (s *stack) kafkaLibsDir() string { return filepath.Join(s.kafkaHome(), "libs") }

func (s *stack) kafkaProc() daemon {
	return daemon{
		name:    "kafka",
		pidFile: filepath.Join(s.kafkaDir(), "kafka.pid"),
		logFile: s.logFile(Kafka),
		marker:  kafkaMain,
	}
}

// upKafka starts the broker (or reuses one on the port) and waits until it
// answers Metadata with itself registered. When Java or Maven is missing and
// the options allow it, it serves the port with an in-process kfake broker and
// returns its closer.
func (s *stack) upKafka(ctx context.Context) ([]string, func() error, error) {
	brokers := []string{s.kafkaAddr()}
	proc := s.kafkaProc()
	if portOpen(s.kafkaAddr()) {
		if pid := proc.alivePID(); pid != 0 {
			s.logf(Kafka, "already running on %s (pid %d)", s.kafkaAddr(), pid)
		} else {
			s.logf(Kafka, "something already listens on %s: reusing it", s.kafkaAddr())
		}
		return brokers, nil, waitFor(ctx, 60*time.Second, 250*time.Millisecond, s.kafkaReady(0))
	}
	if pid := proc.alivePID(); pid != 0 {
		s.logf(Kafka, "pid %d is still starting; waiting for it", pid)
		return brokers, nil, waitFor(ctx, 2*time.Minute, 250*time.Millisecond, s.kafkaReady(pid))
	}

	java, missing := s.kafkaPrerequisites(ctx)
	if missing != "" {
		if !s.o.AllowInProcessKafka || s.o.KafkaTLS != nil {
			return brokers, nil, fmt.Errorf("a real Kafka broker needs %s (apt-get install default-jre-headless maven); the in-process fallback is disabled here", missing)
		}
		s.logf(Kafka, "*** no Java/Maven (%s): using an in-process Kafka-protocol broker (kfake) on %s; tests always use a real broker ***", missing, s.kafkaAddr())
		closer, err := s.startFakeKafka()
		return brokers, closer, err
	}

	if ctl := addr(s.o.KafkaControllerPort); portOpen(ctl) {
		return brokers, nil, fmt.Errorf("the controller port %s is taken by another process", ctl)
	}
	if err := s.fetchKafka(ctx); err != nil {
		return brokers, nil, err
	}
	if err := os.MkdirAll(filepath.Join(s.kafkaDir(), "data"), 0o755); err != nil {
		return brokers, nil, fmt.Errorf("create kafka dir: %w", err)
	}
	props := filepath.Join(s.kafkaDir(), "server.properties")
	rendered := renderKafkaProperties(s.o.KafkaPort, s.o.KafkaControllerPort, filepath.Join(s.kafkaDir(), "data"))
	if s.o.KafkaTLS != nil {
		keystore := filepath.Join(s.kafkaDir(), "keystore.pem")
		if err := s.o.KafkaTLS.writeKeystore(keystore); err != nil {
			return brokers, nil, err
		}
		rendered = s.o.KafkaTLS.properties(rendered, s.o.KafkaPort, keystore)
	}
	if err := os.WriteFile(props, []byte(rendered), 0o644); err != nil {
		return brokers, nil, fmt.Errorf("write server.properties: %w", err)
	}
	log4j := filepath.Join(s.kafkaDir(), "log4j2.properties")
	if err := os.WriteFile(log4j, []byte(kafkaLog4j2), 0o644); err != nil {
		return brokers, nil, fmt.Errorf("write log4j2.properties: %w", err)
	}
	classpath := filepath.Join(s.kafkaLibsDir(), "*")
	jvm := []string{java, "-Dlog4j2.configurationFile=" + log4j, "-Djava.awt.headless=true", "-cp", classpath}

	if _, err := os.Stat(filepath.Join(s.kafkaDir(), "data", "meta.properties")); errors.Is(err, os.ErrNotExist) {
		if err := s.formatKafka(ctx, jvm, props); err != nil {
			return brokers, nil, err
		}
	}

	s.logf(Kafka, "starting Apache Kafka %s on %s (log %s)", KafkaVersion, s.kafkaAddr(), proc.logFile)
	argv := append([]string{jvm[0], "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError"}, jvm[1:]...)
	argv = append(argv, kafkaMain, props)
	pid, err := proc.start(ctx, s.kafkaDir(), os.Environ(), argv...)
	if err != nil {
		return brokers, nil, err
	}
	return brokers, nil, waitFor(ctx, 2*time.Minute, 250*time.Millisecond, s.kafkaReady(pid))
}

// kafkaReady returns a check that the broker answers a Metadata request and
// lists at least one broker (in KRaft the listener opens before the broker
// has registered). kafka.Client negotiates API versions, which Kafka 4 needs:
// it dropped the old versions kafka-go's Conn uses. With pid != 0 the check
// fails for good when that process dies.
func (s *stack) kafkaReady(pid int) func(context.Context) error {
	client := &kafka.Client{Addr: kafka.TCP(s.kafkaAddr()), Timeout: 3 * time.Second}
	if s.o.KafkaTLS != nil {
		client.Transport = &kafka.Transport{TLS: s.o.KafkaTLS.Client}
	}
	return func(ctx context.Context) error {
		if pid != 0 && !processAlive(pid) {
			return diedError("kafka", s.logFile(Kafka))
		}
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{})
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		if len(md.Brokers) == 0 {
			return errors.New("metadata: no broker registered yet")
		}
		return nil
	}
}

func (s *stack) formatKafka(ctx context.Context, jvm []string, props string) error {
	id, err := newKafkaClusterID()
	if err != nil {
		return err
	}
	s.logf(Kafka, "formatting storage (cluster id %s)", id)
	argv := append(append([]string{}, jvm...), "-Xmx256m", "kafka.tools.StorageTool", "format", "--ignore-formatted", "-t", id, "-c", props)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = s.kafkaDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("format kafka storage: %w: %s", err, tailString(string(out), 15))
	}
	if err := os.WriteFile(filepath.Join(s.kafkaDir(), "cluster.id"), []byte(id+"\n"), 0o644); err != nil {
		return fmt.Errorf("write cluster.id: %w", err)
	}
	return nil
}

// newKafkaClusterID returns a random Kafka Uuid in its string form: 16 bytes,
// URL-safe base64 without padding, never starting with '-' (the broker's own
// generator rejects those because they parse as command-line flags).
func newKafkaClusterID() (string, error) {
	for {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("cluster id: %w", err)
		}
		id := base64.RawURLEncoding.EncodeToString(b[:])
		if !strings.HasPrefix(id, "-") {
			return id, nil
		}
	}
}

// renderKafkaProperties returns server.properties for one node that is both
// controller and broker, on loopback, with single-replica internal topics and
// no implicit topic creation (topics are created explicitly, as in production).
func renderKafkaProperties(port, controllerPort int, logDir string) string {
	return fmt.Sprintf(`# Written by devstack on every start; edits are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%[2]d
listeners=PLAINTEXT://127.0.0.1:%[1]d,CONTROLLER://127.0.0.1:%[2]d
advertised.listeners=PLAINTEXT://127.0.0.1:%[1]d
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=%[3]s
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
auto.create.topics.enable=false
delete.topic.enable=true
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
log.retention.hours=168
log.segment.bytes=67108864
`, port, controllerPort, logDir)
}

// KafkaTLS is the TLS of the broker's client listener, from PEM files
// (Kafka reads PEM keystores and truststores itself since 2.7).
type KafkaTLS struct {
	// CertFile and KeyFile are the broker's certificate chain and its
	// unencrypted PKCS#8 private key.
	CertFile, KeyFile string
	// CAFile holds the CAs the broker trusts for client certificates.
	CAFile string
	// RequireClientCert makes the broker refuse clients without a
	// certificate signed by CAFile (ssl.client.auth=required: mTLS).
	RequireClientCert bool
	// Client is how devstack's own readiness check connects: it must trust
	// the broker's certificate and, with RequireClientCert, present one.
	Client *tls.Config
}

// writeKeystore writes the key and the chain into one PEM file, the form of
// ssl.keystore.location with ssl.keystore.type=PEM.
func (k *KafkaTLS) writeKeystore(path string) error {
	key, err := os.ReadFile(k.KeyFile)
	if err != nil {
		return fmt.Errorf("kafka tls key: %w", err)
	}
	chain, err := os.ReadFile(k.CertFile)
	if err != nil {
		return fmt.Errorf("kafka tls certificate: %w", err)
	}
	if err := os.WriteFile(path, append(append(key, '\n'), chain...), 0o600); err != nil {
		return fmt.Errorf("write kafka keystore: %w", err)
	}
	return nil
}

// properties turns the plaintext client listener of props into an SSL one.
func (k *KafkaTLS) properties(props string, port int, keystore string) string {
	plain := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", port)
	props = strings.ReplaceAll(props, plain, fmt.Sprintf("SSL://127.0.0.1:%d", port))
	props = strings.Replace(props, "inter.broker.listener.name=PLAINTEXT", "inter.broker.listener.name=SSL", 1)
	props = strings.Replace(props, "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,", "listener.security.protocol.map=SSL:SSL,", 1)
	auth := "none"
	if k.RequireClientCert {
		auth = "required"
	}
	return props + fmt.Sprintf(`ssl.keystore.type=PEM
ssl.keystore.location=%s
ssl.truststore.type=PEM
ssl.truststore.location=%s
ssl.client.auth=%s
ssl.endpoint.identification.algorithm=https
`, keystore, k.CAFile, auth)
}

// kafkaLog4j2 keeps the broker log readable: start-up and warnings, without
// the config dumps and per-partition lines every test topic would add.
const kafkaLog4j2 = `# Written by devstack on every start; edits are lost.
status = warn
appender.stdout.type = Console
appender.stdout.name = STDOUT
appender.stdout.layout.type = PatternLayout
appender.stdout.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.config.name = org.apache.kafka.common.config.AbstractConfig
logger.config.level = WARN
logger.log.name = org.apache.kafka.storage.internals.log
logger.log.level = WARN
logger.logmanager.name = kafka.log
logger.logmanager.level = WARN
logger.cluster.name = kafka.cluster
logger.cluster.level = WARN
logger.partition.name = kafka.server.ReplicaFetcherManager
logger.partition.level = WARN
logger.replication.name = org.apache.kafka.controller.ReplicationControlManager
logger.replication.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.coordinator.name = org.apache.kafka.coordinator
logger.coordinator.level = WARN
logger.groups.name = kafka.coordinator.group
logger.groups.level = WARN
`

func (s *stack) downKafka() error {
	proc := s.kafkaProc()
	if pid := proc.alivePID(); pid != 0 {
		s.logf(Kafka, "stopping (pid %d)", pid)
	}
	return proc.stop(45 * time.Second)
}

// kafkaPrerequisites returns the java binary, or what is missing for a real
// broker: Java 17+, and Maven unless the jars are already cached.
func (s *stack) kafkaPrerequisites(ctx context.Context) (java, missing string) {
	java, err := exec.LookPath("java")
	if err != nil {
		return "", "java (17 or newer)"
	}
	out, err := exec.CommandContext(ctx, java, "-version").CombinedOutput()
	if err != nil {
		return "", "a working java: " + strings.TrimSpace(string(out))
	}
	if v := javaMajor(string(out)); v != 0 && v < 17 {
		return "", fmt.Sprintf("java 17 or newer (found %d)", v)
	}
	if s.kafkaCached() {
		return java, ""
	}
	if _, err := exec.LookPath("mvn"); err != nil {
		return "", "mvn (to fetch the Kafka jars once)"
	}
	return java, ""
}

// javaMajor parses `java -version` output: "1.8.0_392" is 8, "17.0.15" is 17.
// It returns 0 when it cannot tell.
func javaMajor(out string) int {
	m := regexp.MustCompile(`version "(\d+)(?:\.(\d+))?`).FindStringSubmatch(out)
	if m == nil {
		return 0
	}
	major, _ := strconv.Atoi(m[1])
	if major == 1 && m[2] != "" {
		major, _ = strconv.Atoi(m[2])
	}
	return major
}

// kafkaCached reports whether the cache holds the jars of the current pom: a
// marker written after a complete fetch records the pom's hash.
func (s *stack) kafkaCached() bool {
	b, err := os.ReadFile(filepath.Join(s.kafkaLibsDir(), ".complete"))
	return err == nil && strings.TrimSpace(string(b)) == pomHash()
}

func pomHash() string {
	sum := sha256.Sum256(kafkaPOM)
	return hex.EncodeToString(sum[:])
}

// fetchKafka fills the cache with the broker's jars using Maven, unless a
// complete copy for the current pom is there. It fetches into a fresh
// directory and swaps it in, so an interrupted fetch never leaves a
// half-filled libs dir that looks complete.
func (s *stack) fetchKafka(ctx context.Context) error {
	if s.kafkaCached() {
		return nil
	}
	home := s.kafkaHome()
	if err := os.MkdirAll(home, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", home, err)
	}
	unlock, err := flock(ctx, filepath.Join(home, ".fetch.lock"), func() {
		s.logf(Kafka, "waiting for another fetch of the Kafka jars")
	})
	if err != nil {
		return err
	}
	defer unlock()
	if s.kafkaCached() {
		return nil
	}
	pom := filepath.Join(home, "pom.xml")
	if err := os.WriteFile(pom, kafkaPOM, 0o644); err != nil {
		return fmt.Errorf("write pom: %w", err)
	}
	staging := filepath.Join(home, "libs.partial")
	if err := os.RemoveAll(staging); err != nil {
		return fmt.Errorf("clean %s: %w", staging, err)
	}
	logPath := filepath.Join(s.o.CacheDir, "logs", "kafka-fetch.log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return fmt.Errorf("create log dir: %w", err)
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return fmt.Errorf("create %s: %w", logPath, err)
	}
	defer logFile.Close()

	s.logf(Kafka, "fetching Apache Kafka %s jars from Maven Central into %s (once per machine; log %s)", KafkaVersion, s.kafkaLibsDir(), logPath)
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, "mvn", "-B", "-f", pom,
		"dependency:copy-dependencies", "-DincludeScope=runtime", "-DoutputDirectory="+staging)
	cmd.Dir = home
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run mvn: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.relayMaven(pr, logFile)
	}()
	err = cmd.Wait()
	_ = pw.Close()
	<-done
	if err != nil {
		return fmt.Errorf("mvn dependency:copy-dependencies: %w (see %s)\n%s", err, logPath, tail(logPath, 15))
	}
	if err := os.WriteFile(filepath.Join(staging, ".complete"), []byte(pomHash()+"\n"), 0o644); err != nil {
		return fmt.Errorf("write marker: %w", err)
	}
	if err := os.RemoveAll(s.kafkaLibsDir()); err != nil {
		return fmt.Errorf("remove old jars: %w", err)
	}
	if err := os.Rename(staging, s.kafkaLibsDir()); err != nil {
		return fmt.Errorf("install jars: %w", err)
	}
	s.logf(Kafka, "fetched the Kafka jars in %s", time.Since(t0).Round(time.Second))
	return nil
}

// relayMaven copies Maven's output to the log and shows the download lines
// (which name each jar as it arrives) and errors as progress.
func (s *stack) relayMaven(r io.Reader, log io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := stripANSI(sc.Text())
		_, _ = fmt.Fprintln(log, line)
		if strings.HasPrefix(line, "Downloaded from") || strings.HasPrefix(line, "[ERROR]") || strings.Contains(line, "BUILD") {
			s.logf(Kafka, "mvn: %s", line)
		}
	}
	_, _ = io.Copy(io.Discard, r)
}

func stripANSI(s string) string { return regexp.MustCompile(`\x1b\[[0-9;]*m`).ReplaceAllString(s, "") }

func tailString(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startFakeKafka serves the Kafka port from this process with kfake, keeping
// its data under the data dir so a restarted `shoppulse dev` keeps topics.
func (s *stack) startFakeKafka() (func() error, error) {
	c, err := kfake.NewCluster(
		kfake.Ports(s.o.KafkaPort),
		kfake.DataDir(filepath.Join(s.o.DataDir, "kfake")),
	)
	if err != nil {
		return nil, fmt.Errorf("start in-process kafka: %w", err)
	}
	return func() error { c.Close(); return nil }, nil
}
