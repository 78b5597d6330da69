package capture

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"contactd/contact"
	"contactd/web"
)

// handler serves, on the agent's own port, the sensor endpoint and the rating
// terminal, so both keep working while the clinic server is down.
func (a *Agent) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", web.Static())
	mux.HandleFunc("GET /terminal", web.TerminalPage(a.Config.Terminal.Scale))
	mux.HandleFunc("POST /terminal/rating", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Value *int `json:"value"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body); err != nil || body.Value == nil {
			http.Error(w, `want {"value": N}`, http.StatusBadRequest)
			return
		}
		max, _ := a.Config.Terminal.Scale.Max()
		if *body.Value < 0 || *body.Value > max {
			http.Error(w, fmt.Sprintf("value %d is outside 0..%d", *body.Value, max), http.StatusBadRequest)
			return
		}
		if err := a.message(map[string]any{"value": *body.Value, "scale": a.Config.Terminal.Scale,
			"at": time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	// Sensors (ultrasonic/PIR boards, door contacts) post {"type": "arrive"|"leave"[, "at": RFC 3339]}.
	mux.HandleFunc("POST /events", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, contact.MaxLineBytes+1))
		if err != nil || len(b) > contact.MaxLineBytes {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			http.Error(w, "not a JSON object: "+err.Error(), http.StatusBadRequest)
			return
		}
		if _, ok := m["at"]; !ok {
			m["at"] = time.Now().UTC().Format(time.RFC3339Nano)
		}
		if _, ok := m["source"]; !ok {
			m["source"] = "sensor"
		}
		check, _ := json.Marshal(m)
		if _, ie := contact.ParseMessage(check, a.Config.Station); ie != nil {
			http.Error(w, ie.Error(), http.StatusBadRequest)
			return
		}
		if err := a.message(m); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"station": a.Config.Station, "connected": a.Connected(), "recording": a.Recording(),
			"outbox": a.outbox.len(), "spooled_segments": len(a.spool.Segments(time.Time{}, time.Now().Add(time.Hour)))})
	})
	return mux
}

// registry holds the agent's own metrics, read when scraped: connection,
// the spool awaiting upload, and the outbox.
func (a *Agent) registry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	labels := prometheus.Labels{"station": a.Config.Station}
	spooled := func() (n int, bytes int64) {
		for _, s := range a.spool.Segments(time.Time{}, time.Now().Add(time.Hour)) {
			n++
			if st, err := os.Stat(s.Path); err == nil {
				bytes += st.Size()
			}
		}
		return n, bytes
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "contactd_agent_connected", ConstLabels: labels,
			Help: "1 while the agent's WebRTC session with the server is up."}, func() float64 {
			if a.Connected() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "contactd_agent_spool_segments", ConstLabels: labels,
			Help: "Spooled audio segments awaiting upload to the server."}, func() float64 { n, _ := spooled(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "contactd_agent_spool_bytes", ConstLabels: labels,
			Help: "Bytes of spooled audio awaiting upload."}, func() float64 { _, b := spooled(); return float64(b) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "contactd_agent_outbox_messages", ConstLabels: labels,
			Help: "Events and ratings waiting for the server's acknowledgement."}, func() float64 { return float64(a.outbox.len()) }),
	)
	return reg
}
