package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"contactd/auth"
	"contactd/capture"
	"contactd/internal/testenv"
	"contactd/storage"
)

// publishAs streams speech as a station until stop is called.
func publishAs(t *testing.T, url, station, token, ogg string) (*capture.Publisher, func()) {
	t.Helper()
	pub := &capture.Publisher{URL: url + "/whip/" + station, Token: token, IncludeLoopback: true,
		InterfaceFilter: func(n string) bool { return n == "lo" }}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pub.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for sctx.Err() == nil {
			capture.StreamOgg(sctx, pub.Audio, ogg)
		}
	}()
	return pub, func() { stop(); wg.Wait(); pub.Close(context.Background()) }
}

// TestTwoNodesOneErasureCodedStore: two `contactd serve` nodes, each owning
// its desks, store into one MinIO on four erasure-coded drives. Both nodes'
// contacts are in one review list on either node; a drive lost changes
// nothing; with every index deleted, a third node rebuilds the list from
// the clips and sidecars alone.
func TestTwoNodesOneErasureCodedStore(t *testing.T) {
	bin := buildBinary(t)
	ogg := speechOgg(t)
	m := testenv.StartMinIO(t, testenv.WithDrives)
	hash, err := auth.Hash("quality officer pass")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeCfg := func(node string, stations ...string) (string, string) {
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		var b strings.Builder
		fmt.Fprintf(&b, `site: north
node: %s
store: s3://chain/clinics
s3: {endpoint: %q, access_key: %q, secret_key: %q, region: us-east-1}
state_dir: %s
listen: %s
recorder: {segment_length: 2s}
segmenter: {min_contact: 1s, rating_window: 2s}
webrtc: {interfaces: [lo], include_loopback: true}
users:
  - {name: olga, role: quality, password_hash: %q}
stations:
`, node, m.Endpoint, m.Config.AccessKey, m.Config.SecretKey, filepath.Join(dir, node, "state"), addr, hash)
		for _, st := range stations {
			fmt.Fprintf(&b, "  - {id: %s, token: %s-secret-token-0123}\n", st, st)
		}
		if len(stations) == 0 {
			b.WriteString("  []\n")
		}
		p := filepath.Join(dir, node+".yaml")
		os.MkdirAll(filepath.Join(dir, node), 0o755)
		os.WriteFile(p, []byte(strings.Replace(b.String(), "stations:\n  []", "stations: []", 1)), 0o644)
		return p, addr
	}
	cfgA, addrA := writeCfg("a", "desk-1", "desk-2")
	cfgB, addrB := writeCfg("b", "desk-3")
	logPath := filepath.Join(dir, "serve.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("servers' log:\n%s", b)
		}
	})
	nodeA := startServe(t, bin, cfgA, addrA, logPath)
	nodeB := startServe(t, bin, cfgB, addrB, logPath)

	type visit struct{ url, station string }
	visits := []visit{{nodeA.url, "desk-1"}, {nodeA.url, "desk-2"}, {nodeB.url, "desk-3"}}
	var wg sync.WaitGroup
	for _, v := range visits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pub, stop := publishAs(t, v.url, v.station, v.station+"-secret-token-0123", ogg)
			defer stop()
			time.Sleep(3 * time.Second)
			pub.Send(map[string]any{"type": "arrive", "at": time.Now().UTC()})
			time.Sleep(3 * time.Second)
			pub.Send(map[string]any{"type": "leave", "at": time.Now().UTC()})
			time.Sleep(5 * time.Second)
		}()
	}
	wg.Wait()
	var list []listedContact
	for _, node := range []*serveProc{nodeA, nodeB} {
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if list = reviewList(t, node.url, "olga", "quality officer pass"); len(list) == len(visits) {
				break
			}
		}
		if len(list) != len(visits) {
			t.Fatalf("review list on %s: %d contacts, want both nodes' %d", node.url, len(list), len(visits))
		}
	}

	// One drive lost: every clip still reads.
	os.RemoveAll(m.Drive(2))
	os.MkdirAll(m.Drive(2), 0o755)
	s3, err := storage.OpenS3(context.Background(), m.Config, "chain", "clinics")
	if err != nil {
		t.Fatal(err)
	}
	clips := 0
	for k, err := range s3.List(context.Background(), "clips/") {
		if err != nil {
			t.Fatal(err)
		}
		rc, err := s3.Get(context.Background(), k)
		if err != nil {
			t.Fatalf("%s with a drive lost: %v", k, err)
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil || n == 0 {
			t.Errorf("%s with a drive lost: %d bytes, %v", k, n, err)
		}
		if strings.HasSuffix(k, ".webm") {
			clips++
		}
	}
	if clips != len(visits) {
		t.Errorf("%d clips in MinIO, want %d", clips, len(visits))
	}

	// Every index gone; a third node rebuilds it from the store alone.
	nodeA.cmd.Process.Kill()
	nodeB.cmd.Process.Kill()
	nodeA.cmd.Wait()
	nodeB.cmd.Wait()
	for k := range s3.List(context.Background(), "index/") {
		s3.Delete(context.Background(), k)
	}
	cfgC, addrC := writeCfg("c")
	out, err := exec.Command(bin, "index", "rebuild", "--config", cfgC).CombinedOutput()
	if err != nil {
		t.Fatalf("index rebuild on node c: %v\n%s", err, out)
	}
	nodeC := startServe(t, bin, cfgC, addrC, logPath)
	if l := reviewList(t, nodeC.url, "olga", "quality officer pass"); len(l) != len(visits) {
		t.Errorf("review list on node c after the rebuild: %d contacts, want %d", len(l), len(visits))
	}
}
