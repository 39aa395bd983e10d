package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/shoppulse/shoppulse/events"
	"github.com/shoppulse/shoppulse/ingest"
)

// Replay formats.
const (
	formatOnlineRetail = "online-retail"
	formatRees46       = "rees46"
)

func newReplayCmd(a *app) *cobra.Command {
	var (
		format string
		speed  float64
		rate   float64
		tz     string
	)
	cmd := &cobra.Command{
		Use:   "replay --format online-retail|rees46 [--speed N] FILES...",
		Short: "Replay real e-commerce data files as catalogue events, in event-time order",
		Long: `Reads public e-commerce data sets and produces their events to the catalogue
topics, merged across files in event-time order, with their historical times.

  online-retail  the UCI "Online Retail" CSV: invoices become order_placed,
                 cancellation (C) invoices become refunds on the payments topic.
  rees46         the REES46 clickstream CSV: view, cart, remove_from_cart become
                 product_view, add_to_cart, remove_from_cart; purchases become
                 order_placed, one per session and second.

--speed 0 (the default) produces as fast as possible; 1 is real time; 60
plays an hour of events in a minute. The catalogue topics are created if
missing. The final report lists rows read, events produced by type, and rows
skipped or corrected by reason (see the ingest package doc for each rule).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			var loc *time.Location
			if format == formatOnlineRetail {
				var err error
				if loc, err = time.LoadLocation(tz); err != nil {
					return fmt.Errorf("replay: --tz %q: %w", tz, err)
				}
			}
			evs, report, err := readReplayFiles(format, files, loc)
			if err != nil {
				return err
			}
			stats, err := a.replay(cmd.Context(), evs, ingest.RunConfig{Name: "replay", Speed: speed, Rate: rate}, cmd.ErrOrStderr())
			out := cmd.OutOrStdout()
			if werr := report.Write(out); werr != nil {
				return werr
			}
			fmt.Fprintf(out, "produced: %d of %d events in %s (%d failed)\n",
				stats.Produced, len(evs), stats.Elapsed.Round(time.Millisecond), stats.Failed)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&format, "format", "", "data format: online-retail or rees46 (required)")
	f.Float64Var(&speed, "speed", 0, "pace by event time: 0 as fast as possible, 1 real time, 60 sixty times faster")
	f.Float64Var(&rate, "rate", 0, "cap in events per second (0: no cap)")
	f.StringVar(&tz, "tz", "Europe/London", "time zone of the online-retail InvoiceDate (the data has none)")
	_ = cmd.MarkFlagRequired("format")
	return cmd
}

// readReplayFiles reads every file in the format and merges their events in
// event-time order (ties: file order, then row order).
func readReplayFiles(format string, files []string, loc *time.Location) ([]events.Event, ingest.Report, error) {
	var (
		all    []events.Event
		report ingest.Report
	)
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return nil, report, fmt.Errorf("replay: %w", err)
		}
		var (
			evs []events.Event
			r   ingest.Report
		)
		switch format {
		case formatOnlineRetail:
			res, rerr := ingest.ReadOnlineRetailEvents(f, loc)
			evs, r, err = res.Events, res.Report, rerr
		case formatRees46:
			res, rerr := ingest.ReadRees46(f)
			evs, r, err = res.Events, res.Report, rerr
		default:
			err = fmt.Errorf("--format: want %s or %s, got %q", formatOnlineRetail, formatRees46, format)
		}
		f.Close()
		if err != nil {
			return nil, report, fmt.Errorf("replay %s: %w", path, err)
		}
		all = append(all, evs...)
		report.Add(r)
	}
	slices.SortStableFunc(all, func(a, b events.Event) int { return a.Head().EventTime.Compare(b.Head().EventTime) })
	return all, report, nil
}

// replay ensures the catalogue topics exist and produces evs, with a
// progress bar on a terminal and plain progress lines otherwise.
func (a *app) replay(ctx context.Context, evs []events.Event, rc ingest.RunConfig, progress io.Writer) (ingest.Stats, error) {
	p, err := a.catalogueProducer(ctx)
	if err != nil {
		return ingest.Stats{}, err
	}
	defer p.Close()

	var pub ingest.Publisher = p
	if isTerminal(progress) {
		bar := progressbar.NewOptions(len(evs),
			progressbar.OptionSetWriter(progress),
			progressbar.OptionSetDescription("replay"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }),
		)
		pub = ingest.PublisherFunc(func(ctx context.Context, batch ...events.Event) error {
			if err := p.Publish(ctx, batch...); err != nil {
				return err
			}
			_ = bar.Add(len(batch))
			return nil
		})
	} else {
		rc.Progress = progress
	}
	stats, err := ingest.Run(ctx, ingest.NewEventReplay(evs), pub, rc)
	if err != nil && ctx.Err() == nil {
		return stats, fmt.Errorf("replay: %w", err)
	}
	return stats, nil
}

// isTerminal reports whether w is a character device (a terminal), where a
// progress bar can redraw itself.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
