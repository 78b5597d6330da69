// Package web serves contactd's pages. Assets are embedded in the binary: no
// CDN, works offline on a clinic LAN.
package web

import (
	"embed"
	"fmt"
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
	mux.Handle("GET /static/", Static())
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
		lang, t, js := pageLang(r)
		if err := pages.ExecuteTemplate(w, "capture.html", map[string]any{"Station": st, "Lang": lang, "T": t, "I18N": js}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
}

// Static serves the shared stylesheet and scripts under /static/.
func Static() http.Handler {
	static, _ := fs.Sub(assets, "assets")
	return http.StripPrefix("/static/", http.FileServerFS(static))
}

type faceButton struct {
	Value              int
	Color, Label       string
	Number             bool
	MouthY, MouthCurve int
}

// TerminalPage renders the rating terminal for a scale: faces from unhappy
// (red) to happy (green), or numbered buttons for NPS.
func TerminalPage(scale contact.Scale) http.HandlerFunc {
	max, _ := scale.Max()
	var buttons []faceButton
	for v := 0; v <= max; v++ {
		f := float64(v) / float64(max)
		// red (#c0392b) to green (#2f9e57) through amber
		r, g, b := lerp(192, 47, f), lerp(57, 158, f), lerp(43, 87, f)
		if f > 0.3 && f < 0.7 {
			r, g, b = 230, 170, 40
		}
		buttons = append(buttons, faceButton{Value: v, Color: fmt.Sprintf("rgb(%d,%d,%d)", r, g, b),
			Label: fmt.Sprintf("%d of %d", v, max), Number: max > 4,
			MouthY: 70, MouthCurve: int(55 + 30*f)})
	}
	return func(w http.ResponseWriter, r *http.Request) {
		lang, t, js := pageLang(r)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'")
		if err := pages.ExecuteTemplate(w, "terminal.html", map[string]any{"Scale": scale, "Buttons": buttons, "Lang": lang, "T": t, "I18N": js}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	}
}

func lerp(a, b int, f float64) int { return a + int(float64(b-a)*f) }
