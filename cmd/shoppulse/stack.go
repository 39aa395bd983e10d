package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/devstack"
)

// stackFlags are the flags shared by `stack up`, `down` and `status`.
type stackFlags struct {
	dataDir   string
	cacheDir  string
	services  string
	envPrefix string
}

// newStackCmd returns `shoppulse stack`: the local Postgres, Kafka and
// Temporal that `make test` and `shoppulse dev` use.
func newStackCmd() *cobra.Command {
	var f stackFlags
	cmd := &cobra.Command{
		Use:   "stack",
		Short: "Start, stop and inspect the local dev stack (PostgreSQL, Kafka, Temporal)",
		// The stack has its own flags; a broken config must not stop `stack down`.
		Annotations: map[string]string{noConfigAnnotation: "true"},
		Long: `The dev stack runs real services on 127.0.0.1 as detached processes that
outlive this command: PostgreSQL (55432), Apache Kafka in KRaft mode (59092)
and the Temporal dev server (7233, Web UI 8233). State lives in the data dir
(.data/ in the repo), downloads and builds in the cache dir (~/.cache/shoppulse).

A service whose SHOPPULSE_* variable (with --env-prefix) already points
somewhere else is not started: that endpoint is used as is.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.dataDir, "data-dir", "", "state, logs and pid files (default: .data in the repo root)")
	pf.StringVar(&f.cacheDir, "cache-dir", "", "Kafka jars and the temporal CLI (default: ~/.cache/shoppulse)")
	pf.StringVar(&f.services, "services", "postgres,kafka,temporal", "comma-separated services")
	cmd.AddCommand(newStackUpCmd(&f), newStackDownCmd(&f), newStackStatusCmd(&f))
	return cmd
}

func newStackUpCmd(f *stackFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the services (reusing running ones) and print their endpoints as shell exports",
		Long: `Start the services and wait until they answer. Progress goes to stderr;
stdout is only comments and export lines, so a shell can use it directly:

  eval "$(shoppulse stack up)"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := stackOptions(*f, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			services, err := devstack.ParseServices(f.services)
			if err != nil {
				return err
			}
			ov := stackOverrides(f.envPrefix, os.Getenv)
			services = skipOverridden(services, ov, opts, cmd.ErrOrStderr())

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			t0 := time.Now()
			ep, closeInProcess, err := devstack.Up(ctx, opts, services...)
			if err != nil {
				_ = closeInProcess()
				return fmt.Errorf("stack up: %w", err)
			}
			// `stack up` never allows the in-process broker, so there is nothing
			// to keep alive here.
			_ = closeInProcess()
			fmt.Fprintf(cmd.ErrOrStderr(), "devstack: up in %s\n", time.Since(t0).Round(100*time.Millisecond))
			printEndpoints(cmd.OutOrStdout(), f.envPrefix, mergeOverrides(ep, ov), opts)
			return nil
		},
	}
	cmd.Flags().StringVar(&f.envPrefix, "env-prefix", "SHOPPULSE_", "prefix of the printed (and honoured) variables, e.g. SHOPPULSE_TEST_")
	return cmd
}

func newStackDownCmd(f *stackFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop every service the stack started (state is kept; `make clean` removes it)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := stackOptions(*f, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if err := devstack.Down(opts); err != nil {
				return fmt.Errorf("stack down: %w", err)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "devstack: down")
			return nil
		},
	}
}

func newStackStatusCmd(f *stackFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show which services run, where, and their log files",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts, err := stackOptions(*f, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			sts, err := devstack.Status(opts)
			if err != nil {
				return fmt.Errorf("stack status: %w", err)
			}
			for _, st := range sts {
				fmt.Fprintf(cmd.OutOrStdout(), "%s  log %s\n", st, st.LogFile)
			}
			return nil
		},
	}
}

// stackOptions resolves the directory defaults. `shoppulse dev` can use it
// too, setting AllowInProcessKafka on the result.
func stackOptions(f stackFlags, progress io.Writer) (devstack.Options, error) {
	opts := devstack.Options{DataDir: f.dataDir, CacheDir: f.cacheDir, Progress: progress}
	if opts.DataDir == "" {
		root, err := repoRoot()
		if err != nil {
			return opts, err
		}
		opts.DataDir = filepath.Join(root, ".data")
	}
	if opts.CacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return opts, fmt.Errorf("cache dir: %w (pass --cache-dir)", err)
		}
		opts.CacheDir = filepath.Join(base, "shoppulse")
	}
	return opts, nil
}

// repoRoot is the nearest directory at or above the working directory whose
// go.mod declares this module, else the working directory.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if isShopPulseModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return wd, nil
		}
	}
}

func isShopPulseModule(goMod string) bool {
	fh, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			return fields[1] == "github.com/shoppulse/shoppulse"
		}
	}
	return false
}

// overrides are endpoints given through the environment instead of the stack.
type overrides struct {
	databaseURL     string
	kafkaBrokers    string
	temporalAddress string
}

func stackOverrides(prefix string, getenv func(string) string) overrides {
	return overrides{
		databaseURL:     getenv(prefix + "DATABASE_URL"),
		kafkaBrokers:    getenv(prefix + "KAFKA_BROKERS"),
		temporalAddress: getenv(prefix + "TEMPORAL_ADDRESS"),
	}
}

// skipOverridden drops the services whose endpoint the environment already
// names, unless it names the stack's own endpoint.
func skipOverridden(services []devstack.Service, ov overrides, opts devstack.Options, log io.Writer) []devstack.Service {
	own := ownEndpoints(opts)
	var out []devstack.Service
	for _, svc := range services {
		var given, mine string
		switch svc {
		case devstack.Postgres:
			given, mine = ov.databaseURL, own.DatabaseURL
		case devstack.Kafka:
			given, mine = ov.kafkaBrokers, strings.Join(own.KafkaBrokers, ",")
		case devstack.Temporal:
			given, mine = ov.temporalAddress, own.TemporalAddress
		}
		if given != "" && given != mine {
			fmt.Fprintf(log, "devstack: %s: not starting it, the environment points at %s\n", svc, given)
			continue
		}
		out = append(out, svc)
	}
	return out
}

// ownEndpoints are the endpoints the stack serves with opts' ports.
func ownEndpoints(opts devstack.Options) devstack.Endpoints {
	port := func(p, def int) int {
		if p == 0 {
			return def
		}
		return p
	}
	return devstack.Endpoints{
		DatabaseURL:     fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", port(opts.PostgresPort, devstack.DefaultPostgresPort), devstack.DatabaseName),
		KafkaBrokers:    []string{fmt.Sprintf("127.0.0.1:%d", port(opts.KafkaPort, devstack.DefaultKafkaPort))},
		TemporalAddress: fmt.Sprintf("127.0.0.1:%d", port(opts.TemporalPort, devstack.DefaultTemporalPort)),
	}
}

func mergeOverrides(ep devstack.Endpoints, ov overrides) devstack.Endpoints {
	if ep.DatabaseURL == "" {
		ep.DatabaseURL = ov.databaseURL
	}
	if len(ep.KafkaBrokers) == 0 && ov.kafkaBrokers != "" {
		ep.KafkaBrokers = strings.Split(ov.kafkaBrokers, ",")
	}
	if ep.TemporalAddress == "" {
		ep.TemporalAddress = ov.temporalAddress
	}
	return ep
}

// printEndpoints writes comments and export lines only, so the output can be
// eval'd by a shell.
func printEndpoints(w io.Writer, prefix string, ep devstack.Endpoints, opts devstack.Options) {
	if ep.DatabaseURL != "" {
		fmt.Fprintf(w, "# postgres  %s   (psql '%s')\n", ep.DatabaseURL, ep.DatabaseURL)
	}
	if len(ep.KafkaBrokers) > 0 {
		fmt.Fprintf(w, "# kafka     %s\n", strings.Join(ep.KafkaBrokers, ","))
	}
	if ep.TemporalAddress != "" {
		ui := ""
		if ep.TemporalUI != "" {
			ui = "   Web UI " + ep.TemporalUI
		}
		fmt.Fprintf(w, "# temporal  %s%s   (%s workflow list --address %s)\n", ep.TemporalAddress, ui, devstack.TemporalCLI(opts.CacheDir), ep.TemporalAddress)
	}
	fmt.Fprintf(w, "# logs      %s\n", filepath.Join(opts.DataDir, "logs"))
	export := func(name, value string) {
		if value != "" {
			fmt.Fprintf(w, "export %s%s=%s\n", prefix, name, shellQuote(value))
		}
	}
	export("DATABASE_URL", ep.DatabaseURL)
	export("KAFKA_BROKERS", strings.Join(ep.KafkaBrokers, ","))
	export("TEMPORAL_ADDRESS", ep.TemporalAddress)
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
