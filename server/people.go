package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"contactd/auth"
	"contactd/classifier/voice"
)

// dayVoice is one employee's attributed speech today (site timezone).
type dayVoice struct {
	day              string
	speech, neg, pos float64
	station          string
	last             time.Time
	arousal, valence float64 // speech-weighted sums
}

func (s *Server) countToday(employee string, r voice.Reading) {
	day := r.Start.In(s.Config.Location()).Format(time.DateOnly)
	s.todayMu.Lock()
	defer s.todayMu.Unlock()
	d := s.today[employee]
	if d == nil || d.day != day {
		d = &dayVoice{day: day}
		s.today[employee] = d
	}
	d.speech += r.Speech
	switch r.Emotion {
	case "sad", "angry":
		d.neg += r.Speech
	case "happy":
		d.pos += r.Speech
	}
	d.arousal += r.Arousal * r.Speech
	d.valence += r.Valence * r.Speech
	d.last = r.Start
}

// login takes {"name","password"} and opens a session: the cookie, and in
// the answer the user and the CSRF token for their state-changing requests.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct{ Name, Password string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, `body: want {"name","password"}`, http.StatusBadRequest)
		return
	}
	sess, err := s.auth.Login(req.Name, req.Password)
	if err != nil {
		s.Log.Warn("login refused", "name", req.Name)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	auth.SetCookie(w, r, sess, 0)
	s.Log.Info("login", "name", sess.User.Name, "role", sess.User.Role)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"user": sess.User, "csrf": sess.CSRF})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
	s.auth.Logout(sess)
	auth.SetCookie(w, r, sess, -1)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, _ *http.Request, sess *auth.Session) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"user": sess.User, "csrf": sess.CSRF})
}

// setLang takes {"lang":"ru"|"en"} and switches the session's pages.
func (s *Server) setLang(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
	var req struct{ Lang string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 256)).Decode(&req); err != nil {
		http.Error(w, `body: want {"lang":"ru"} or {"lang":"en"}`, http.StatusBadRequest)
		return
	}
	if err := s.auth.SetLang(sess, req.Lang); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// mirror streams an employee's own voice readings, from whichever station
// they are on shift at, as server-sent events: at least one a second
// while they work. Employees may open only their own; admins any.
func (s *Server) mirror(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
	employee := r.PathValue("employee")
	if sess.User.Role == auth.Employee && sess.User.Employee != employee {
		http.Error(w, "an employee sees only their own mirror", http.StatusForbidden)
		return
	}
	if !slices.Contains(s.Config.Employees(), employee) {
		http.Error(w, fmt.Sprintf("employee %q is not in the configuration", employee), http.StatusNotFound)
		return
	}
	merged := make(chan struct {
		station string
		r       voice.Reading
	}, 16)
	var stops []func()
	for _, st := range s.Config.Stations {
		c, stop := s.voice.Subscribe(st.ID)
		stops = append(stops, stop)
		go func(id string, c <-chan voice.Reading) {
			for rd := range c {
				select {
				case merged <- struct {
					station string
					r       voice.Reading
				}{id, rd}:
				default:
				}
			}
		}(st.ID, c)
	}
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	send, ok := startEvents(w)
	if !ok {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.terminate:
			return
		case m := <-merged:
			// Only the seconds of this employee's shift, and not the patient's speech.
			if s.employeeOf(m.station, m.r.Start) != employee || m.r.Who == voice.Patient {
				continue
			}
			send(map[string]any{"station": m.station, "reading": m.r})
		}
	}
}

// monitor is the supervisor's view: every employee with where they work
// now, whether that station is live, and today's emotional background
// (shares of their attributed speech).
func (s *Server) monitor(w http.ResponseWriter, _ *http.Request, _ *auth.Session) {
	now := time.Now()
	live := s.ingest.Sessions()
	onShift := map[string]string{}
	for _, st := range s.Config.Stations {
		if e := s.employeeOf(st.ID, now); e != "" {
			onShift[e] = st.ID
		}
	}
	type today struct {
		SpeechSeconds float64 `json:"speech_seconds"`
		NegativeShare float64 `json:"negative_share"`
		PositiveShare float64 `json:"positive_share"`
		MeanArousal   float64 `json:"mean_arousal"`
		MeanValence   float64 `json:"mean_valence"`
	}
	type baseline struct {
		NegativeShare float64 `json:"negative_share"`
		PositiveShare float64 `json:"positive_share"`
	}
	type row struct {
		Employee string    `json:"employee"`
		Station  string    `json:"station,omitempty"`
		Live     bool      `json:"live"`
		Today    *today    `json:"today,omitempty"`
		Baseline *baseline `json:"baseline_14d,omitempty"`
		Warnings []string  `json:"warnings"`
	}
	// From Prometheus, when configured: baselines and firing warnings.
	prom := "not configured"
	var negBase, posBase map[string]float64
	warnings := map[string][]string{}
	if u := s.Config.Monitor.PrometheusURL; u != "" {
		prom = "ok"
		var err error
		if negBase, err = promVector(u, "employee:contactd_negative_speech_share:baseline_14d"); err == nil {
			posBase, err = promVector(u, "employee:contactd_positive_speech_share:baseline_14d")
		}
		var alerts map[string]float64
		if err == nil {
			alerts, err = promVector(u, `ALERTS{alertstate="firing",alertname=~"Contactd.*"}`, "alertname")
		}
		if err != nil {
			prom = "unreachable: " + err.Error()
		}
		for k := range alerts { // employee\x00alertname
			e, a, _ := strings.Cut(k, "\x00")
			warnings[e] = append(warnings[e], a)
		}
	}
	var rows []row
	day := now.In(s.Config.Location()).Format(time.DateOnly)
	s.todayMu.Lock()
	for _, e := range s.Config.Employees() {
		rw := row{Employee: e, Station: onShift[e], Live: onShift[e] != "" && slices.Contains(live, onShift[e]), Warnings: warnings[e]}
		if rw.Warnings == nil {
			rw.Warnings = []string{}
		}
		slices.Sort(rw.Warnings)
		if n, ok := negBase[e]; ok {
			rw.Baseline = &baseline{NegativeShare: n, PositiveShare: posBase[e]}
		}
		if d := s.today[e]; d != nil && d.day == day && d.speech > 0 {
			rw.Today = &today{SpeechSeconds: d.speech, NegativeShare: d.neg / d.speech, PositiveShare: d.pos / d.speech,
				MeanArousal: d.arousal / d.speech, MeanValence: d.valence / d.speech}
		}
		rows = append(rows, rw)
	}
	s.todayMu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"at": now.UTC(), "employees": rows, "prometheus": prom})
}

// promVector runs an instant query and returns the values by employee
// (and, with extra labels, employee + "\x00" + their values).
func promVector(base, query string, extra ...string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", strings.TrimRight(base, "/")+"/api/v1/query?query="+url.QueryEscape(query), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", query, r.Error)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		key := s.Metric["employee"]
		for _, l := range extra {
			key += "\x00" + s.Metric[l]
		}
		v, _ := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
		out[key] = v
	}
	return out, nil
}
