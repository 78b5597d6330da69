package demo

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"contactd/internal/testenv"
)

// TestPagesEndToEnd runs the demo on a free loopback port and drives the
// pages in Debian's Chromium with playwright-core (tools/e2e/pages.mjs):
// a quality officer filters negatives, plays a clip, tags a cause and marks
// it reviewed; a supervisor sees a warning tile; an employee's mirror
// updates, and another's mirror or a clip is 403; the admin reads the
// access log. Screenshots are kept in artifacts/e2e (or $CONTACTD_ARTIFACTS/e2e).
func TestPagesEndToEnd(t *testing.T) {
	node := testenv.Tool(t, "node")
	chromium := testenv.Tool(t, "chromium")
	root, _ := filepath.Abs("..")
	script := filepath.Join(root, "tools", "e2e", "pages.mjs")
	if _, err := os.Stat(filepath.Join(root, "tools", "e2e", "node_modules", "playwright-core")); err != nil {
		t.Fatal("playwright-core is not installed in tools/e2e: run scripts/setup.sh")
	}
	shots := filepath.Join(root, "artifacts", "e2e")
	if a := os.Getenv("CONTACTD_ARTIFACTS"); a != "" {
		shots = filepath.Join(a, "e2e")
	}
	os.RemoveAll(shots)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{
			Listen: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), Dir: t.TempDir(), Datasets: testenv.Datasets(t),
			Log:   slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
			Ready: func(url string) { ready <- url },
		})
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatalf("demo did not start: %v", err)
	case <-time.After(5 * time.Minute):
		t.Fatal("demo not ready after 5 minutes")
	}
	started := time.Now()
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = filepath.Join(root, "tools", "e2e")
	cmd.Env = append(os.Environ(), "BASE_URL="+base, "PASSWORD="+Password, "SCREENSHOTS="+shots, "CHROMIUM="+chromium)
	out, err := cmd.CombinedOutput()
	t.Logf("pages.mjs (%.0f s after the demo started):\n%s", time.Since(started).Seconds(), out)
	if err != nil {
		t.Errorf("end-to-end checks failed: %v", err)
	}
	for _, name := range []string{"1-review", "2-monitor", "3-mirror"} {
		if fi, err := os.Stat(filepath.Join(shots, name+".png")); err != nil || fi.Size() < 10_000 {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
	cancel()
	if err := <-done; err != nil && !strings.Contains(err.Error(), "closed") {
		t.Errorf("demo: %v", err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}
