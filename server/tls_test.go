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
