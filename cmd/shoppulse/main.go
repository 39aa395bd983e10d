// Command shoppulse is ShopPulse's one binary: the worker, the dev stack, the
// simulator, migrations and schedules. It does the wiring: it reads the
// config (flags > SHOPPULSE_* environment > YAML file > defaults), builds the
// logger and hands typed configs to the packages below.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "shoppulse:", err)
		var ce *configError
		if errors.As(err, &ce) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command { return buildRootCmd(&app{}) }

// buildRootCmd builds the command tree around app, which every subcommand
// shares and the config loader fills in.
func buildRootCmd(app *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "shoppulse",
		Short:         "Real-time e-commerce analytics on Kafka, Temporal and PostgreSQL",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return app.load(cmd)
		},
	}
	addConfigFlags(root)
	root.AddCommand(
		newVersionCmd(),
		newMigrateCmd(app),
		newWorkerCmd(app),
		newGenerateCmd(app),
		newSchedulesCmd(app),
		newDevCmd(app),
		newStackCmd(),
		newConfigCmd(app),
		newAPICmd(app),
		newAPIKeyCmd(app),
		newBenchCmd(app),
		newReplayCmd(app),
		newDLQCmd(app),
		newJourneyCmd(app),
		newSchemasCmd(),
		newVerifyCmd(app),
		newStatusCmd(app),
	)
	return root
}

// app is what every subcommand shares: the loaded config and the logger.
type app struct {
	cfg configT
	log *slog.Logger
	pm  procMetrics // the process's /metrics registry (metrics.go)
	// kafkaTLS and temporalTLS are built once from kafka.tls and
	// temporal.tls at load (tls.go); nil means plaintext.
	kafkaTLS, temporalTLS *tls.Config
}
