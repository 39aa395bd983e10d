// Package dashboard owns ShopPulse's live web dashboard: the page, its
// script and style, and the vendored chart library, embedded in the binary
// and served by the API server under Prefix.
//
// It serves static files only. The page reads everything through the REST
// API (/v1/...) with the API key the user logs in with, and listens to
// /v1/live (Server-Sent Events) to refetch when the hot path commits newer
// data. It must not read the database or hold business logic: a figure the
// dashboard shows is a figure the API serves.
//
// The panels the page shows are declared in one list (assets/panels.js);
// a panel whose endpoints the API does not serve (per /openapi.json) is left
// out, so panels for the batch side appear once their endpoints exist.
package dashboard

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// Prefix is where the API server mounts the dashboard.
const Prefix = "/dashboard/"

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy is sent with every dashboard file: scripts and data
// only from this origin (no inline script, no eval, no CDN). Inline style
// is allowed because the chart library positions its tooltips with style
// attributes.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; " +
	"style-src 'self' 'unsafe-inline'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the embedded assets under Prefix. Files are revalidated by
// ETag (a hash of the content), so a new binary's page is never stale.
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	etags := map[string]string{}
	_ = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		etags[p] = `"` + hex.EncodeToString(sum[:8]) + `"`
		return nil
	})
	files := http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), strings.TrimSuffix(Prefix, "/"))
		name = strings.TrimPrefix(name, "/")
		if name == "" {
			name = "index.html"
		}
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if tag, ok := etags[name]; ok {
			h.Set("ETag", tag)
		}
		files.ServeHTTP(w, r)
	})
}
