package api

import (
	"embed"
	"io/fs"
	"net/http"
)

// docsFS is the docs page: a small renderer of /openapi.json, embedded so
// the page works offline (no CDN).
//
//go:embed docs
var docsFS embed.FS

func (s *Server) docsRoutes() []route {
	sub, err := fs.Sub(docsFS, "docs")
	if err != nil {
		panic(err) // the embedded folder exists at build time
	}
	files := http.StripPrefix("/docs/", http.FileServerFS(sub))
	return []route{
		{method: http.MethodGet, path: "/docs", h: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/docs/", http.StatusMovedPermanently)
		}},
		{method: http.MethodGet, path: "/docs/{file...}", h: func(w http.ResponseWriter, r *http.Request) {
			// Only the embedded files: anything else (a bad name, a
			// folder, invalid UTF-8) is a problem document, not the file
			// server's plain-text 404, 500 or redirect.
			if name := r.PathValue("file"); name != "" {
				if st, err := fs.Stat(sub, name); err != nil || st.IsDir() || name == "index.html" {
					writeProblem(w, r, Problem{Type: ProblemNotFound, Title: "Not found", Status: http.StatusNotFound,
						Detail: "no such file of the docs page; see /docs/"})
					return
				}
			}
			w.Header().Set("Content-Security-Policy", "default-src 'self'")
			files.ServeHTTP(w, r)
		}},
	}
}
