package activities_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/shoppulse/shoppulse/activities"
	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

func check(t *testing.T, checks []store.DQCheck, name string) store.DQCheck {
	t.Helper()
	i := slices.IndexFunc(checks, func(c store.DQCheck) bool { return c.Name == name })
	if i < 0 {
		t.Fatalf("no check %s in %+v", name, checks)
	}
	return checks[i]
}

func TestDQChecks(t *testing.T) {
	spec := store.DQTable{Table: "orders", TimeColumn: "event_time", Freshness: 30 * time.Minute,
		Nulls: []store.DQNull{{Column: "customer_id", MaxRate: 0}}, DuplicateKey: []string{"order_id"},
		Ranges: []store.DQRange{{Name: "negative", Violation: "total_minor < 0", MaxRate: 0.1}}}
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	newest := start.Add(50 * time.Minute)
	flat := []int64{0, 0, 0, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100}
	tests := []struct {
		name string
		m    store.DQMeasure
		want map[string]bool // check -> passed
		skip []string
	}{
		{"a normal hour", store.DQMeasure{Start: start, End: start.Add(time.Hour), Rows: 100, Newest: &newest,
			Nulls: []int64{0}, Ranges: []int64{5}, Distinct: 100, History: flat},
			map[string]bool{"freshness": true, "volume": true, "null_rate:customer_id": true, "range:negative": true, "duplicates": true}, nil},
		{"stale, a volume drop, nulls, violations and duplicates", store.DQMeasure{Start: start, End: start.Add(time.Hour), Rows: 20,
			Newest: ptr(start.Add(10 * time.Minute)), Nulls: []int64{1}, Ranges: []int64{3}, Distinct: 18, History: flat},
			map[string]bool{"freshness": false, "volume": false, "null_rate:customer_id": false, "range:negative": false, "duplicates": false}, nil},
		{"no history yet: volume skipped", store.DQMeasure{Start: start, End: start.Add(time.Hour), Rows: 5, Newest: &newest,
			Nulls: []int64{0}, Ranges: []int64{0}, Distinct: 5, History: []int64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 4, 5}},
			map[string]bool{"freshness": true, "volume": true}, []string{"volume"}},
		{"an empty period where data is expected is stale", store.DQMeasure{Start: start, End: start.Add(time.Hour),
			Nulls: []int64{0}, Ranges: []int64{0}, History: flat},
			map[string]bool{"freshness": false, "volume": false, "duplicates": true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checks := activities.DQChecks(spec, tt.m)
			for name, passed := range tt.want {
				if c := check(t, checks, name); c.Passed != passed {
					t.Errorf("%s passed = %v, want %v (%+v)", name, c.Passed, passed, c)
				}
			}
			for _, name := range tt.skip {
				if !check(t, checks, name).Skipped {
					t.Errorf("%s not skipped", name)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestQualityCheckTable_StoresResultsScoreAndAlertsOnce(t *testing.T) {
	s := testenv.DB(t)
	ctx := testenv.Context(t, time.Minute)
	hour := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	if err := s.DB.EnsurePartitionsAhead(ctx, hour.Truncate(24*time.Hour), 1); err != nil {
		t.Fatal(err)
	}
	// Three orders, two with the same order id, one with a negative total.
	if _, err := s.DB.Pool.Exec(ctx, `
		INSERT INTO orders (event_id, event_time, order_id, customer_id, country, currency, channel, total_minor, units, line_count, topic, partition, kafka_offset, ingested_at)
		VALUES ('a', $1, 'O1', 'C1', 'DE', 'EUR', 'web', 100, 1, 1, 't', 0, 1, $1), ('b', $2, 'O1', 'C1', 'DE', 'EUR', 'web', 100, 1, 1, 't', 0, 2, $2),
		       ('c', $3, 'O2', 'C2', 'DE', 'EUR', 'web', -5, 1, 1, 't', 0, 3, $3)`,
		hour.Add(10*time.Minute), hour.Add(20*time.Minute), hour.Add(55*time.Minute)); err != nil {
		t.Fatal(err)
	}
	a := &activities.Quality{DB: s.DB}
	in := activities.CheckTableInput{Table: "orders", Grain: "hour", Period: hour.Add(time.Minute), RunID: "r1", Workflow: "DataQuality"}
	res, err := a.CheckTable(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Failed, []string{"range:total_minor_negative", "duplicates"}) || res.Rows != 3 {
		t.Fatalf("failed %v, rows %d", res.Failed, res.Rows)
	}
	// freshness, 4 null rates, 4 other rules pass; volume is skipped.
	if want := 100 * 9.0 / 11; res.Score < want-1e-9 || res.Score > want+1e-9 {
		t.Fatalf("score %v, want %v", res.Score, want)
	}
	snapshot := func() []string {
		rows, err := s.DB.Pool.Query(ctx, `
			SELECT (to_jsonb(r) - 'run_id' - 'checked_at')::text FROM dq_results r
			UNION ALL SELECT (to_jsonb(s) - 'run_id' - 'checked_at')::text FROM dq_scores s
			UNION ALL SELECT (to_jsonb(a) - 'id' - 'created_at')::text FROM alerts a ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	once := snapshot()
	if len(once) != 12+1+2 {
		t.Fatalf("%d rows of results, score and alerts, want 15", len(once))
	}
	in.RunID = "r2"
	if _, err := a.CheckTable(ctx, in); err != nil {
		t.Fatal(err)
	}
	if twice := snapshot(); !slices.Equal(once, twice) {
		t.Fatalf("a second run changed the results:\n%v\n%v", once, twice)
	}
	if _, err := a.CheckTable(ctx, activities.CheckTableInput{Table: "nope", Grain: "hour", Period: hour}); err == nil {
		t.Fatal("want an error for an unknown table")
	}
}

func TestQualityCheckSchemaDrift_FindsANewFieldInTheStream(t *testing.T) {
	s := testenv.DB(t)
	brokers := testenv.Brokers(t)
	topic := testenv.Topic(t, brokers, 2)
	ctx := testenv.Context(t, time.Minute)
	now := time.Now().UTC()
	good := `{"id":"e1","type":"refund","time":"2026-11-26T10:00:00Z","schema_version":1,"data":{"refund_id":"R1","order_id":"O1","customer_id":"C1","amount_minor":5,"currency":"EUR"}}`
	drifted := `{"id":"e2","type":"refund","time":"2026-11-26T10:00:00Z","schema_version":1,"data":{"refund_id":"R2","order_id":"O2","customer_id":"C1","amount_minor":5,"currency":"EUR","channel":"pos"}}`
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: topic, Balancer: &kafka.RoundRobin{}, RequiredAcks: kafka.RequireAll}
	defer w.Close()
	if err := w.WriteMessages(ctx, kafka.Message{Value: []byte(good), Time: now}, kafka.Message{Value: []byte(drifted), Time: now},
		kafka.Message{Value: []byte(good), Time: now}); err != nil {
		t.Fatal(err)
	}
	a := &activities.Quality{DB: s.DB, Brokers: brokers}
	res, err := a.CheckSchemaDrift(ctx, activities.DriftInput{Topic: topic, Grain: "hour", Period: now, SampleSize: 100, RunID: "r", Workflow: "DataQuality"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 3 || !slices.Equal(res.Failed, []string{"schema_drift"}) || res.Table != "topic:"+topic {
		t.Fatalf("result %+v", res)
	}
	var details string
	if err := s.DB.Pool.QueryRow(ctx, `SELECT details->'report'->'types'->0->>'new_fields' FROM dq_results WHERE table_name = $1`, "topic:"+topic).Scan(&details); err != nil || details != `["data.channel"]` {
		t.Fatalf("stored new fields %s (%v)", details, err)
	}
	// The hour before has nothing: the check is skipped, not failed.
	res, err = a.CheckSchemaDrift(ctx, activities.DriftInput{Topic: topic, Grain: "hour", Period: now.Add(-time.Hour), SampleSize: 100, RunID: "r", Workflow: "DataQuality"})
	if err != nil || res.Rows != 0 || len(res.Failed) != 0 || !res.Checks[0].Skipped {
		t.Fatalf("previous hour %+v (%v)", res, err)
	}
	_ = context.Background
}
