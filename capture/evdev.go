package capture

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Linux input event constants (linux/input-event-codes.h).
const (
	evKey      = 0x01
	keyPressed = 1
)

// inputEventSize is sizeof(struct input_event) on 64-bit Linux: a timeval
// (two 8-byte words), type and code (2 bytes each) and a 4-byte value.
const inputEventSize = 24

// KeyPress is one key going down on an input device.
type KeyPress struct {
	Code uint16
	At   time.Time
}

// ReadKeys reads key presses from a Linux input device (a USB button box
// shows up as /dev/input/eventN) until ctx ends or the device goes away.
// Repeats and releases are ignored: one press, one event.
func ReadKeys(ctx context.Context, path string, fn func(KeyPress)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("input device: %w", err)
	}
	go func() { <-ctx.Done(); f.Close() }() // unblocks the read
	return readKeys(f, fn)
}

func readKeys(r io.Reader, fn func(KeyPress)) error {
	buf := make([]byte, inputEventSize)
	for {
		if _, err := io.ReadFull(r, buf); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return fmt.Errorf("input device: %w", err)
		}
		sec := int64(binary.LittleEndian.Uint64(buf[0:]))
		usec := int64(binary.LittleEndian.Uint64(buf[8:]))
		typ := binary.LittleEndian.Uint16(buf[16:])
		code := binary.LittleEndian.Uint16(buf[18:])
		value := int32(binary.LittleEndian.Uint32(buf[20:]))
		if typ == evKey && value == keyPressed {
			fn(KeyPress{Code: code, At: time.Unix(sec, usec*1000).UTC()})
		}
	}
}

// KeyEvent encodes one input_event, for tests and simulators.
func KeyEvent(at time.Time, code uint16, value int32) []byte {
	b := make([]byte, inputEventSize)
	binary.LittleEndian.PutUint64(b[0:], uint64(at.Unix()))
	binary.LittleEndian.PutUint64(b[8:], uint64(at.Nanosecond()/1000))
	binary.LittleEndian.PutUint16(b[16:], evKey)
	binary.LittleEndian.PutUint16(b[18:], code)
	binary.LittleEndian.PutUint32(b[20:], uint32(value))
	return b
}
