// Package testenv starts the real servers tests need (MinIO) on 127.0.0.1
// with a free port and a temp dir, and stops them when the test ends.
package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

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
	cmd      *exec.Cmd
}

// StartMinIO runs a MinIO server on 127.0.0.1 with data in a temp dir; it
// is killed when the test ends.
func StartMinIO(t testing.TB) *MinIO {
	t.Helper()
	bin := Tool(t, "minio")
	dir := t.TempDir()
	port, cport := FreePort(t), FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "server", filepath.Join(dir, "data"), "--address", addr,
		"--console-address", fmt.Sprintf("127.0.0.1:%d", cport), "--quiet")
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER=contactd-test", "MINIO_ROOT_PASSWORD=contactd-test-secret",
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "HOME="+dir)
	logf, err := os.Create(filepath.Join(dir, "minio.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-ctx.Done():
			b, _ := os.ReadFile(filepath.Join(dir, "minio.log"))
			t.Fatalf("minio did not come up on %s: %s", addr, b)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return &MinIO{Endpoint: addr, cmd: cmd, Config: storage.S3Config{
		Endpoint: addr, AccessKey: "contactd-test", SecretKey: "contactd-test-secret", Region: "us-east-1",
	}}
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
