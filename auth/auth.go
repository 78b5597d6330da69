// Package auth logs users in to the web pages: bcrypt passwords from the
// configuration, server-side sessions behind an HttpOnly, SameSite=Strict
// cookie, a CSRF token per session for every state-changing request, and
// role checks per route. Station tokens (agents, sensors) are separate.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"contactd/config"
)

// Roles.
const (
	Quality    = "quality"
	Supervisor = "supervisor"
	Employee   = "employee"
	Admin      = "admin"
)

// CookieName is the session cookie.
const CookieName = "contactd_session"

// CSRFHeader carries the session's CSRF token on POST, PUT, PATCH, DELETE.
const CSRFHeader = "X-CSRF-Token"

// ErrLogin is the one answer to a wrong name or password.
var ErrLogin = errors.New("wrong name or password")

// User is who a session belongs to.
type User struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Employee string `json:"employee,omitempty"`
	Lang     string `json:"lang"`
}

// Session is a logged-in user.
type Session struct {
	ID      string
	CSRF    string
	User    User
	Expires time.Time
}

// Manager holds the users and sessions.
type Manager struct {
	users map[string]config.User
	// TTL is how long a session lasts without use (default 12 h).
	TTL time.Duration
	Now func() time.Time

	mu       sync.Mutex
	sessions map[string]*Session
	failures map[string][]time.Time // "name:…" and "addr:…" → recent failed logins
}

// Login throttling: a name with NameFailures failed logins (or an address
// with AddrFailures) within FailureWindow is refused until the oldest of
// them is that old. Guessing a password then takes years, and a user whom
// someone locks out waits minutes, not for an administrator.
const (
	NameFailures  = 5
	AddrFailures  = 20
	FailureWindow = 15 * time.Minute
)

// ErrThrottled is a login refused for too many recent failures.
type ErrThrottled struct{ RetryAfter time.Duration }

func (e *ErrThrottled) Error() string {
	return fmt.Sprintf("too many failed logins: try again in %s", e.RetryAfter.Round(time.Second))
}

// dummyHash is compared against for unknown names, so that a wrong name
// takes as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not a password"), bcrypt.DefaultCost)

// New makes a manager for the configured users.
func New(users []config.User) *Manager {
	m := &Manager{users: map[string]config.User{}, sessions: map[string]*Session{}, failures: map[string][]time.Time{}, TTL: 12 * time.Hour, Now: time.Now}
	for _, u := range users {
		m.users[u.Name] = u
	}
	return m
}

// Hash makes a bcrypt hash of a password for the configuration.
func Hash(password string) (string, error) {
	if len(password) < 10 {
		return "", errors.New("a password needs at least 10 characters")
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), 12)
	return string(b), err
}

func token() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Login checks a name and password and opens a session.
func (m *Manager) Login(name, password string) (*Session, error) {
	return m.LoginFrom(name, password, "")
}

// throttled says how long a login for name from addr must wait (0: none),
// forgetting failures older than the window. Caller holds m.mu.
func (m *Manager) throttled(keys []string, limits []int) time.Duration {
	now := m.Now()
	var wait time.Duration
	for i, k := range keys {
		fs := m.failures[k]
		for len(fs) > 0 && now.Sub(fs[0]) >= FailureWindow {
			fs = fs[1:]
		}
		if len(fs) == 0 {
			delete(m.failures, k)
			continue
		}
		m.failures[k] = fs
		if len(fs) >= limits[i] {
			wait = max(wait, FailureWindow-now.Sub(fs[len(fs)-limits[i]]))
		}
	}
	return wait
}

// LoginFrom is Login from a remote address, throttled per name and per
// address; a refusal for throttling is an *ErrThrottled.
func (m *Manager) LoginFrom(name, password, addr string) (*Session, error) {
	keys, limits := []string{"name:" + name}, []int{NameFailures}
	if addr != "" {
		keys, limits = append(keys, "addr:"+addr), append(limits, AddrFailures)
	}
	m.mu.Lock()
	wait := m.throttled(keys, limits)
	m.mu.Unlock()
	if wait > 0 {
		return nil, &ErrThrottled{RetryAfter: wait}
	}
	s, err := m.login(name, password)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		for _, k := range keys {
			m.failures[k] = append(m.failures[k], m.Now())
		}
		return nil, err
	}
	delete(m.failures, "name:"+name)
	return s, nil
}

func (m *Manager) login(name, password string) (*Session, error) {
	u, ok := m.users[name]
	hash := []byte(u.PasswordHash)
	if !ok {
		hash = dummyHash
	}
	if err := bcrypt.CompareHashAndPassword(hash, []byte(password)); err != nil || !ok {
		return nil, ErrLogin
	}
	lang := u.Lang
	if lang == "" {
		lang = "ru"
	}
	s := &Session{ID: token(), CSRF: token(), User: User{Name: u.Name, Role: u.Role, Employee: u.Employee, Lang: lang},
		Expires: m.Now().Add(m.TTL)}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id, old := range m.sessions { // forget expired sessions as new ones come
		if m.Now().After(old.Expires) {
			delete(m.sessions, id)
		}
	}
	m.sessions[s.ID] = s
	return s, nil
}

// Logout ends a session.
func (m *Manager) Logout(s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, s.ID)
}

// FromRequest returns the request's live session, extending it, or nil.
func (m *Manager) FromRequest(r *http.Request) *Session {
	c, err := r.Cookie(CookieName)
	if err != nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[c.Value]
	if !ok || m.Now().After(s.Expires) {
		delete(m.sessions, c.Value)
		return nil
	}
	s.Expires = m.Now().Add(m.TTL)
	cp := *s // a copy: SetLang may change the stored one meanwhile
	return &cp
}

// SetLang changes the page language of a session (ru or en).
func (m *Manager) SetLang(s *Session, lang string) error {
	if lang != "ru" && lang != "en" {
		return fmt.Errorf("lang: %q (want ru or en)", lang)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.sessions[s.ID]; ok {
		st.User.Lang = lang
	}
	s.User.Lang = lang
	return nil
}

// SetCookie puts the session cookie on a response; Secure when the request
// came over TLS (directly or through a proxy that says so).
func SetCookie(w http.ResponseWriter, r *http.Request, s *Session, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: s.ID, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https", MaxAge: maxAge})
}

// Require wraps a handler: 401 without a session, 403 for other roles,
// 403 when a state-changing request lacks the session's CSRF token.
func (m *Manager) Require(roles []string, next func(http.ResponseWriter, *http.Request, *Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := m.FromRequest(r)
		if s == nil {
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		if !slices.Contains(roles, s.User.Role) {
			http.Error(w, "your role may not use this", http.StatusForbidden)
			return
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(s.CSRF)) != 1 {
				http.Error(w, "missing or wrong "+CSRFHeader, http.StatusForbidden)
				return
			}
		}
		next(w, r, s)
	}
}

// AllRoles is every role.
var AllRoles = []string{Quality, Supervisor, Employee, Admin}
