// Package web serves contactd's pages. Assets are embedded in the binary: no
// CDN, works offline on a clinic LAN.
package web

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"

	"contactd/contact"
)

//go:embed assets
var assets embed.FS

var pages = template.Must(template.ParseFS(assets, "assets/*.html"))

// Routes registers the pages and their static files.
func Routes(mux *http.ServeMux, stationKnown func(string) bool) {
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /capture/{station}", func(w http.ResponseWriter, r *http.Request) {
		st := r.PathValue("station")
		if !contact.ValidStation(st) || !stationKnown(st) {
			http.Error(w, "unknown station", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		// The page needs the camera and microphone of this origin only.
		w.Header().Set("Permissions-Policy", "camera=(self), microphone=(self)")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; style-src 'self'; script-src 'self'")
		if err := pages.ExecuteTemplate(w, "capture.html", map[string]string{"Station": st}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
}
