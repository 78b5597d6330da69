package testenv

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// Browser is a headless Chromium owned by a test, driven over the DevTools
// protocol.
type Browser struct {
	t    testing.TB
	ws   *websocket.Conn
	mu   sync.Mutex
	next int
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// StartChromium opens pageURL in headless Chromium with a fake camera and
// wav as the microphone, and connects to the page. Flags keep it off every
// network but loopback.
func StartChromium(t testing.TB, pageURL, wav string) *Browser {
	t.Helper()
	bin := Tool(t, "chromium")
	profile := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
		"--user-data-dir="+profile, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
		"--use-file-for-fake-audio-capture="+wav, "--autoplay-policy=no-user-gesture-required",
		"--remote-debugging-port=0", "--remote-allow-origins=*", pageURL)
	cmd.Env = append(os.Environ(), "HOME="+profile)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf, _ := os.Create(filepath.Join(profile, "chromium.log"))
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if m := devtoolsRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	var browserWS string
	select {
	case browserWS = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not start its DevTools endpoint")
	}
	u, _ := url.Parse(browserWS)
	var pageWS string
	for deadline := time.Now().Add(15 * time.Second); pageWS == "" && time.Now().Before(deadline); {
		resp, err := http.Get("http://" + u.Host + "/json/list")
		if err == nil {
			var targets []struct {
				Type, URL            string
				WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
			}
			json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
			for _, tg := range targets {
				if tg.Type == "page" && strings.HasPrefix(tg.URL, strings.Split(pageURL, "#")[0]) {
					pageWS = tg.WebSocketDebuggerURL
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if pageWS == "" {
		t.Fatalf("page %s not found in chromium", pageURL)
	}
	ws, err := websocket.Dial(pageWS, "", "http://127.0.0.1/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	return &Browser{t: t, ws: ws}
}

// Eval runs a JavaScript expression in the page and returns its value as JSON.
func (b *Browser) Eval(expr string) (json.RawMessage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	id := b.next
	req := map[string]any{"id": id, "method": "Runtime.evaluate",
		"params": map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}}
	if err := websocket.JSON.Send(b.ws, req); err != nil {
		return nil, err
	}
	b.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var resp struct {
			ID     int `json:"id"`
			Result struct {
				Result struct {
					Value json.RawMessage `json:"value"`
				} `json:"result"`
				ExceptionDetails *struct {
					Text string `json:"text"`
				} `json:"exceptionDetails"`
			} `json:"result"`
			Error *struct{ Message string } `json:"error"`
		}
		if err := websocket.JSON.Receive(b.ws, &resp); err != nil {
			return nil, err
		}
		if resp.ID != id {
			continue // an event
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("devtools: %s", resp.Error.Message)
		}
		if resp.Result.ExceptionDetails != nil {
			return nil, fmt.Errorf("page: %s", resp.Result.ExceptionDetails.Text)
		}
		return resp.Result.Result.Value, nil
	}
}

// WaitFor evaluates expr until it is true or the timeout passes.
func (b *Browser) WaitFor(expr string, timeout time.Duration) bool {
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if v, err := b.Eval(expr); err == nil && string(v) == "true" {
			return true
		}
	}
	return false
}
