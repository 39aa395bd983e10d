package main

import (
	"context"
	"fmt"
	"net"
	"net/url"

	"github.com/shoppulse/shoppulse/api"
	"github.com/shoppulse/shoppulse/dashboard"
	"github.com/shoppulse/shoppulse/store"
)

// devDashboardKeyName names the key `shoppulse dev` makes for the dashboard.
const devDashboardKeyName = "dev-dashboard"

// devDashboardKey makes a fresh read+operate key for this run of
// `shoppulse dev`, revoking the ones earlier runs made (their tokens were
// printed and are gone with those runs), and returns the dashboard URL that
// logs in with it: the key rides in the URL fragment, which the browser
// never sends to a server; the page moves it to the tab's session storage
// and drops it from the address bar.
func devDashboardKey(ctx context.Context, db *store.DB, addr string) (string, error) {
	keys, err := db.APIKeys(ctx)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		if k.Name == devDashboardKeyName && k.RevokedAt == nil {
			if _, err := db.RevokeAPIKey(ctx, k.ID); err != nil {
				return "", err
			}
		}
	}
	tok, k, err := api.NewAPIKey(devDashboardKeyName, []string{api.ScopeRead, api.ScopeOperate})
	if err != nil {
		return "", err
	}
	if _, err := db.CreateAPIKey(ctx, k); err != nil {
		return "", err
	}
	return dashboardURL(addr) + "#key=" + url.QueryEscape(tok), nil
}

// dashboardURL is the dashboard's address for a listen address: a host
// left empty or unspecified (":8080", "0.0.0.0:8080") is this machine.
func dashboardURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("http://%s%s", addr, dashboard.Prefix)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + dashboard.Prefix
}
