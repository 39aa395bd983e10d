package bench

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// sqlTrace adds up the wall time of the pool's statements and COPYs by
// statement (its first words), as the client sees it: on one box that is
// mostly the server's time. It answers "where does a batch's time go" for
// the bench's --sql-profile.
type sqlTrace struct {
	mu    sync.Mutex
	stats map[string]*sqlStat
}

type sqlStat struct {
	calls int
	total time.Duration
}

type traceKey struct{}

type traceStart struct {
	name string
	at   time.Time
}

func newSQLTrace() *sqlTrace { return &sqlTrace{stats: map[string]*sqlStat{}} }

func (t *sqlTrace) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{statementName(d.SQL), time.Now()})
}

func (t *sqlTrace) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	t.end(ctx)
}

func (t *sqlTrace) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceCopyFromStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{"COPY " + d.TableName.Sanitize(), time.Now()})
}

func (t *sqlTrace) TraceCopyFromEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceCopyFromEndData) {
	t.end(ctx)
}

func (t *sqlTrace) end(ctx context.Context) {
	s, ok := ctx.Value(traceKey{}).(traceStart)
	if !ok {
		return
	}
	took := time.Since(s.at)
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.stats[s.name]
	if st == nil {
		st = &sqlStat{}
		t.stats[s.name] = st
	}
	st.calls++
	st.total += took
}

// statementName is the statement's first words up to its first table: enough
// to tell the hot path's statements apart.
func statementName(sql string) string {
	f := strings.Fields(sql)
	for i, w := range f {
		switch strings.ToUpper(w) {
		case "INTO", "FROM", "UPDATE", "TABLE":
			if i+1 < len(f) {
				return strings.Join(f[:i+2], " ")
			}
		}
		if i == 5 {
			return strings.Join(f[:6], " ")
		}
	}
	return strings.Join(f, " ")
}

// write prints the statements by total time, largest first.
func (t *sqlTrace) write(w io.Writer, events int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	names := make([]string, 0, len(t.stats))
	var all time.Duration
	for n, s := range t.stats {
		names = append(names, n)
		all += s.total
	}
	slices.SortFunc(names, func(a, b string) int { return int(t.stats[b].total - t.stats[a].total) })
	fmt.Fprintf(w, "bench: sql time by statement (wall, summed over connections): %.2fs in all\n", all.Seconds())
	for _, n := range names {
		s := t.stats[n]
		fmt.Fprintf(w, "bench:   %6.2fs %5.1f%% %6d calls %7.2f ms/call %6.1f us/event  %s\n",
			s.total.Seconds(), 100*s.total.Seconds()/all.Seconds(), s.calls,
			float64(s.total.Microseconds())/1000/float64(s.calls), float64(s.total.Microseconds())/float64(max(events, 1)), n)
	}
}
