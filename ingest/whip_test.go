package ingest

import (
	"strings"
	"testing"
	"time"
)

func TestCheckOffer(t *testing.T) {
	ok := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
	if err := checkOffer([]byte(ok)); err != nil {
		t.Fatal(err)
	}
	if err := checkOffer([]byte(strings.Replace(ok, "opus", "PCMU", 1))); err == nil || !strings.Contains(err.Error(), "Opus") {
		t.Fatalf("offer without Opus: %v", err)
	}
	if err := checkOffer([]byte("garbage")); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzCheckOffer(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"))
	f.Add([]byte("v=0\r\nm=video 9 RTP/AVP 96\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if err := checkOffer(b); err == nil && !strings.Contains(strings.ToLower(string(b)), "opus/48000") {
			t.Fatalf("accepted an offer without Opus: %q", b)
		}
	})
}

func TestClockMapsRTPToWallClock(t *testing.T) {
	c := &clock{rate: 48000}
	arrival := mustTime("2026-03-02T09:00:00Z")
	if got := c.wall(1000, arrival); !got.Equal(arrival) {
		t.Fatalf("first packet anchors on arrival: %s", got)
	}
	if got := c.wall(1000+48000, arrival); !got.Equal(arrival.Add(1e9)) {
		t.Fatalf("one second of RTP later: %s", got)
	}
	// A sender report moves the anchor to the sender's clock (NTP).
	ntp := uint64(ntpEpochOffset+arrival.Unix()+10) << 32
	c.senderReport(ntp, 5000)
	if got := c.wall(5000+24000, arrival); !got.Equal(arrival.Add(10500e6)) {
		t.Fatalf("after the report: %s", got)
	}
	// RTP time wraps around 2^32.
	w := &clock{rate: 48000}
	w.senderReport(ntp, 0xffffff00)
	if got := w.wall(0x00000100, arrival); !got.Equal(arrival.Add(10e9).Add(512 * time.Second / 48000)) {
		t.Fatalf("across the wrap: %s", got)
	}
}

// TestClockSlewsSmallCorrections: a report that moves the mapping by 100 ms
// is taken gradually, and the times never go backwards.
func TestClockSlewsSmallCorrections(t *testing.T) {
	c := &clock{rate: 90000}
	arrival := mustTime("2026-03-02T09:00:00Z")
	prev := c.wall(0, arrival)
	// The sender's clock says frame 0 was 100 ms earlier than it arrived.
	c.senderReport(uint64(ntpEpochOffset+arrival.Unix()-1)<<32|uint64(3865470566), 0)
	for i := uint32(1); i <= 30; i++ { // 3 s of 10 fps video
		got := c.wall(i*9000, arrival)
		if !got.After(prev) {
			t.Fatalf("frame %d at %s, not after %s", i, got, prev)
		}
		prev = got
	}
	if want := arrival.Add(3 * time.Second).Add(-100 * time.Millisecond); !prev.Equal(want) {
		t.Fatalf("after 3 s the correction is %s, want all of it (%s)", prev, want)
	}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
