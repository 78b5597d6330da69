// Package testenv starts the real servers tests need (MinIO) on 127.0.0.1
// with a free port and a temp dir, and stops them when the test ends.
package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"contactd/certs"
	"contactd/storage"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Tool finds a program on PATH or in GOPATH/bin; the test fails (it does not
// skip) when it is missing, since scripts/setup.sh installs every one.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath, _ := exec.Command("go", "env", "GOPATH").Output()
	p := filepath.Join(string(trimNL(gopath)), "bin", name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	t.Fatalf("%s not found on PATH or in GOPATH/bin: run scripts/setup.sh", name)
	return ""
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// MinIO is a running MinIO server owned by a test.
type MinIO struct {
	Endpoint string
	Config   storage.S3Config
	bin, dir string
	cport    int
	cmd      *exec.Cmd
	logf     *os.File
	// Env adds to the server's environment (e.g. MINIO_KMS_SECRET_KEY).
	Env []string
	// CertFile is the certificate of a server started with TLS.
	CertFile string
	// Drives is the number of drives (erasure-coded when 4 or more; 0: one).
	Drives int
}

// WithDrives runs the server on four drives, erasure-coded: any one of
// them can be lost.
func WithDrives(t testing.TB, m *MinIO) { m.Drives = 4 }

// Drive is the directory of drive i (0-based) of a multi-drive server.
func (m *MinIO) Drive(i int) string { return filepath.Join(m.dir, fmt.Sprintf("drive%d", i+1)) }

// MinIOOption configures a server before it starts.
type MinIOOption func(t testing.TB, m *MinIO)

// WithKMS gives the server a built-in single-key KMS, for SSE-S3.
func WithKMS(t testing.TB, m *MinIO) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i*7 + 3)
	}
	m.Env = append(m.Env, "MINIO_KMS_SECRET_KEY=contactd-test-key:"+base64.StdEncoding.EncodeToString(key))
}

// WithTLS serves HTTPS with a self-signed certificate for 127.0.0.1.
func WithTLS(t testing.TB, m *MinIO) {
	crt, key, err := certs.SelfSigned([]string{"127.0.0.1", "localhost"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(m.dir, "certs")
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, "public.crt"), crt, 0o644)
	os.WriteFile(filepath.Join(dir, "private.key"), key, 0o600)
	m.CertFile = filepath.Join(dir, "public.crt")
	m.Config.Secure, m.Config.CAFile = true, m.CertFile
}

// StartMinIO runs a MinIO server on 127.0.0.1 with data in a temp dir; it
// is killed when the test ends.
func StartMinIO(t testing.TB, opts ...MinIOOption) *MinIO {
	t.Helper()
	m := &MinIO{bin: Tool(t, "minio"), dir: t.TempDir(), cport: FreePort(t)}
	m.Endpoint = fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	m.Config = storage.S3Config{Endpoint: m.Endpoint, AccessKey: "contactd-test", SecretKey: "contactd-test-secret", Region: "us-east-1"}
	for _, o := range opts {
		o(t, m)
	}
	t.Cleanup(m.Stop)
	m.Start(t)
	return m
}

// Start (re)starts the server on its address and data directory and waits
// until it answers.
func (m *MinIO) Start(t testing.TB) {
	t.Helper()
	args := []string{"server", filepath.Join(m.dir, "data")}
	if m.Drives > 1 {
		args = args[:1]
		for i := range m.Drives {
			os.MkdirAll(m.Drive(i), 0o750) // MinIO waits for drives that do not exist
			args = append(args, m.Drive(i))
		}
	}
	args = append(args, "--address", m.Endpoint, "--console-address", fmt.Sprintf("127.0.0.1:%d", m.cport), "--quiet")
	scheme, client := "http://", http.DefaultClient
	if m.CertFile != "" {
		args = append(args, "--certs-dir", filepath.Dir(m.CertFile))
		pem, _ := os.ReadFile(m.CertFile)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		scheme, client = "https://", &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	}
	cmd := exec.Command(m.bin, args...)
	cmd.Env = append(append(os.Environ(), "MINIO_ROOT_USER="+m.Config.AccessKey, "MINIO_ROOT_PASSWORD="+m.Config.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+m.dir,
		// Several drives in one temp dir share a disk, which MinIO refuses
		// outside test setups.
		"MINIO_CI_CD=on"), m.Env...)
	logf, err := os.OpenFile(filepath.Join(m.dir, "minio.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m.cmd, m.logf = cmd, logf
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		resp, err := client.Get(scheme + m.Endpoint + "/minio/health/cluster") // ready for writes, not only up
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-ctx.Done():
			b, _ := os.ReadFile(filepath.Join(m.dir, "minio.log"))
			t.Fatalf("minio did not come up on %s: %s", m.Endpoint, b)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop kills the server (its data stay for Start).
func (m *MinIO) Stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.logf.Close()
	m.cmd = nil
}

// Datasets returns the shared emotion corpora beside the checkout
// (../shared/datasets), failing the test when they are missing.
func Datasets(t testing.TB) string {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	d := filepath.Join(filepath.Dir(self), "..", "..", "..", "shared", "datasets")
	if _, err := os.Stat(filepath.Join(d, "ravdess", "labels.csv")); err != nil {
		t.Fatalf("the shared datasets are not beside the checkout (%s): %v", d, err)
	}
	abs, _ := filepath.Abs(d)
	return abs
}

// DataDir is where the server keeps its objects on disk.
func (m *MinIO) DataDir() string { return filepath.Join(m.dir, "data") }
