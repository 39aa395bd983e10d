package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/shoppulse/shoppulse/config"
)

type configT = config.Config

// keyAnnotation ties a flag to the config key it sets.
const keyAnnotation = "shoppulse/key"

// noConfigAnnotation marks commands that run without loading the config.
const noConfigAnnotation = "shoppulse/noconfig"

// defaultConfigFile is read when present and no --config is given.
const defaultConfigFile = "shoppulse.yaml"

// configError is a configuration that cannot be used; main exits with 2.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

func addConfigFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.String("config", "", "YAML config file (default ./"+defaultConfigFile+" when present; env SHOPPULSE_CONFIG)")
	bindFlag(f, f.String("database-url", "", "PostgreSQL URL"), "database-url", "database.url")
	bindFlag(f, f.StringSlice("kafka-brokers", nil, "Kafka brokers, host:port, comma separated"), "kafka-brokers", "kafka.brokers")
	bindFlag(f, f.String("temporal-address", "", "Temporal frontend host:port"), "temporal-address", "temporal.address")
	bindFlag(f, f.String("log-level", "", "debug, info, warn or error"), "log-level", "log.level")
}

// bindFlag records which config key a flag sets. The value argument only
// keeps the flag definition on one line at the call site.
func bindFlag(fs *pflag.FlagSet, _ any, name, key string) {
	if err := fs.SetAnnotation(name, keyAnnotation, []string{key}); err != nil {
		panic(err) // a programming error: the flag was not defined
	}
}

// load builds the config for cmd: defaults, then the YAML file, then
// SHOPPULSE_* environment variables, then flags that were set.
func (a *app) load(cmd *cobra.Command) error {
	if needsNoConfig(cmd) {
		a.cfg = config.Default()
		a.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
		return nil
	}
	v := viper.New()
	setDefaults(v, "", reflect.ValueOf(config.Default()))
	v.SetEnvPrefix("SHOPPULSE")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()

	file, _ := cmd.Flags().GetString("config")
	if file == "" {
		file = os.Getenv("SHOPPULSE_CONFIG")
	}
	if file == "" {
		if _, err := os.Stat(defaultConfigFile); err == nil {
			file = defaultConfigFile
		}
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return &configError{fmt.Errorf("read config file %s: %w", file, err)}
		}
	}

	var bindErr error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if keys := f.Annotations[keyAnnotation]; len(keys) == 1 && f.Changed {
			bindErr = errors.Join(bindErr, v.BindPFlag(keys[0], f))
		}
	})
	if bindErr != nil {
		return bindErr
	}

	var cfg config.Config
	err := v.Unmarshal(&cfg, func(dc *mapstructure.DecoderConfig) {
		dc.ErrorUnused = true
		dc.DecodeHook = mapstructure.ComposeDecodeHookFunc(
			mapstructure.StringToTimeDurationHookFunc(),
			mapstructure.StringToSliceHookFunc(","),
		)
	})
	if err != nil {
		return &configError{fmt.Errorf("invalid configuration: %w", err)}
	}
	cfg.Dev.CacheDir = expandHome(cfg.Dev.CacheDir)
	if err := cfg.Validate(); err != nil {
		return &configError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	a.cfg = cfg
	if err := a.buildTLS(); err != nil {
		return &configError{fmt.Errorf("invalid configuration:\n%w", err)}
	}
	a.log = newLogger(cfg.Log)
	return nil
}

// needsNoConfig reports whether cmd or a parent is marked to run without the
// config: `stack down` must work whatever state the config is in.
func needsNoConfig(cmd *cobra.Command) bool {
	for c := cmd; c != nil; c = c.Parent() {
		if c.Annotations[noConfigAnnotation] == "true" {
			return true
		}
	}
	return false
}

// setDefaults registers every leaf of the default config with viper, so that
// environment variables can override keys the file does not mention.
func setDefaults(v *viper.Viper, prefix string, rv reflect.Value) {
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		tag := rt.Field(i).Tag.Get("mapstructure")
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		fv := rv.Field(i)
		if fv.Kind() == reflect.Struct && fv.Type() != reflect.TypeOf(time.Time{}) {
			setDefaults(v, key, fv)
			continue
		}
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct {
			// A list of structs is set whole, as maps, the way a file would.
			var list []map[string]any
			for j := 0; j < fv.Len(); j++ {
				m := map[string]any{}
				if err := mapstructure.Decode(fv.Index(j).Interface(), &m); err == nil {
					list = append(list, m)
				}
			}
			v.SetDefault(key, list)
			continue
		}
		v.SetDefault(key, fv.Interface())
	}
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

func newLogger(c config.Log) *slog.Logger { return newLoggerTo(c, os.Stderr) }

// newLoggerTo is the process logger writing to w: JSON or text at the level.
func newLoggerTo(c config.Log, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func newConfigCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration (passwords and webhook secrets redacted) as JSON",
		RunE: func(cmd *cobra.Command, _ []string) error {
			c := a.cfg
			if u, err := url.Parse(c.Database.URL); err == nil {
				c.Database.URL = u.Redacted()
			}
			if c.Database.GrafanaPassword != "" {
				c.Database.GrafanaPassword = "xxxxx"
			}
			hooks := make([]config.Webhook, len(c.Alerts.Webhooks))
			for i, w := range c.Alerts.Webhooks {
				hooks[i] = config.Webhook{URL: w.String(), Secret: "xxxxx"}
			}
			c.Alerts.Webhooks = hooks
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(c)
		},
	})
	return cmd
}
