package workflows_test

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/shoppulse/shoppulse/workers"
)

// documentedStart is one `temporal workflow start` (or execute) command of
// the README.
type documentedStart struct {
	line      int
	typ       string
	input     string
	inSection bool // in "Batch workflows from the CLI"
}

var (
	startType  = regexp.MustCompile(`--type\s+(\S+)`)
	startInput = regexp.MustCompile(`--input\s+'([^']*)'`)
)

// readmeStarts returns the README's workflow start commands, continuation
// lines joined.
func readmeStarts(t *testing.T) []documentedStart {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var out []documentedStart
	section := false
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "## ") || strings.HasPrefix(l, "### ") {
			section = strings.TrimSpace(strings.TrimLeft(l, "#")) == "Batch workflows from the CLI"
		}
		if !strings.HasPrefix(strings.TrimSpace(l), "temporal workflow start") && !strings.HasPrefix(strings.TrimSpace(l), "temporal workflow execute") {
			continue
		}
		first := i
		cmd := strings.TrimSuffix(l, "\\")
		for strings.HasSuffix(lines[i], "\\") && i+1 < len(lines) {
			i++
			cmd += " " + strings.TrimSuffix(lines[i], "\\")
		}
		d := documentedStart{line: first + 1, inSection: section}
		if m := startType.FindStringSubmatch(cmd); m != nil {
			d.typ = m[1]
		}
		if m := startInput.FindStringSubmatch(cmd); m != nil {
			d.input = m[1]
		}
		out = append(out, d)
	}
	return out
}

// TestCLI_DocumentedInputs: the README's "Batch workflows from the CLI"
// shows how to start every workflow the worker registers, and every
// documented --input decodes into its workflow's input type with no
// unknown field (the SDK's JSON decoding would drop a misspelt one
// silently, and the run would use a default instead).
func TestCLI_DocumentedInputs(t *testing.T) {
	reg := &replayRegistry{replayer: worker.NewWorkflowReplayer()}
	workers.Register(reg, allDeps())
	starts := readmeStarts(t)
	var inSection []string
	for _, d := range starts {
		if d.inSection {
			inSection = append(inSection, d.typ)
		}
	}
	for _, typ := range reg.types {
		if !slices.Contains(inSection, typ) {
			t.Errorf("README, Batch workflows from the CLI: no `temporal workflow start --type %s` with its --input", typ)
		}
	}
	for _, d := range starts {
		in, ok := reg.inputs[d.typ]
		if !ok {
			t.Errorf("README.md:%d: start of %q, which the worker does not register", d.line, d.typ)
			continue
		}
		if d.input == "" {
			t.Errorf("README.md:%d: start of %s without --input '<json>'", d.line, d.typ)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(d.input)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(reflect.New(in).Interface()); err != nil {
			t.Errorf("README.md:%d: %s input %s does not decode into %s: %v", d.line, d.typ, d.input, in, err)
		}
	}
	if len(starts) < len(reg.types) {
		t.Fatalf("found %d start commands in the README, want at least %d", len(starts), len(reg.types))
	}
}
