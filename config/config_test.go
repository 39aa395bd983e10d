package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestValidate_ScheduleFieldsNameTheirKey(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	c.Schedules = append(c.Schedules, Schedule{ID: "shoppulse-x", Cron: "0 * * * *", Workflow: "W",
		TimeZone: "Nowhere/Atlantis", Overlap: "often", Jitter: -time.Second, CatchupWindow: -time.Second, Input: "[1]"})
	err := c.Validate()
	if err == nil {
		t.Fatal("want errors")
	}
	n := len(c.Schedules) - 1
	for _, key := range []string{"time_zone", "overlap", "jitter", "catchup_window", "input"} {
		if want := "schedules[" + strconv.Itoa(n) + "]." + key; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
