package schedules

import (
	"context"
	"testing"
	"time"
)

func TestListAgainstDevServer(t *testing.T) {
	c := dialTemporal(t)
	sc := c.ScheduleClient()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prefix := testPrefix(t)
	specs := []Spec{
		{ID: prefix + "b", Cron: "0 3 * * *", Workflow: "RollupDaily", TaskQueue: "shoppulse-test", Note: "daily", Paused: true},
		{ID: prefix + "a", Cron: "*/5 * * * *", Workflow: "DataQuality", TaskQueue: "shoppulse-test", Note: "dq"},
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := Apply(ctx, sc, nil, ApplyOptions{Prefix: prefix}); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if _, err := Apply(ctx, sc, specs, ApplyOptions{Prefix: prefix}); err != nil {
		t.Fatal(err)
	}
	waitListed(ctx, t, sc, prefix, specs[0].ID, specs[1].ID)
	got, err := List(ctx, sc, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != prefix+"a" || got[1].ID != prefix+"b" {
		t.Fatalf("List = %+v", got)
	}
	a, b := got[0], got[1]
	if a.Workflow != "DataQuality" || a.Paused || a.Note != "dq" || a.Next.IsZero() || a.Next.UTC().Minute()%5 != 0 {
		t.Fatalf("a = %+v", a)
	}
	if b.Workflow != "RollupDaily" || !b.Paused || b.Note != "daily" {
		t.Fatalf("b = %+v", b)
	}
}
