package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/shoppulse/shoppulse/events"
	"github.com/spf13/cobra"
)

// newSchemasCmd prints the event catalogue's JSON Schemas and checks that
// every version is compatible with its predecessor. It needs no config: the
// schemas are embedded in the binary.
func newSchemasCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:         "schemas",
		Short:       "List, show and check the event catalogue's JSON Schemas",
		Annotations: map[string]string{noConfigAnnotation: "true"},
	}
	cmd.AddCommand(newSchemasListCmd(), newSchemasShowCmd(), newSchemasCheckCmd())
	return cmd
}

func newSchemasListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List every event type with its schema versions, topic and Kafka key",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			type row struct {
				versions   []string
				topic, key string
			}
			var order []string
			rows := map[string]*row{}
			for _, s := range events.Schemas() {
				r, ok := rows[s.Type]
				if !ok {
					r = &row{topic: s.Topic, key: s.Key}
					rows[s.Type] = r
					order = append(order, s.Type)
				}
				r.versions = append(r.versions, strconv.Itoa(s.Version))
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TYPE\tVERSIONS\tTOPIC\tKEY")
			for _, t := range order {
				r := rows[t]
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t, strings.Join(r.versions, ","), r.topic, r.key)
			}
			return w.Flush()
		},
	}
}

func newSchemasShowCmd() *cobra.Command {
	var version int
	cmd := &cobra.Command{
		Use:   "show TYPE",
		Short: "Print a type's JSON Schema (the latest version unless --version)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ok := events.Schema(args[0], version)
			if !ok {
				if events.LatestVersion(args[0]) == 0 {
					return fmt.Errorf("unknown event type %q: see `shoppulse schemas list`", args[0])
				}
				return fmt.Errorf("%s has versions 1 to %d, not %d", args[0], events.LatestVersion(args[0]), version)
			}
			_, err := cmd.OutOrStdout().Write(s.JSON)
			return err
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "schema version (0: the latest)")
	return cmd
}

func newSchemasCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:          "check [PREVIOUS.json NEXT.json]",
		Short:        "Check every schema version is backward compatible with its predecessor",
		SilenceUsage: true, // a failed check is not a usage error
		Long: `Check verifies every embedded schema version against its predecessor: only
optional properties added; none removed; no type, const, format or pattern
changed; no new required field and no required field made optional; enums and
ranges only widened. With two files, it checks NEXT as a successor of PREVIOUS
instead, for a proposed new version. It fails naming the type, the versions
and the offending field.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 0 && len(args) != 2 {
				return fmt.Errorf("want no arguments or PREVIOUS.json NEXT.json, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				return checkSchemaFiles(cmd, args[0], args[1])
			}
			if err := events.CheckCompatibility(); err != nil {
				return err
			}
			n := 0
			for _, s := range events.Schemas() {
				if s.Version > 1 {
					n++
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %d schemas, %d successor versions compatible\n", len(events.Schemas()), n)
			return nil
		},
	}
}

func checkSchemaFiles(cmd *cobra.Command, prevPath, nextPath string) error {
	prev, err := os.ReadFile(prevPath)
	if err != nil {
		return err
	}
	next, err := os.ReadFile(nextPath)
	if err != nil {
		return err
	}
	typ, from := schemaLabel(prev)
	_, to := schemaLabel(next)
	if typ == "" {
		typ = nextPath
	}
	if err := events.CheckSchemaPair(typ, from, to, prev, next); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "ok: %s is a compatible successor of %s\n", nextPath, prevPath)
	return nil
}

// schemaLabel reads the type and version constants of an event schema, for
// messages; zero values when the file does not have them.
func schemaLabel(b []byte) (typ string, version int) {
	var s struct {
		Properties struct {
			Type struct {
				Const string `json:"const"`
			} `json:"type"`
			SchemaVersion struct {
				Const int `json:"const"`
			} `json:"schema_version"`
		} `json:"properties"`
	}
	_ = json.NewDecoder(bytes.NewReader(b)).Decode(&s) // best effort: labels only
	return s.Properties.Type.Const, s.Properties.SchemaVersion.Const
}
