package capture

import (
	"bytes"
	"testing"
	"time"
)

func TestReadKeysPressesOnly(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 0, 0, 250_000_000, time.UTC)
	var in bytes.Buffer
	in.Write(KeyEvent(at, 30, 1))                    // KEY_A down
	in.Write(KeyEvent(at.Add(time.Second), 30, 2))   // autorepeat
	in.Write(KeyEvent(at.Add(2*time.Second), 30, 0)) // up
	sync := KeyEvent(at, 0, 0)
	sync[16] = 0 // EV_SYN
	in.Write(sync)
	in.Write(KeyEvent(at.Add(3*time.Second), 48, 1)) // KEY_B down
	var got []KeyPress
	if err := readKeys(&in, func(k KeyPress) { got = append(got, k) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Code != 30 || !got[0].At.Equal(at) || got[1].Code != 48 {
		t.Fatalf("%+v", got)
	}
}

func FuzzReadKeys(f *testing.F) {
	f.Add(KeyEvent(time.Unix(1, 0), 30, 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		if err := readKeys(bytes.NewReader(b), func(KeyPress) { n++ }); err != nil && len(b)%inputEventSize == 0 {
			t.Fatalf("whole events but error %v", err)
		}
		if n > len(b)/inputEventSize {
			t.Fatalf("%d presses from %d bytes", n, len(b))
		}
	})
}
