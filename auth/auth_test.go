package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"contactd/config"
)

func TestLoginSessionsAndRoles(t *testing.T) {
	h, err := Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Hash("short"); err == nil {
		t.Error("a 5-character password was hashed")
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	m := New([]config.User{{Name: "olga", Role: Quality, PasswordHash: h}})
	m.Now = func() time.Time { return now }
	if _, err := m.Login("olga", "wrong"); err != ErrLogin {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := m.Login("mallory", "correct horse battery"); err != ErrLogin {
		t.Errorf("unknown user: %v", err)
	}
	s, err := m.Login("olga", "correct horse battery")
	if err != nil || s.User.Lang != "ru" || s.CSRF == "" || s.ID == s.CSRF {
		t.Fatalf("%+v %v", s, err)
	}
	called := 0
	h1 := m.Require([]string{Quality}, func(http.ResponseWriter, *http.Request, *Session) { called++ })
	h2 := m.Require([]string{Admin}, func(http.ResponseWriter, *http.Request, *Session) { called++ })
	do := func(h http.HandlerFunc, method string, cookie, csrf string) int {
		r := httptest.NewRequest(method, "/x", nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: CookieName, Value: cookie})
		}
		if csrf != "" {
			r.Header.Set(CSRFHeader, csrf)
		}
		w := httptest.NewRecorder()
		h(w, r)
		return w.Code
	}
	for _, tc := range []struct {
		h              http.HandlerFunc
		method, ck, cs string
		want           int
	}{
		{h1, "GET", "", "", 401},
		{h1, "GET", "forged", "", 401},
		{h1, "GET", s.ID, "", 200},
		{h2, "GET", s.ID, "", 403},
		{h1, "POST", s.ID, "", 403},
		{h1, "POST", s.ID, "wrong", 403},
		{h1, "POST", s.ID, s.CSRF, 200},
	} {
		if got := do(tc.h, tc.method, tc.ck, tc.cs); got != tc.want {
			t.Errorf("%s cookie=%q csrf=%q: %d, want %d", tc.method, tc.ck, tc.cs, got, tc.want)
		}
	}
	if called != 2 {
		t.Errorf("handler ran %d times, want 2", called)
	}
	now = now.Add(13 * time.Hour) // past the idle time
	if got := do(h1, "GET", s.ID, ""); got != 401 {
		t.Errorf("an expired session: %d", got)
	}
}

// TestLoginThrottled: five wrong passwords lock the name for the rest of the
// window (even the right password is refused, without a bcrypt comparison),
// twenty from one address lock that address for every name; the lock lifts
// by itself.
func TestLoginThrottled(t *testing.T) {
	h, err := Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	users := []config.User{{Name: "olga", Role: Quality, PasswordHash: h}}
	for i := range 30 {
		users = append(users, config.User{Name: fmt.Sprintf("u%02d", i), Role: Quality, PasswordHash: h})
	}
	m := New(users)
	m.Now = func() time.Time { return now }
	for i := range NameFailures {
		if _, err := m.LoginFrom("olga", "guess", "10.0.0.5"); err != ErrLogin {
			t.Fatalf("attempt %d: %v", i+1, err)
		}
		now = now.Add(time.Minute)
	}
	_, err = m.LoginFrom("olga", "correct horse battery", "10.0.0.6")
	var th *ErrThrottled
	if !errors.As(err, &th) || th.RetryAfter != FailureWindow-5*time.Minute {
		t.Fatalf("sixth attempt with the right password: %v, want throttled for 10m", err)
	}
	now = now.Add(th.RetryAfter)
	if _, err := m.LoginFrom("olga", "correct horse battery", "10.0.0.6"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	// One address trying many names.
	for i := range AddrFailures {
		if _, err := m.LoginFrom(fmt.Sprintf("u%02d", i), "guess", "10.0.0.9"); err != ErrLogin {
			t.Fatalf("address attempt %d: %v", i+1, err)
		}
	}
	if _, err := m.LoginFrom("u29", "correct horse battery", "10.0.0.9"); !errors.As(err, &th) {
		t.Errorf("the address after %d failures: %v, want throttled", AddrFailures, err)
	}
	if _, err := m.LoginFrom("u29", "correct horse battery", "10.0.0.10"); err != nil {
		t.Errorf("the same user from another address: %v", err)
	}
}
