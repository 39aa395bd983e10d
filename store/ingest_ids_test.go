package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/internal/testenv"
)

func TestClaimEventIDs(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	now := time.Now()
	got, err := db.ClaimEventIDs(ctx, []string{"a", "b"}, now)
	if slices.Sort(got); err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("first claim %v %v", got, err)
	}
	got, err = db.ClaimEventIDs(ctx, []string{"b", "c"}, now)
	if err != nil || !slices.Equal(got, []string{"c"}) {
		t.Fatalf("second claim %v %v, want [c]", got, err)
	}
	if err := db.ReleaseEventIDs(ctx, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	if got, err = db.ClaimEventIDs(ctx, []string{"b"}, now.Add(-10*24*time.Hour)); err != nil || len(got) != 1 {
		t.Fatalf("claim after release %v %v", got, err)
	}
	n, err := db.DeleteEventIDsBefore(ctx, now.Add(-7*24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purge deleted %d, %v; want 1 (b, claimed 10 days ago)", n, err)
	}
	if got, _ := db.ClaimEventIDs(ctx, []string{"a", "b"}, now); !slices.Equal(got, []string{"b"}) {
		t.Errorf("after purge %v, want [b]", got)
	}
}
