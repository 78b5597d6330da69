package main

import (
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestBenchLive runs the benchmark harness of `make bench` on a small
// scale: a real contactd serve with MinIO and two stations streaming. It
// checks what the benchmark's figures rest on — the mirror stream delivers
// the readings and every scripted contact lands in MinIO — not how fast.
func TestBenchLive(t *testing.T) {
	bin := buildBinary(t)
	out, err := exec.Command(bin, "bench", "live", "--stations", "2", "--seconds", "40", "--contacts", "2").CombinedOutput()
	if err != nil {
		t.Fatalf("bench live: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`2 stations: mirror .*\((\d+) events\); clips (\d+)/(\d+), leave → MinIO median`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("bench live printed no result line:\n%s", out)
	}
	events, _ := strconv.Atoi(string(m[1]))
	landed, scripted := string(m[2]), string(m[3])
	// 40 s of streaming: a reading a second from about the first second on.
	if events < 25 {
		t.Errorf("the mirror stream delivered %d readings in 40 s of streaming, want at least 25:\n%s", events, out)
	}
	if landed != scripted || scripted != "2" {
		t.Errorf("clips %s of %s landed in MinIO, want 2 of 2:\n%s", landed, scripted, out)
	}
}
