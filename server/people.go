package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"contactd/auth"
	"contactd/classifier/vision"
	"contactd/classifier/voice"
	"contactd/contact"
	"contactd/history"
	"contactd/storage"
)

// countToday adds an employee's second of speech to their day (site timezone).
func (s *Server) countToday(employee string, r voice.Reading) {
	day := r.Start.In(s.Config.Location()).Format(time.DateOnly)
	var neg, pos float64
	switch r.Emotion {
	case "sad", "angry":
		neg = r.Speech
	case "happy":
		pos = r.Speech
	}
	s.history.Add(employee, day, r.Speech, neg, pos, r.Arousal, r.Valence)
}

// login takes {"name","password"} and opens a session: the cookie, and in
// the answer the user and the CSRF token for their state-changing requests.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct{ Name, Password string }
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, `body: want {"name","password"}`, http.StatusBadRequest)
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	sess, err := s.auth.LoginFrom(req.Name, req.Password, host)
	var th *auth.ErrThrottled
	if errors.As(err, &th) {
		s.Log.Warn("login throttled", "name", req.Name, "remote", host, "retry_after", th.RetryAfter.Round(time.Second))
		w.Header().Set("Retry-After", strconv.Itoa(int(th.RetryAfter.Seconds())+1))
		http.Error(w, err.Error(), http.StatusTooManyRequests)
		return
	}
	if err != nil {
		s.Log.Warn("login refused", "name", req.Name, "remote", host)
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
	type item struct {
		station string
		voice   *voice.Reading
		face    *vision.Reading
	}
	merged := make(chan item, 32)
	var stops []func()
	for _, st := range s.Config.Stations {
		c, stop := s.voice.Subscribe(st.ID)
		stops = append(stops, stop)
		go func(id string, c <-chan voice.Reading) {
			for rd := range c {
				select {
				case merged <- item{station: id, voice: &rd}:
				default:
				}
			}
		}(st.ID, c)
		if s.vision != nil {
			fc, fstop := s.vision.Subscribe(st.ID)
			stops = append(stops, fstop)
			go func(id string, c <-chan vision.Reading) {
				for rd := range c {
					select {
					case merged <- item{station: id, face: &rd}:
					default:
					}
				}
			}(st.ID, fc)
		}
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
	// One stream of the employee's voice and face, fused (vision.Fuser).
	var fused vision.Fuser
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.terminate:
			return
		case m := <-merged:
			ev := map[string]any{"station": m.station}
			switch {
			case m.voice != nil:
				// Only the seconds of this employee's shift, and not the patient's speech.
				if s.employeeOf(m.station, m.voice.Start) != employee || m.voice.Who == voice.Patient {
					continue
				}
				if m.voice.Prediction != nil {
					fused.AddVoice(m.voice.Speech, m.voice.Valence, m.voice.Arousal)
				}
				ev["reading"] = m.voice
			default:
				if s.employeeOf(m.station, m.face.Start) != employee {
					continue
				}
				fused.AddFace(*m.face)
				ev["face"] = m.face
			}
			ev["fused"] = fused
			send(ev)
		}
	}
}

// dayFigures is one day of an employee's emotional background.
type dayFigures struct {
	Day           string  `json:"day"`
	SpeechSeconds float64 `json:"speech_seconds"`
	NegativeShare float64 `json:"negative_share"`
	PositiveShare float64 `json:"positive_share"`
	MeanArousal   float64 `json:"mean_arousal"`
	MeanValence   float64 `json:"mean_valence"`
	// FaceSeconds the desk camera saw their face; SmileShare of those smiling.
	FaceSeconds float64 `json:"face_seconds"`
	SmileShare  float64 `json:"smile_share"`
}

func figures(d history.Day) dayFigures {
	f := dayFigures{Day: d.Day, SpeechSeconds: d.Speech, NegativeShare: d.NegativeShare(), PositiveShare: d.PositiveShare(),
		FaceSeconds: d.FaceSeen, SmileShare: d.SmileShare()}
	if d.Speech > 0 {
		f.MeanArousal, f.MeanValence = d.Arousal/d.Speech, d.Valence/d.Speech
	}
	return f
}

// indices are the rating indices of a station or employee over a period,
// as deploy/prometheus/rules.yml defines them: CSI, top-box ratings per
// contact served, and DSI, bottom-box ratings per contact served, in percent.
type indices struct {
	Contacts    int      `json:"contacts"`
	Rated       int      `json:"rated"`
	CSI         *float64 `json:"csi"` // nil without contacts
	DSI         *float64 `json:"dsi"`
	top, bottom int
}

func (x *indices) add(e storage.Entry, rules contact.SetRules) {
	x.Contacts++
	if e.Rating != nil {
		x.Rated++
		if rules.TopBox(e.Rating) {
			x.top++
		}
		if rules.BottomBox(e.Rating) {
			x.bottom++
		}
	}
	csi, dsi := 100*float64(x.top)/float64(x.Contacts), 100*float64(x.bottom)/float64(x.Contacts)
	x.CSI, x.DSI = &csi, &dsi
}

// monitor is the supervisor's view: every employee with where they work
// now, whether that station is live, today's emotional background against
// their baseline, the last 14 days and warnings; the rating indices per
// station and employee (today and 30 days); and the stations' health.
// Baselines and warnings come from Prometheus when monitor.prometheus_url
// is set, else from contactd's own day-by-day history by the same rules.
func (s *Server) monitor(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	now := time.Now()
	loc := s.Config.Location()
	day := now.In(loc).Format(time.DateOnly)
	live := s.ingest.Sessions()
	onShift := map[string]string{}
	for _, st := range s.Config.Stations {
		if e := s.employeeOf(st.ID, now); e != "" {
			onShift[e] = st.ID
		}
	}
	type baseline struct {
		NegativeShare float64 `json:"negative_share"`
		PositiveShare float64 `json:"positive_share"`
		Source        string  `json:"source"`
	}
	type row struct {
		Employee  string       `json:"employee"`
		Station   string       `json:"station,omitempty"`
		OnShift   bool         `json:"on_shift"`
		Live      bool         `json:"live"`
		Today     *dayFigures  `json:"today,omitempty"`
		Baseline  *baseline    `json:"baseline_14d,omitempty"`
		Last14    []dayFigures `json:"last_14d"`
		Warnings  []string     `json:"warnings"`
		Ratings   *indices     `json:"ratings_today"`
		Ratings30 *indices     `json:"ratings_30d"`
	}
	prom := "not configured"
	var negBase, posBase map[string]float64
	var promWarnings map[string][]string
	if u := s.Config.Monitor.PrometheusURL; u != "" {
		prom = "ok"
		promWarnings = map[string][]string{}
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
			promWarnings = nil
		}
		for k := range alerts { // employee\x00alertname
			e, a, _ := strings.Cut(k, "\x00")
			promWarnings[e] = append(promWarnings[e], a)
		}
	}
	// Rating indices from the index: today and the last 30 days.
	byStation, byEmployee := map[string]*[2]indices{}, map[string]*[2]indices{}
	if ix, err := s.loadIndex(r); err == nil {
		from30 := now.AddDate(0, 0, -30)
		for _, e := range ix.Contacts {
			if e.Arrive.Before(from30) {
				continue
			}
			for _, m := range []struct {
				by  map[string]*[2]indices
				key string
			}{{byStation, e.Station}, {byEmployee, e.Employee}} {
				if m.key == "" {
					continue
				}
				if m.by[m.key] == nil {
					m.by[m.key] = &[2]indices{}
				}
				m.by[m.key][1].add(e, s.Config.Scales)
				if e.Arrive.In(loc).Format(time.DateOnly) == day {
					m.by[m.key][0].add(e, s.Config.Scales)
				}
			}
		}
	} else {
		s.Log.Warn("monitor: index unreadable", "error", err)
	}
	pair := func(m map[string]*[2]indices, k string) (*indices, *indices) {
		if p := m[k]; p != nil {
			return &p[0], &p[1]
		}
		return &indices{}, &indices{}
	}
	rows := []row{}
	for _, e := range s.Config.Employees() {
		rw := row{Employee: e, Station: onShift[e], OnShift: onShift[e] != "", Live: onShift[e] != "" && slices.Contains(live, onShift[e])}
		for _, d := range s.history.Series(e, day, 14) {
			rw.Last14 = append(rw.Last14, figures(d))
		}
		if t := s.history.Get(e, day); t.Speech > 0 || t.FaceSeen > 0 {
			f := figures(t)
			rw.Today = &f
		}
		if promWarnings != nil {
			rw.Warnings = promWarnings[e]
			if n, ok := negBase[e]; ok {
				rw.Baseline = &baseline{NegativeShare: n, PositiveShare: posBase[e], Source: "prometheus"}
			}
		} else {
			rw.Warnings = s.history.Warnings(e, day)
			if bl := s.history.BaselineOf(e, day); bl.OK {
				rw.Baseline = &baseline{NegativeShare: bl.NegativeShare, PositiveShare: bl.PositiveShare, Source: "contactd"}
			}
		}
		if rw.Warnings == nil {
			rw.Warnings = []string{}
		}
		slices.Sort(rw.Warnings)
		rw.Ratings, rw.Ratings30 = pair(byEmployee, e)
		rows = append(rows, rw)
	}
	type station struct {
		ID                 string   `json:"id"`
		Employee           string   `json:"employee,omitempty"`
		Live               bool     `json:"live"`
		LastReadingSeconds *float64 `json:"last_reading_seconds_ago"`
		Ratings            *indices `json:"ratings_today"`
		Ratings30          *indices `json:"ratings_30d"`
	}
	stations := []station{}
	s.lastMu.Lock()
	for _, st := range s.Config.Stations {
		x := station{ID: st.ID, Employee: s.employeeOf(st.ID, now), Live: slices.Contains(live, st.ID)}
		if t, ok := s.lastReading[st.ID]; ok {
			ago := now.Sub(t).Seconds()
			x.LastReadingSeconds = &ago
		}
		x.Ratings, x.Ratings30 = pair(byStation, st.ID)
		stations = append(stations, x)
	}
	s.lastMu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"at": now.UTC(), "day": day, "employees": rows, "stations": stations, "prometheus": prom})
}

// mirrorToday is an employee's own summary of today and the last 7 days.
func (s *Server) mirrorToday(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
	employee := r.PathValue("employee")
	if sess.User.Role == auth.Employee && sess.User.Employee != employee {
		http.Error(w, "an employee sees only their own mirror", http.StatusForbidden)
		return
	}
	if !slices.Contains(s.Config.Employees(), employee) {
		http.Error(w, fmt.Sprintf("employee %q is not in the configuration", employee), http.StatusNotFound)
		return
	}
	now := time.Now()
	day := now.In(s.Config.Location()).Format(time.DateOnly)
	var week []dayFigures
	for _, d := range s.history.Series(employee, day, 7) {
		week = append(week, figures(d))
	}
	station := ""
	for _, st := range s.Config.Stations {
		if s.employeeOf(st.ID, now) == employee {
			station = st.ID
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"employee": employee, "station": station, "today": figures(s.history.Get(employee, day)), "last_7d": week})
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
