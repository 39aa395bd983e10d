package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/ingest"
	"github.com/shoppulse/shoppulse/store"
)

func newDLQCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "List and re-send dead letters (events that failed decoding or validation)",
	}
	cmd.AddCommand(newDLQListCmd(a), newDLQReplayCmd(a))
	return cmd
}

// dlqSelection is the flags that select dead letters.
type dlqSelection struct {
	topic  string
	since  time.Duration
	reason string
	limit  int
}

func (s *dlqSelection) addFlags(cmd *cobra.Command, defaultLimit int) {
	f := cmd.Flags()
	f.StringVar(&s.topic, "topic", "", "only dead letters from this topic")
	f.DurationVar(&s.since, "since", 0, "only dead letters received in this past duration (e.g. 24h; 0: any time)")
	f.StringVar(&s.reason, "reason", "", "only dead letters whose reason contains this text (ignoring case)")
	f.IntVar(&s.limit, "limit", defaultLimit, "at most this many (0: no limit)")
}

func (s *dlqSelection) filter(now time.Time) (store.DeadLetterFilter, error) {
	if s.since < 0 || s.limit < 0 {
		return store.DeadLetterFilter{}, &configError{errors.New("dlq: --since and --limit must not be negative")}
	}
	f := store.DeadLetterFilter{Topic: s.topic, Reason: s.reason, Limit: s.limit}
	if s.since > 0 {
		f.Since = now.Add(-s.since)
	}
	return f, nil
}

func newDLQListCmd(a *app) *cobra.Command {
	var sel dlqSelection
	cmd := &cobra.Command{
		Use:   "list [--topic T] [--since DURATION] [--reason TEXT] [--limit N]",
		Short: "Show dead letters, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := sel.filter(time.Now())
			if err != nil {
				return err
			}
			db, err := a.openDB(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			dls, err := db.DeadLetters(cmd.Context(), f)
			if err != nil {
				return err
			}
			return writeDeadLetters(cmd.OutOrStdout(), dls)
		},
	}
	sel.addFlags(cmd, 50)
	return cmd
}

func newDLQReplayCmd(a *app) *cobra.Command {
	var (
		sel       dlqSelection
		partition int
		offsets   []int64
		dryRun    bool
		again     bool
	)
	cmd := &cobra.Command{
		Use:   "replay [--topic T --partition P --offset O ... | --reason TEXT] [--dry-run]",
		Short: "Re-send selected dead letters, byte for byte, to the topic they came from",
		Long: `Re-sends the raw payload and key of each selected dead letter to its original
topic (do it after deploying the fix that makes them valid), then marks them
replayed (replayed_at, replay_count). Dead letters already replayed are left
out unless --again is given, so a repeated command does not re-send them by
accident. Select by exact position (--topic, --partition and one or more
--offset) or by --reason (with --topic, --since and --limit to narrow it);
one of the two is required. A replayed message that fails again becomes a new
dead letter at its new offset.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := sel.filter(time.Now())
			if err != nil {
				return err
			}
			switch {
			case len(offsets) > 0:
				if sel.topic == "" || !cmd.Flags().Changed("partition") {
					return &configError{errors.New("dlq replay: --offset needs --topic and --partition")}
				}
				for _, o := range offsets {
					f.Keys = append(f.Keys, store.DeadLetterKey{Topic: sel.topic, Partition: partition, Offset: o})
				}
			case sel.reason == "":
				return &configError{errors.New("dlq replay: select dead letters with --topic/--partition/--offset or --reason")}
			}
			f.NotReplayed = !again
			ctx := cmd.Context()
			db, err := a.openDB(ctx)
			if err != nil {
				return err
			}
			defer db.Close()
			dls, err := db.DeadLetters(ctx, f)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if dryRun {
				fmt.Fprintf(out, "dry run: would re-send %d dead letters\n", len(dls))
				return writeDeadLetters(out, dls)
			}
			if len(dls) == 0 {
				fmt.Fprintln(out, "no dead letters selected (already replayed ones need --again)")
				return nil
			}
			p := ingest.NewProducer(ingest.ProducerConfig{Brokers: a.cfg.Kafka.Brokers, TLS: a.kafkaTLS})
			defer p.Close()
			msgs := make([]ingest.RawMessage, len(dls))
			keys := make([]store.DeadLetterKey, len(dls))
			for i, d := range dls {
				msgs[i] = ingest.RawMessage{Topic: d.Topic, Key: d.Key, Value: d.Payload}
				keys[i] = d.DeadLetterKey
			}
			// Send first, then mark: a failure in between re-sends on the
			// next run (at least once); the consumer drops repeated event ids.
			if err := p.PublishRaw(ctx, msgs...); err != nil {
				return fmt.Errorf("dlq replay: %w", err)
			}
			n, err := db.MarkDeadLettersReplayed(ctx, keys, time.Now())
			if err != nil {
				return fmt.Errorf("dlq replay: re-sent %d dead letters but could not mark them: %w", len(dls), err)
			}
			fmt.Fprintf(out, "re-sent %d dead letters, marked %d replayed\n", len(dls), n)
			return nil
		},
	}
	sel.addFlags(cmd, 0)
	f := cmd.Flags()
	f.IntVar(&partition, "partition", 0, "partition of the dead letters named by --offset")
	f.Int64SliceVar(&offsets, "offset", nil, "offset of a dead letter on --topic/--partition (repeat or comma-separate)")
	f.BoolVar(&dryRun, "dry-run", false, "list what would be re-sent, send nothing")
	f.BoolVar(&again, "again", false, "include dead letters already replayed")
	return cmd
}

// writeDeadLetters prints dead letters as a table.
func writeDeadLetters(w io.Writer, dls []store.DeadLetterRecord) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tOFFSET\tTIME\tREPLAYED\tREASON\tPAYLOAD")
	for _, d := range dls {
		replayed := "-"
		if !d.ReplayedAt.IsZero() {
			replayed = fmt.Sprintf("%dx %s", d.ReplayCount, d.ReplayedAt.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", d.Topic, d.Partition, d.Offset,
			d.ReceivedAt.UTC().Format(time.RFC3339), replayed, preview([]byte(d.Reason), 80), preview(d.Payload, 60))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write dead letters: %w", err)
	}
	return nil
}

// preview shows at most n runes of b on one line: control characters, tabs
// and invalid UTF-8 escaped, "..." when cut.
func preview(b []byte, n int) string {
	var sb strings.Builder
	for i := 0; len(b) > 0; i++ {
		if i == n {
			sb.WriteString("...")
			break
		}
		r, size := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&sb, `\x%02x`, b[0])
		case r < 0x20 || r == 0x7f:
			q := strconv.QuoteRune(r)
			sb.WriteString(q[1 : len(q)-1])
		default:
			sb.WriteRune(r)
		}
		b = b[size:]
	}
	return sb.String()
}
