package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"contactd/capture"
	"contactd/certs"
	"contactd/config"
)

// TestTLS: with tls.cert_file and tls.key_file the server speaks HTTPS only;
// an agent trusting the clinic's self-signed certificate publishes over
// WHIP on it; the session cookie is Secure.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	crt, key, err := certs.SelfSigned([]string{"contactd.clinic.lan", "127.0.0.1"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cf, kf := filepath.Join(dir, "contactd.crt"), filepath.Join(dir, "contactd.key")
	os.WriteFile(cf, crt, 0o644)
	os.WriteFile(kf, key, 0o600)
	ts := startServer(t, t.TempDir(), t.TempDir(), withUsers(t), func(c *config.Config) { c.TLS = config.TLS{CertFile: cf, KeyFile: kf} })
	if !strings.HasPrefix(ts.url, "https://") {
		t.Fatal(ts.url)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(crt)
	jar, _ := cookiejar.New(nil)
	trusting := &http.Client{Jar: jar, Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	if resp, err := http.Get(ts.url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("a client that does not trust the certificate got through")
	}
	if resp, err := http.Get("http://" + strings.TrimPrefix(ts.url, "https://") + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
		resp.Body.Close()
	}
	resp, err := trusting.Post(ts.url+"/api/v1/login", "application/json", strings.NewReader(`{"name":"olga","password":"correct horse battery"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	secure := false
	for _, c := range resp.Cookies() {
		secure = secure || c.Secure
	}
	if resp.StatusCode != 200 || !secure {
		t.Errorf("login over TLS: %d, secure cookie %v", resp.StatusCode, secure)
	}

	agentCfg := config.DefaultAgent()
	agentCfg.ServerCA = cf
	client, err := agentCfg.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	pub := &capture.Publisher{URL: ts.url + "/whip/desk-1", Token: token, InterfaceFilter: loopbackOnly, IncludeLoopback: true, Client: client}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pub.Connect(ctx); err != nil {
		t.Fatalf("WHIP over HTTPS: %v", err)
	}
	if err := pub.Send(map[string]any{"type": "arrive", "at": time.Now().UTC()}); err != nil {
		t.Errorf("data channel over the TLS-negotiated session: %v", err)
	}
	pub.Close(context.Background())

	bad := config.DefaultAgent()
	bad.ServerCA = kf
	if _, err := bad.HTTPClient(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("server_ca pointing at a key: %v", err)
	}
}

// TestLoginThrottledOverHTTP: the sixth wrong password in a row for a name
// is answered 429 with Retry-After, and so is the right one after it.
func TestLoginThrottledOverHTTP(t *testing.T) {
	ts := startServer(t, t.TempDir(), t.TempDir(), withUsers(t))
	codes := []int{}
	for _, pw := range []string{"a", "b", "c", "d", "e", "f", "correct horse battery"} {
		resp, err := http.Post(ts.url+"/api/v1/login", "application/json", strings.NewReader(`{"name":"sergey","password":"`+pw+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	want := []int{401, 401, 401, 401, 401, 429, 429}
	if !slices.Equal(codes, want) {
		t.Errorf("login answers %v, want %v", codes, want)
	}
}

// TestStationTokenHashedAndRevoked: a station configured with token_hash
// only is let in with its token; an administrator revokes desk-1's token:
// its live session ends, its requests are refused, and still after a restart.
func TestStationTokenHashedAndRevoked(t *testing.T) {
	state, store := t.TempDir(), t.TempDir()
	hashed := func(c *config.Config) {
		c.Stations[1].Token, c.Stations[1].TokenHash = "", config.HashToken("desk-2-secret-token-0123")
	}
	ts := startServer(t, state, store, withUsers(t), hashed)
	event := func(url, tok string) int {
		code, _ := post(t, url+"/api/v1/events", tok, "application/json", `{"station":"desk-1","type":"arrive","at":"2026-12-01T09:00:00Z"}`)
		return code
	}
	if code, body := post(t, ts.url+"/api/v1/events", "desk-2-secret-token-0123", "application/json", `{"station":"desk-2","type":"arrive","at":"2026-12-01T09:00:00Z"}`); code >= 300 {
		t.Fatalf("desk-2 with a hashed token: %d %s", code, body)
	}
	pub := &capture.Publisher{URL: ts.url + "/whip/desk-1", Token: token, InterfaceFilter: loopbackOnly, IncludeLoopback: true}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	if code := event(ts.url, token); code >= 300 {
		t.Fatalf("desk-1 before revocation: %d", code)
	}
	root, _ := login(t, ts.url, "root", "correct horse battery")
	var out struct {
		Closed int `json:"sessions_closed"`
	}
	if code := root.do(t, "POST", ts.url+"/api/v1/stations/desk-1/revoke", "", &out); code != 200 || out.Closed != 1 {
		t.Fatalf("revoke: %d, sessions closed %d", code, out.Closed)
	}
	if code := event(ts.url, token); code != 401 {
		t.Errorf("desk-1 after revocation: %d, want 401", code)
	}
	ts.stop()
	ts = startServer(t, state, store, withUsers(t), hashed)
	if code := event(ts.url, token); code != 401 {
		t.Errorf("desk-1 after revocation and a restart: %d, want 401", code)
	}
	if code, _ := post(t, ts.url+"/api/v1/events", "desk-2-secret-token-0123", "application/json", `{"station":"desk-2","type":"leave","at":"2026-12-01T09:05:00Z"}`); code >= 300 {
		t.Errorf("desk-2 after desk-1's revocation: %d", code)
	}
}
