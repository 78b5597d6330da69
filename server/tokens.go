package server

import (
	"bufio"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"

	"contactd/auth"
	"contactd/config"
	"contactd/review"
)

// revocation is a station token an administrator revoked: refused from then
// on, across restarts, until the station gets a new token_hash.
type revocation struct {
	Station string    `json:"station"`
	Hash    string    `json:"hash"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
}

func (s *Server) openRevoked(path string) error {
	s.revoked = map[string]revocation{}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			var r revocation
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil || r.Hash == "" {
				f.Close()
				// Refusing to start beats forgetting a revocation.
				return fmt.Errorf("%s line %d: not a revocation: %v", path, n, err)
			}
			s.revoked[r.Hash] = r
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o640)
	if err != nil {
		return err
	}
	s.revFile = f
	return nil
}

// tokenOK compares a token's hash with the station's in constant time and
// refuses a revoked one.
func (s *Server) tokenOK(st config.Station, token string) bool {
	h := config.HashToken(token)
	ok := subtle.ConstantTimeCompare([]byte(h), []byte(st.Hash())) == 1
	s.revMu.Lock()
	_, revoked := s.revoked[h]
	s.revMu.Unlock()
	return ok && !revoked
}

// revokeToken revokes a station's current token (a desk PC stolen, a token
// leaked): its requests are refused from now on and its live sessions end.
func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, sess *auth.Session) {
	id := r.PathValue("station")
	st, ok := s.stations[id]
	if !ok {
		http.Error(w, "station "+id+": not configured", http.StatusNotFound)
		return
	}
	rv := revocation{Station: id, Hash: st.Hash(), At: time.Now().UTC(), By: sess.User.Name}
	b, _ := json.Marshal(rv)
	s.revMu.Lock()
	_, err := s.revFile.Write(append(b, '\n'))
	if err == nil {
		err = s.revFile.Sync()
	}
	if err == nil {
		s.revoked[rv.Hash] = rv
	}
	s.revMu.Unlock()
	if err != nil {
		http.Error(w, "revocation not saved: "+err.Error(), http.StatusInternalServerError)
		return
	}
	closed := s.ingest.CloseStation(id)
	s.audit.Append(review.AuditEntry{User: sess.User.Name, Role: sess.User.Role, Action: "station token revoked: " + id, Remote: r.RemoteAddr})
	s.Log.Warn("station token revoked", "station", id, "by", rv.By, "sessions_closed", closed)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"station": id, "revoked_at": rv.At, "sessions_closed": closed,
		"next": "give the station a new token: contactd station token, then its token_hash in the configuration and a restart"})
}
