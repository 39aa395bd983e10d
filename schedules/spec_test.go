package schedules

import (
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/config"
)

func validSpec(id, cron string) Spec {
	return Spec{ID: id, Cron: cron, Workflow: "RevenueRollupHourly", TaskQueue: "shoppulse"}
}

func TestValidateAcceptsCrons(t *testing.T) {
	for _, cron := range []string{
		"5 * * * *",
		"*/15 * * * *",
		"0 3 * * MON-FRI",
		"30 2 1 * *",
		"0 0 * JAN,JUL SUN",
		"0-30/10 8-18 * * 1-5",
		"  0 12 * * *  ",
		"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually",
	} {
		t.Run(cron, func(t *testing.T) {
			if err := Validate([]Spec{validSpec("shoppulse-a", cron)}); err != nil {
				t.Fatalf("Validate(%q) = %v, want nil", cron, err)
			}
		})
	}
}

func TestValidateRejectsCrons(t *testing.T) {
	for _, tc := range []struct {
		name, cron, want string
	}{
		{"empty", "", `schedules[0].cron "": empty`},
		{"minute out of range", "60 * * * *", `schedules[0].cron "60 * * * *": minute field "60": end of range (60) above maximum (59)`},
		{"hour out of range", "0 24 * * *", `hour field "24"`},
		{"day of month zero", "0 0 0 * *", `day-of-month field "0"`},
		{"month name", "0 0 1 FOO *", `month field "FOO"`},
		{"day of week 7", "0 0 * * 7", `day-of-week field "7"`},
		{"reversed range", "0 10-2 * * *", `hour field "10-2": beginning of range (10) beyond end of range (2)`},
		{"zero step", "*/0 * * * *", `minute field "*/0"`},
		{"not a number", "x * * * *", `minute field "x"`},
		{"too few fields", "0 * * *", "has 4 fields, want 5"},
		{"seconds field", "0 0 * * * *", "has 6 fields, want 5"},
		{"question mark", "0 0 ? * MON", `"?" is not supported by Temporal`},
		{"day of month and day of week", "0 0 1 * MON", `restricts both day-of-month ("1") and day-of-week ("MON")`},
		{"day of month step and day of week", "0 0 */2 * 1-5", "restricts both day-of-month"},
		{"time zone", "CRON_TZ=Europe/Paris 0 3 * * *", "time zone prefixes are not allowed: set the schedule's time_zone"},
		{"tz", "TZ=UTC 0 3 * * *", "time zone prefixes are not allowed"},
		{"every", "@every 1h", "@every is not supported"},
		{"unknown descriptor", "@fortnightly", "unknown descriptor"},
		{"comment", "0 3 * * * # nightly", "has 7 fields"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate([]Spec{validSpec("shoppulse-a", tc.cron)})
			if err == nil {
				t.Fatalf("Validate(%q) = nil, want error containing %q", tc.cron, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate(%q) = %q, want it to contain %q", tc.cron, err, tc.want)
			}
			if !strings.Contains(err.Error(), "schedules[0].cron") {
				t.Fatalf("Validate(%q) = %q, want it to name schedules[0].cron", tc.cron, err)
			}
		})
	}
}

func TestValidateNamesEveryProblem(t *testing.T) {
	err := Validate([]Spec{
		validSpec("shoppulse-a", "5 * * * *"),
		{ID: "shoppulse-a", Cron: "61 * * * *"},
		{ID: " ", Cron: "@hourly", Workflow: "W", TaskQueue: "q"},
	})
	if err == nil {
		t.Fatal("Validate = nil, want errors")
	}
	for _, want := range []string{
		`schedules[1].id "shoppulse-a": duplicate of schedules[0].id`,
		`schedules[1].cron "61 * * * *": minute field "61"`,
		"schedules[1].workflow: empty",
		"schedules[1].task_queue: empty",
		"schedules[2].id: empty",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q\nwant it to contain %q", err, want)
		}
	}
}

func TestValidateEmptyIsValid(t *testing.T) {
	if err := Validate(nil); err != nil {
		t.Fatalf("Validate(nil) = %v, want nil", err)
	}
}

func TestHashIsStable(t *testing.T) {
	s := Spec{ID: "shoppulse-a", Cron: "5 * * * *", Workflow: "W", TaskQueue: "q", Note: "n"}
	h := s.hash()
	if got := s.hash(); got != h {
		t.Fatalf("hash changed between calls: %s then %s", h, got)
	}
	if len(h) != 32 {
		t.Fatalf("hash %q has %d characters, want 32", h, len(h))
	}
	// A golden value: a change here means every deployed schedule gets
	// updated on the next apply. Bump hashVersion on purpose, not by accident.
	if want := "48775aa8afdbb8cccccc860e5e9078a8"; h != want {
		t.Fatalf("hash = %s, want golden %s", h, want)
	}
}

func TestHashChangesWithEveryField(t *testing.T) {
	base := Spec{ID: "shoppulse-a", Cron: "5 * * * *", Workflow: "W", TaskQueue: "q", Note: "n"}
	for _, tc := range []struct {
		name   string
		change func(*Spec)
	}{
		{"id", func(s *Spec) { s.ID = "shoppulse-b" }},
		{"cron", func(s *Spec) { s.Cron = "6 * * * *" }},
		{"workflow", func(s *Spec) { s.Workflow = "X" }},
		{"task queue", func(s *Spec) { s.TaskQueue = "r" }},
		{"note", func(s *Spec) { s.Note = "m" }},
		{"paused", func(s *Spec) { s.Paused = true }},
		{"field boundary", func(s *Spec) { s.Workflow, s.TaskQueue = "Wq", "" }},
		{"time zone", func(s *Spec) { s.TimeZone = "Europe/Paris" }},
		{"jitter", func(s *Spec) { s.Jitter = time.Minute }},
		{"overlap", func(s *Spec) { s.Overlap = "buffer_one" }},
		{"catchup window", func(s *Spec) { s.CatchupWindow = 2 * time.Hour }},
		{"input", func(s *Spec) { s.Input = `{"days_ahead":3}` }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changed := base
			tc.change(&changed)
			if changed.hash() == base.hash() {
				t.Fatalf("hash did not change when %s changed", tc.name)
			}
		})
	}
}

func TestFromConfig(t *testing.T) {
	got := FromConfig([]config.Schedule{
		{ID: "shoppulse-rollup-hourly", Cron: "5 * * * *", Workflow: "RevenueRollupHourly", Paused: true, Note: "hourly"},
	}, "shoppulse")
	want := []Spec{{ID: "shoppulse-rollup-hourly", Cron: "5 * * * *", Workflow: "RevenueRollupHourly", TaskQueue: "shoppulse", Note: "hourly", Paused: true}}
	if len(got) != 1 || got[0] != want[0] {
		t.Fatalf("FromConfig = %+v, want %+v", got, want)
	}
	if err := Validate(FromConfig(config.Default().Schedules, config.Default().Temporal.TaskQueue)); err != nil {
		t.Fatalf("default config schedules do not validate: %v", err)
	}
}

func TestHashSameForDefaultsSpelledOut(t *testing.T) {
	base := Spec{ID: "shoppulse-a", Cron: "5 * * * *", Workflow: "W", TaskQueue: "q"}
	spelled := base
	spelled.TimeZone, spelled.Overlap, spelled.CatchupWindow = "UTC", "skip", time.Hour
	if base.hash() != spelled.hash() {
		t.Fatal("a spec naming the default zone, overlap and catch-up window hashes differently from one leaving them empty")
	}
}

func TestValidateRejectsBadPolicies(t *testing.T) {
	s := validSpec("shoppulse-a", "0 3 * * *")
	s.TimeZone, s.Overlap, s.Jitter, s.CatchupWindow, s.Input = "Mars/Olympus", "sometimes", -time.Second, -time.Minute, `[1, 2]`
	err := Validate([]Spec{s})
	if err == nil {
		t.Fatal("Validate = nil, want errors")
	}
	for _, want := range []string{
		`schedules[0].time_zone "Mars/Olympus"`,
		`schedules[0].overlap "sometimes": want one of skip`,
		"schedules[0].jitter -1s",
		"schedules[0].catchup_window -1m0s",
		"schedules[0].input: want a JSON object",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q\nwant it to contain %q", err, want)
		}
	}
	ok := validSpec("shoppulse-a", "30 2 * * *")
	ok.TimeZone, ok.Overlap, ok.Jitter, ok.CatchupWindow, ok.Input = "Europe/Paris", "buffer_one", time.Minute, 6*time.Hour, `{"retention_days": 30}`
	if err := Validate([]Spec{ok}); err != nil {
		t.Fatalf("Validate(%+v) = %v, want nil", ok, err)
	}
}
