package server

import (
	"archive/zip"
	"cmp"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"contactd/auth"
	"contactd/contact"
	"contactd/review"
	"contactd/storage"
)

// listed is one contact in the review list: its index entry and review.
type listed struct {
	storage.Entry
	Review *review.Review `json:"review,omitempty"`
	// Uploading: the clip is safe on this server's disk, waiting for the
	// store (MinIO) to come back.
	Uploading bool `json:"uploading,omitempty"`
}

// contactFilter is the review list's query: ?set=negative,neutral
// &station=&employee=&site=&from=&to= (RFC 3339 or a date in the site's
// timezone; to is inclusive for a date) &reviewed=yes|no &flag= &cause=.
type contactFilter struct {
	sets                          []contact.Set
	station, employee, site, flag string
	cause                         string
	reviewed                      string
	from, to                      time.Time
	limit                         int
	// order: "" (negatives first, newest first) or "likely" (the most
	// likely negative first: for the contacts nobody rated).
	order string
}

func (s *Server) parseContactFilter(r *http.Request) (contactFilter, error) {
	q := r.URL.Query()
	f := contactFilter{station: q.Get("station"), employee: q.Get("employee"), site: q.Get("site"),
		flag: q.Get("flag"), cause: q.Get("cause"), reviewed: q.Get("reviewed"), limit: 500, order: q.Get("order")}
	if f.order != "" && f.order != "likely" {
		return f, fmt.Errorf("query parameter order: %q (want likely, or nothing for negatives first)", f.order)
	}
	for _, v := range strings.Split(q.Get("set"), ",") {
		if v = strings.TrimSpace(v); v != "" {
			f.sets = append(f.sets, contact.Set(v))
		}
	}
	switch f.reviewed {
	case "", "yes", "no":
	default:
		return f, fmt.Errorf("query parameter reviewed: %q (want yes or no)", f.reviewed)
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
		end  bool
	}{{"from", &f.from, false}, {"to", &f.to, true}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			*p.dst = t
			continue
		}
		d, err := time.ParseInLocation(time.DateOnly, v, s.Config.Location())
		if err != nil {
			return f, fmt.Errorf("query parameter %s: %q is neither an RFC 3339 time nor a date (YYYY-MM-DD)", p.name, v)
		}
		if p.end {
			d = d.AddDate(0, 0, 1)
		}
		*p.dst = d
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return f, fmt.Errorf("query parameter limit: %q is not a positive number", v)
		}
		f.limit = min(n, 5000)
	}
	return f, nil
}

func (f *contactFilter) match(e storage.Entry, rv *review.Review) bool {
	switch {
	case len(f.sets) > 0 && !slices.Contains(f.sets, e.Set),
		f.station != "" && e.Station != f.station,
		f.employee != "" && e.Employee != f.employee,
		f.site != "" && e.Site != f.site,
		f.flag != "" && !slices.Contains(e.Flags, contact.Flag(f.flag)),
		!f.from.IsZero() && e.Arrive.Before(f.from),
		!f.to.IsZero() && !e.Arrive.Before(f.to),
		f.reviewed == "yes" && (rv == nil || !rv.Reviewed),
		f.reviewed == "no" && rv != nil && rv.Reviewed,
		f.cause != "" && (rv == nil || !slices.Contains(rv.Causes, f.cause)):
		return false
	}
	return true
}

func likelyScore(e storage.Entry) float64 {
	if e.Likely == nil {
		return -1
	}
	return e.Likely.Score
}

// setOrder puts negative contacts first: they are what a quality officer reviews.
func setOrder(s contact.Set) int {
	switch s {
	case contact.Negative:
		return 0
	case contact.Unrated:
		return 2
	case contact.Positive:
		return 3
	}
	return 1
}

func (s *Server) loadIndex(r *http.Request) (*storage.Index, error) {
	ix, err := s.Archive.LoadIndex(r.Context())
	if errors.Is(err, storage.ErrNotFound) {
		return &storage.Index{}, nil
	}
	return ix, err
}

// contacts lists contacts for review: negatives first, newest first within
// a set, each with its review; with the stations, employees and sets found,
// for the page's filters.
func (s *Server) contacts(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	f, err := s.parseContactFilter(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ix, err := s.loadIndex(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	reviews := s.reviews.All()
	out := []listed{}
	stations, employees := map[string]bool{}, map[string]bool{}
	for _, e := range ix.Contacts {
		stations[e.Station] = true
		if e.Employee != "" {
			employees[e.Employee] = true
		}
		var rv *review.Review
		if x, ok := reviews[e.ID]; ok {
			rv = &x
		}
		if f.match(e, rv) {
			out = append(out, listed{Entry: e, Review: rv, Uploading: s.uploading(e.Clip)})
		}
	}
	slices.SortStableFunc(out, func(a, b listed) int {
		if f.order == "likely" {
			// Unscored contacts (nothing was heard) go last.
			if c := cmp.Compare(likelyScore(b.Entry), likelyScore(a.Entry)); c != 0 {
				return c
			}
		} else if c := cmp.Compare(setOrder(a.Set), setOrder(b.Set)); c != 0 {
			return c
		}
		return b.Arrive.Compare(a.Arrive)
	})
	total := len(out)
	if len(out) > f.limit {
		out = out[:f.limit]
	}
	keys := func(m map[string]bool) []string {
		k := []string{}
		for x := range m {
			k = append(k, x)
		}
		slices.Sort(k)
		return k
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"contacts": out, "total": total,
		"stations": keys(stations), "employees": keys(employees)})
}

// findContact looks a contact up in the index.
func (s *Server) findContact(r *http.Request, id string) (*storage.Entry, error) {
	ix, err := s.loadIndex(r)
	if err != nil {
		return nil, err
	}
	for i := range ix.Contacts {
		if ix.Contacts[i].ID == id {
			return &ix.Contacts[i], nil
		}
	}
	return nil, fmt.Errorf("contact %q: %w", id, storage.ErrNotFound)
}

func httpStatus(err error) int {
	if errors.Is(err, storage.ErrNotFound) {
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// sidecarKey is where an index entry's sidecar lives.
func (s *Server) sidecarKey(e *storage.Entry) string {
	return s.Archive.SidecarKeyOf(e)
}

// contactDetail returns a contact's sidecar (every fact, with the voice
// timelines) and its review.
func (s *Server) contactDetail(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	e, err := s.findContact(r, r.PathValue("id"))
	if err != nil {
		http.Error(w, err.Error(), httpStatus(err))
		return
	}
	sc, err := s.Archive.ReadSidecar(r.Context(), s.sidecarKey(e))
	if err != nil {
		http.Error(w, err.Error(), httpStatus(err))
		return
	}
	out := map[string]any{"contact": sc, "entry": e}
	if rv, ok := s.reviews.Get(e.ID); ok {
		out["review"] = rv
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// clip serves a contact's clip to a quality officer or admin, after the
// access is in the audit log. ?download=1 serves it as an attachment.
// A player's follow-up range requests are not logged again.
func (s *Server) clip(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
	e, err := s.findContact(r, r.PathValue("id"))
	if err != nil {
		http.Error(w, err.Error(), httpStatus(err))
		return
	}
	if e.Clip == "" {
		http.Error(w, fmt.Sprintf("contact %s has no clip (no media was recorded)", e.ID), http.StatusNotFound)
		return
	}
	download := r.URL.Query().Get("download") == "1"
	action := review.ActionPlay
	if download {
		action = review.ActionDownload
	}
	if rg := r.Header.Get("Range"); download || rg == "" || strings.HasPrefix(rg, "bytes=0-") {
		if err := s.audit.Append(review.AuditEntry{User: sess.User.Name, Role: sess.User.Role, Action: action,
			Contact: e.ID, Clip: e.Clip, Remote: r.RemoteAddr}); err != nil {
			s.Log.Error("audit log not written: clip withheld", "error", err)
			http.Error(w, "the audit log cannot be written, so the clip is not served", http.StatusServiceUnavailable)
			return
		}
	}
	rc, err := s.Archive.Store.Get(r.Context(), e.Clip)
	if err != nil {
		http.Error(w, err.Error(), httpStatus(err))
		return
	}
	defer rc.Close()
	name := path.Base(e.Clip)
	if download {
		w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	}
	w.Header().Set("Cache-Control", "private, no-store")
	if ct := clipType(name); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	if rs, ok := rc.(io.ReadSeeker); ok { // local files and S3 objects seek: players can jump
		http.ServeContent(w, r, name, e.Leave, rs)
		return
	}
	io.Copy(w, rc)
}

func clipType(name string) string {
	switch path.Ext(name) {
	case ".webm":
		return "video/webm"
	case ".mkv":
		return "video/x-matroska"
	case ".mp4":
		return "video/mp4"
	case ".ogg", ".opus":
		return "audio/ogg"
	}
	return ""
}

// putReview stores a quality officer's review of a contact.
func (s *Server) putReview(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
	e, err := s.findContact(r, r.PathValue("id"))
	if err != nil {
		http.Error(w, err.Error(), httpStatus(err))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 16<<10))
	if err != nil {
		http.Error(w, "body: over 16 KiB", http.StatusRequestEntityTooLarge)
		return
	}
	var ids []string
	for _, c := range s.Config.Review.Causes {
		ids = append(ids, c.ID)
	}
	rv, err := review.ParseBody(body, e.ID, ids)
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	rv.By, rv.At = sess.User.Name, time.Now().UTC()
	if err := s.reviews.Put(rv); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.Log.Info("contact reviewed", "contact", e.ID, "by", rv.By, "reviewed", rv.Reviewed, "causes", rv.Causes)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(rv)
}

// causes lists the configured causes.
func (s *Server) causes(w http.ResponseWriter, _ *http.Request, _ *auth.Session) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"causes": s.Config.Review.Causes, "emotions": review.Emotions})
}

// pareto counts causes over the contacts the filter selects: the causes
// by count with their cumulative share (the Pareto chart), and per week.
func (s *Server) pareto(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	f, err := s.parseContactFilter(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ix, err := s.loadIndex(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	reviews := s.reviews.All()
	count := map[string]int{}
	weeks := map[string]map[string]int{}
	tagged := 0
	for _, e := range ix.Contacts {
		rv, ok := reviews[e.ID]
		if !ok || len(rv.Causes) == 0 || !f.match(e, &rv) {
			continue
		}
		tagged++
		y, wk := e.Arrive.In(s.Config.Location()).ISOWeek()
		week := fmt.Sprintf("%04d-W%02d", y, wk)
		if weeks[week] == nil {
			weeks[week] = map[string]int{}
		}
		for _, c := range rv.Causes {
			count[c]++
			weeks[week][c]++
		}
	}
	type bar struct {
		Cause      string  `json:"cause"`
		Count      int     `json:"count"`
		Cumulative float64 `json:"cumulative"`
	}
	bars := []bar{}
	total := 0
	for c, n := range count {
		bars = append(bars, bar{Cause: c, Count: n})
		total += n
	}
	slices.SortFunc(bars, func(a, b bar) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Cause, b.Cause)) })
	run := 0
	for i := range bars {
		run += bars[i].Count
		bars[i].Cumulative = float64(run) / float64(total)
	}
	type week struct {
		Week   string         `json:"week"`
		Counts map[string]int `json:"counts"`
	}
	ws := []week{}
	for k, v := range weeks {
		ws = append(ws, week{k, v})
	}
	slices.SortFunc(ws, func(a, b week) int { return cmp.Compare(a.Week, b.Week) })
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"contacts": tagged, "causes": bars, "weeks": ws})
}

// MaxExport bounds the contacts in one export.
const MaxExport = 200

// export streams a zip of the selected contacts' clips and sidecars with a
// CSV of their facts; every contact in it is in the audit log first.
func (s *Server) export(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
	var req struct {
		IDs []string `json:"ids"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || len(req.IDs) == 0 {
		http.Error(w, `body: want {"ids":["contact id",…]}`, http.StatusBadRequest)
		return
	}
	if len(req.IDs) > MaxExport {
		http.Error(w, fmt.Sprintf("ids: %d contacts, at most %d in one export", len(req.IDs), MaxExport), http.StatusBadRequest)
		return
	}
	ix, err := s.loadIndex(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	byID := map[string]*storage.Entry{}
	for i := range ix.Contacts {
		byID[ix.Contacts[i].ID] = &ix.Contacts[i]
	}
	var entries []*storage.Entry
	for _, id := range req.IDs {
		e, ok := byID[id]
		if !ok {
			http.Error(w, fmt.Sprintf("ids: contact %q is not in the index", id), http.StatusNotFound)
			return
		}
		entries = append(entries, e)
	}
	for _, e := range entries {
		if err := s.audit.Append(review.AuditEntry{User: sess.User.Name, Role: sess.User.Role, Action: review.ActionExport,
			Contact: e.ID, Clip: e.Clip, Remote: r.RemoteAddr}); err != nil {
			http.Error(w, "the audit log cannot be written, so nothing is exported", http.StatusServiceUnavailable)
			return
		}
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", "contacts-"+time.Now().In(s.Config.Location()).Format("2006-01-02-1504")+".zip"))
	zw := zip.NewWriter(w)
	defer zw.Close()
	reviews := s.reviews.All()
	cf, _ := zw.Create("contacts.csv")
	cw := csv.NewWriter(cf)
	cw.Write([]string{"id", "site", "station", "employee", "arrive", "leave", "duration_s", "set", "rating", "scale", "flags",
		"reviewed", "causes", "note", "employee_negative_share", "patient_negative_share", "clip"})
	type row struct {
		e  *storage.Entry
		sc *storage.Sidecar
	}
	var rows []row
	for _, e := range entries {
		sc, err := s.Archive.ReadSidecar(r.Context(), s.sidecarKey(e))
		if err != nil {
			s.Log.Warn("export: sidecar unreadable", "contact", e.ID, "error", err)
		}
		rows = append(rows, row{e, sc})
	}
	for _, x := range rows {
		e, rv := x.e, reviews[x.e.ID]
		rating, scale := "", ""
		if e.Rating != nil {
			rating, scale = strconv.Itoa(e.Rating.Value), string(e.Rating.Scale)
		}
		var flags []string
		for _, f := range e.Flags {
			flags = append(flags, string(f))
		}
		en, pn := "", ""
		if x.sc != nil && x.sc.Voice != nil {
			if v := x.sc.Voice.Employee; v != nil {
				en = strconv.FormatFloat(v.NegativeShare, 'f', 3, 64)
			}
			if v := x.sc.Voice.Patient; v != nil {
				pn = strconv.FormatFloat(v.NegativeShare, 'f', 3, 64)
			}
		}
		clip := ""
		if e.Clip != "" {
			clip = "clips/" + path.Base(e.Clip)
		}
		cw.Write([]string{e.ID, e.Site, e.Station, e.Employee, e.Arrive.UTC().Format(time.RFC3339), e.Leave.UTC().Format(time.RFC3339),
			strconv.FormatFloat(e.Leave.Sub(e.Arrive).Seconds(), 'f', 1, 64), string(e.Set), rating, scale, strings.Join(flags, " "),
			strconv.FormatBool(rv.Reviewed), strings.Join(rv.Causes, " "), rv.Note, en, pn, clip})
	}
	cw.Flush()
	for _, x := range rows {
		if x.sc != nil {
			b, _ := json.MarshalIndent(x.sc, "", "  ")
			f, _ := zw.Create("sidecars/" + x.e.ID + ".json")
			f.Write(b)
		}
		if x.e.Clip == "" {
			continue
		}
		rc, err := s.Archive.Store.Get(r.Context(), x.e.Clip)
		if err != nil {
			s.Log.Warn("export: clip unreadable", "contact", x.e.ID, "error", err)
			continue
		}
		// Clips are compressed media already: store them as they are.
		f, _ := zw.CreateHeader(&zip.FileHeader{Name: "clips/" + path.Base(x.e.Clip), Method: zip.Store, Modified: x.e.Leave})
		_, err = io.Copy(f, rc)
		rc.Close()
		if err != nil {
			s.Log.Warn("export interrupted", "contact", x.e.ID, "error", err)
			return
		}
	}
}

// auditLog shows admins the access log, newest first, and whether its
// hash chain is intact.
func (s *Server) auditLog(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	entries, err := s.audit.Read()
	chain := "intact"
	if err != nil {
		chain = err.Error()
	}
	if c := r.URL.Query().Get("contact"); c != "" {
		entries = slices.DeleteFunc(entries, func(e review.AuditEntry) bool { return e.Contact != c })
	}
	slices.Reverse(entries)
	if entries == nil {
		entries = []review.AuditEntry{}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"entries": entries, "chain": chain})
}
