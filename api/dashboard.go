package api

import (
	"net/http"

	"github.com/shoppulse/shoppulse/dashboard"
)

// mountDashboard serves the live dashboard's files under dashboard.Prefix,
// and sends the bare root there. The files are public (they hold no data);
// the page asks for an API key and reads everything through the API. These
// are not API routes, so they are not in the OpenAPI document.
func mountDashboard(mux *http.ServeMux) {
	mux.Handle("GET "+dashboard.Prefix, dashboard.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler(dashboard.Prefix, http.StatusFound))
}
