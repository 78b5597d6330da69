package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestStationRateLimits: a station token flooding the events API is refused
// with 429 and Retry-After once over its burst (what was accepted stays);
// opening WHIP sessions too often is refused the same way.
func TestStationRateLimits(t *testing.T) {
	ts := startServer(t, t.TempDir(), t.TempDir())
	ok, limited := 0, 0
	for i := range 5*RequestsPerSecond + 20 {
		code, _ := post(t, ts.url+"/api/v1/events", token, "application/json",
			fmt.Sprintf(`{"station":"desk-1","type":"arrive","at":"2026-12-01T09:%02d:%02dZ"}`, i/60, i%60))
		switch code {
		case http.StatusAccepted, http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("request %d: %d", i, code)
		}
	}
	if ok < 5*RequestsPerSecond || limited == 0 {
		t.Errorf("%d accepted, %d refused: want the burst (%d) accepted and the rest refused", ok, limited, 5*RequestsPerSecond)
	}
	// Another station is not held back by desk-1's flood.
	if code, _ := post(t, ts.url+"/api/v1/events", "desk-2-secret-token-0123", "application/json", `{"station":"desk-2","type":"arrive","at":"2026-12-01T09:00:00Z"}`); code >= 300 {
		t.Errorf("desk-2 during desk-1's flood: %d", code)
	}

	codes := []int{}
	for range SessionsPerMinute + 1 {
		req, _ := http.NewRequest("POST", ts.url+"/whip/desk-2", strings.NewReader("not sdp"))
		req.Header.Set("Authorization", "Bearer desk-2-secret-token-0123")
		req.Header.Set("Content-Type", "application/sdp")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	if codes[0] != 400 || codes[len(codes)-1] != 429 {
		t.Errorf("WHIP answers %v: want 400 (bad SDP) until the limit, then 429", codes)
	}
}
