package e2e

import (
	"fmt"
	"testing"
)

func TestPromRefs(t *testing.T) {
	tests := []struct {
		expr                      string
		names, matchers, grouping string
	}{
		{`up`, `[up]`, `map[]`, `[]`},
		{`sum by (topic) (rate(shoppulse_stream_events_total{outcome="applied", topic=~"a.b"}[$__rate_interval]))`,
			`[shoppulse_stream_events_total]`, `map[shoppulse_stream_events_total:[outcome topic]]`, `[topic]`},
		{`histogram_quantile(0.99, sum by (le, topic) (rate(x_seconds_bucket[5m])))`, `[x_seconds_bucket]`, `map[]`, `[le topic]`},
		{`sum(rate(a_total[1m])) / sum without (instance) (rate(b_total{job="x"}[1m])) > 1e3`,
			`[a_total b_total]`, `map[b_total:[job]]`, `[instance]`},
		{`rate(process_cpu_seconds_total{job=~"shoppulse.*"}[$__rate_interval]) and on (job) up offset 5m`,
			`[process_cpu_seconds_total up]`, `map[process_cpu_seconds_total:[job]]`, `[job]`},
		{`{__name__="weird"}`, `[]`, `map[]`, `[]`},
	}
	for _, tt := range tests {
		names, matchers, grouping := promRefs(tt.expr)
		if got := fmt.Sprint(names); got != tt.names {
			t.Errorf("%s: names %s, want %s", tt.expr, got, tt.names)
		}
		if got := fmt.Sprint(matchers); got != tt.matchers {
			t.Errorf("%s: matchers %s, want %s", tt.expr, got, tt.matchers)
		}
		if got := fmt.Sprint(grouping); got != tt.grouping {
			t.Errorf("%s: grouping %s, want %s", tt.expr, got, tt.grouping)
		}
	}
}

func TestExpandGrafanaMacros(t *testing.T) {
	got, err := expandGrafanaMacros(`SELECT 1 WHERE $__timeFilter(minute) AND x > $__timeFrom()`)
	want := `SELECT 1 WHERE (minute BETWEEN now() - interval '7 days' AND now() + interval '1 day') AND x > (now() - interval '7 days')`
	if err != nil || got != want {
		t.Errorf("got %q, %v\nwant %q", got, err, want)
	}
	if _, err := expandGrafanaMacros(`SELECT $__timeGroup(minute, '1m')`); err == nil {
		t.Error("an untested macro passed")
	}
}
