package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/internal/testenv"
	"github.com/shoppulse/shoppulse/store"
)

func TestAPIKeysCreateListRevoke(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	k, err := db.CreateAPIKey(ctx, store.APIKey{ID: "k1", Name: "loader", SecretHash: []byte{1, 2, 3}, Scopes: []string{"ingest", "read"}})
	if err != nil {
		t.Fatal(err)
	}
	if k.CreatedAt.IsZero() {
		t.Error("created_at not returned")
	}
	if _, err := db.CreateAPIKey(ctx, store.APIKey{ID: "k2", Name: "bad", SecretHash: []byte{1}, Scopes: []string{"root"}}); err == nil {
		t.Error("a key with an unknown scope was stored")
	}
	got, err := db.APIKey(ctx, "k1")
	if err != nil || got.Name != "loader" || !slices.Equal(got.Scopes, []string{"ingest", "read"}) || got.RevokedAt != nil || got.LastUsedAt != nil {
		t.Fatalf("got %+v, %v", got, err)
	}
	if _, err := db.APIKey(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown key: %v, want ErrNotFound", err)
	}
	at, err := db.RevokeAPIKey(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := db.RevokeAPIKey(ctx, "k1")
	if err != nil || !again.Equal(at) {
		t.Errorf("second revoke moved the time: %v %v", again, err)
	}
	if _, err := db.RevokeAPIKey(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
	list, err := db.APIKeys(ctx)
	if err != nil || len(list) != 1 || list[0].RevokedAt == nil {
		t.Fatalf("list %+v %v", list, err)
	}
}

func TestTouchAPIKeyAtMostOnceAMinute(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	if _, err := db.CreateAPIKey(ctx, store.APIKey{ID: "k1", Name: "n", SecretHash: []byte{1}, Scopes: []string{"ingest"}}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		at, want time.Time
	}{
		{t0, t0},
		{t0.Add(30 * time.Second), t0},
		{t0.Add(61 * time.Second), t0.Add(61 * time.Second)},
	} {
		if err := db.TouchAPIKey(ctx, "k1", c.at); err != nil {
			t.Fatal(err)
		}
		k, err := db.APIKey(ctx, "k1")
		if err != nil || k.LastUsedAt == nil || !k.LastUsedAt.Equal(c.want) {
			t.Errorf("touch at %s: last_used_at %v, want %s (%v)", c.at, k.LastUsedAt, c.want, err)
		}
	}
}
