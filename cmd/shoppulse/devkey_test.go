package main

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shoppulse/shoppulse/internal/testenv"
)

func TestDashboardURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8080":             "http://127.0.0.1:8080/dashboard/",
		"0.0.0.0:8080":      "http://127.0.0.1:8080/dashboard/",
		"[::]:9000":         "http://127.0.0.1:9000/dashboard/",
		"127.0.0.1:8080":    "http://127.0.0.1:8080/dashboard/",
		"shop.internal:80":  "http://shop.internal:80/dashboard/",
		"[2001:db8::1]:443": "http://[2001:db8::1]:443/dashboard/",
	} {
		if got := dashboardURL(addr); got != want {
			t.Errorf("dashboardURL(%q) = %q, want %q", addr, got, want)
		}
	}
}

// TestDevDashboardKeyReplacesTheLastRunsKey: each run of `shoppulse dev`
// gets a working read+operate key in the printed URL, and the key of the
// run before is revoked.
func TestDevDashboardKeyReplacesTheLastRunsKey(t *testing.T) {
	db := testenv.DB(t).DB
	ctx := testenv.Context(t, time.Minute)
	var ids []string
	for range 2 {
		u, err := devDashboardKey(ctx, db, ":8080")
		if err != nil {
			t.Fatal(err)
		}
		base, frag, ok := strings.Cut(u, "#key=")
		if !ok || base != "http://127.0.0.1:8080/dashboard/" {
			t.Fatalf("url %q", u)
		}
		tok, err := url.QueryUnescape(frag)
		if err != nil {
			t.Fatal(err)
		}
		id := strings.Split(strings.TrimPrefix(tok, "sp_"), "_")[0]
		k, err := db.APIKey(ctx, id)
		if err != nil {
			t.Fatalf("key %s of %q: %v", id, u, err)
		}
		if strings.Join(k.Scopes, ",") != "read,operate" || k.Name != devDashboardKeyName {
			t.Fatalf("key %+v", k)
		}
		ids = append(ids, id)
	}
	first, err := db.APIKey(ctx, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	second, err := db.APIKey(ctx, ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if first.RevokedAt == nil || second.RevokedAt != nil {
		t.Fatalf("first revoked %v, second revoked %v", first.RevokedAt, second.RevokedAt)
	}
}
