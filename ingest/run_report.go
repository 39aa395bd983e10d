package ingest

import (
	"fmt"
	"io"
	"maps"
	"slices"
)

// Report accounts for a replay of real data: every row read is either part
// of an event produced or skipped for one reason. Corrections count rows
// kept after a documented change (a row may count under several).
type Report struct {
	Rows      int
	Events    map[string]int     // by event type
	Skipped   map[SkipReason]int // rows, by reason
	Corrected map[string]int     // rows, by correction
}

func newReport() Report {
	return Report{Events: map[string]int{}, Skipped: map[SkipReason]int{}, Corrected: map[string]int{}}
}

// Add adds o's counts to r, for a replay of several files.
func (r *Report) Add(o Report) {
	if r.Events == nil {
		*r = Report{Rows: r.Rows, Events: map[string]int{}, Skipped: map[SkipReason]int{}, Corrected: map[string]int{}}
	}
	r.Rows += o.Rows
	for k, v := range o.Events {
		r.Events[k] += v
	}
	for k, v := range o.Skipped {
		r.Skipped[k] += v
	}
	for k, v := range o.Corrected {
		r.Corrected[k] += v
	}
}

// TotalEvents is the number of events of every type.
func (r Report) TotalEvents() int {
	n := 0
	for _, v := range r.Events {
		n += v
	}
	return n
}

// TotalSkipped is the number of rows skipped for any reason.
func (r Report) TotalSkipped() int {
	n := 0
	for _, v := range r.Skipped {
		n += v
	}
	return n
}

// Write prints the report, one count a line, keys sorted.
func (r Report) Write(w io.Writer) error {
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	p("rows read: %d\n", r.Rows)
	p("events: %d\n", r.TotalEvents())
	for _, k := range slices.Sorted(maps.Keys(r.Events)) {
		p("  %-24s %d\n", k, r.Events[k])
	}
	p("rows skipped: %d\n", r.TotalSkipped())
	for _, k := range slices.Sorted(maps.Keys(r.Skipped)) {
		p("  %-24s %d\n", k, r.Skipped[k])
	}
	p("rows corrected:\n")
	for _, k := range slices.Sorted(maps.Keys(r.Corrected)) {
		p("  %-24s %d\n", k, r.Corrected[k])
	}
	return err
}
