package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"contactd/auth"
	"contactd/evidence"
	"contactd/retention"
	"contactd/review"
	"contactd/storage"
)

// curateEvery is how often ended days are signed and retention is applied.
const curateEvery = time.Hour

// curate signs the manifests of days that have ended (and whose late
// ratings can no longer change a sidecar) and deletes contacts whose
// retention is over. It runs from housekeeping.
func (s *Server) curate(ctx context.Context, now time.Time) {
	if s.signingKey != nil {
		s.signDays(ctx, now)
	}
	res, err := retention.Run(ctx, s.Archive, s.Config.Retention.For, now, false)
	if err != nil {
		s.Log.Error("retention", "error", err)
	}
	if res == nil {
		return
	}
	for _, e := range res.Deleted {
		if err := s.audit.Append(review.AuditEntry{User: "contactd", Role: "system", Action: "delete (retention " + string(e.Set) + ")",
			Contact: e.ID, Clip: e.Clip}); err != nil {
			s.Log.Error("audit log", "error", err)
		}
	}
	if len(res.Deleted) > 0 || res.Held > 0 {
		s.Log.Info("retention applied", "deleted", len(res.Deleted), "kept_by_hold", res.Held)
	}
}

// signDays writes the manifest of every day with contacts that has ended
// and has none yet.
func (s *Server) signDays(ctx context.Context, now time.Time) {
	ix, err := s.Archive.LoadIndex(ctx)
	if err != nil {
		if !errors.Is(err, storage.ErrNotFound) {
			s.Log.Error("signing days: index", "error", err)
		}
		return
	}
	loc := s.Config.Location()
	settled := now.Add(-s.Config.Segmenter.RatingWindow - s.Config.Segmenter.MaxContact - 10*time.Minute).In(loc)
	today := time.Date(settled.Year(), settled.Month(), settled.Day(), 0, 0, 0, 0, loc)
	days := map[string]bool{}
	for i := range ix.Contacts {
		if ix.Contacts[i].Arrive.Before(today) {
			days[s.Archive.Day(&ix.Contacts[i])] = true
		}
	}
	order := make([]string, 0, len(days))
	for d := range days {
		order = append(order, d)
	}
	slices.Sort(order) // oldest first: each manifest links the one before
	for _, d := range order {
		if s.signed[d] {
			continue
		}
		key := evidence.Key(s.Config.Site, d)
		if rc, err := s.Archive.Store.Get(ctx, key); err == nil {
			rc.Close()
			s.signed[d] = true
			continue
		}
		m, err := evidence.Build(ctx, s.Archive.Store, s.Config.Site, d, s.signingKey)
		if err == nil {
			_, err = evidence.Save(ctx, s.Archive.Store, m)
		}
		if err != nil {
			s.Log.Error("signing a day", "day", d, "error", err)
			continue
		}
		s.signed[d] = true
		s.Log.Info("day signed", "day", d, "manifest", key, "contacts", len(m.Entries), "head", m.Head[:16])
	}
}

func (s *Server) loadSigningKey() error {
	s.signed = map[string]bool{}
	if s.Config.Evidence.SigningKey == "" {
		return nil
	}
	k, err := evidence.LoadPrivateKey(s.Config.Evidence.SigningKey)
	if err != nil {
		return err
	}
	s.signingKey = k
	return nil
}

// putHold puts a contact under a legal hold: {"reason": "complaint 2026-114"}.
func (s *Server) putHold(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
	e, err := s.findContact(r, r.PathValue("id"))
	if err != nil {
		http.Error(w, err.Error(), httpStatus(err))
		return
	}
	var body struct {
		Reason string `json:"reason"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		http.Error(w, "body: "+err.Error()+` (want {"reason": "…"})`, http.StatusBadRequest)
		return
	}
	h := retention.Hold{Contact: e.ID, By: sess.User.Name, Reason: strings.TrimSpace(body.Reason), At: time.Now().UTC()}
	if err := retention.SetHold(r.Context(), s.Archive.Store, h); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.audit.Append(review.AuditEntry{User: sess.User.Name, Role: sess.User.Role, Action: "legal hold: " + h.Reason, Contact: e.ID, Clip: e.Clip, Remote: r.RemoteAddr})
	s.Log.Info("legal hold set", "contact", e.ID, "by", h.By, "reason", h.Reason)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(h)
}

// deleteHold lifts a contact's legal hold.
func (s *Server) deleteHold(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
	id := r.PathValue("id")
	holds, err := retention.Holds(r.Context(), s.Archive.Store)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if _, ok := holds[id]; !ok {
		http.Error(w, "contact "+id+": no legal hold", http.StatusNotFound)
		return
	}
	if err := retention.ReleaseHold(r.Context(), s.Archive.Store, id); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.audit.Append(review.AuditEntry{User: sess.User.Name, Role: sess.User.Role, Action: "legal hold released", Contact: id, Remote: r.RemoteAddr})
	s.Log.Info("legal hold released", "contact", id, "by", sess.User.Name)
	w.WriteHeader(http.StatusNoContent)
}

// listHolds lists every legal hold.
func (s *Server) listHolds(w http.ResponseWriter, r *http.Request, _ *auth.Session) {
	holds, err := retention.Holds(r.Context(), s.Archive.Store)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	out := []retention.Hold{}
	for _, h := range holds {
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b retention.Hold) int { return a.At.Compare(b.At) })
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"holds": out})
}
