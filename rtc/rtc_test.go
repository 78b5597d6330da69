package rtc

import (
	"testing"
	"time"
)

func TestOpusDuration(t *testing.T) {
	cases := []struct {
		p    []byte
		want time.Duration
	}{
		{[]byte{0xf8}, 20 * time.Millisecond},             // CELT 20 ms, one frame
		{[]byte{0xf0}, 10 * time.Millisecond},             // CELT 10 ms
		{[]byte{0x08}, 20 * time.Millisecond},             // SILK NB 20 ms
		{[]byte{0x18}, 60 * time.Millisecond},             // SILK NB 60 ms
		{[]byte{0x79}, 40 * time.Millisecond},             // hybrid 20 ms, two frames
		{[]byte{0xe3, 0x05}, 5 * 2500 * time.Microsecond}, // CELT 2.5 ms, code 3, five frames
		{nil, 0},
	}
	for _, c := range cases {
		if got := OpusDuration(c.p); got != c.want {
			t.Errorf("% x: %v, want %v", c.p, got, c.want)
		}
	}
}
