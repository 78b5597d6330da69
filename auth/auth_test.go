package auth

import (
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
