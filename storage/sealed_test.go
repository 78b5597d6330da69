package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"contactd/storage"
)

func sealedStore(t testing.TB, key byte) (*storage.Local, *storage.Sealed) {
	t.Helper()
	l, err := storage.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s, err := storage.Seal(l, bytes.Repeat([]byte{key}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return l, s
}

func TestSealedConformance(t *testing.T) {
	_, s := sealedStore(t, 1)
	conformance(t, s)
}

// TestSealedStore: what reaches the directory is not the clip; reads and
// seeks give the clip back exactly; a changed byte, a cut file, another key
// are errors; objects from before encryption still read.
func TestSealedStore(t *testing.T) {
	ctx := context.Background()
	l, s := sealedStore(t, 7)
	marker := []byte("PATIENT-VOICE-MARKER-")
	rng := rand.New(rand.NewPCG(1, 2))
	body := make([]byte, 300_000) // several chunks and a partial one
	for i := range body {
		body[i] = byte(rng.IntN(256))
	}
	copy(body[1000:], marker)
	copy(body[200_000:], marker)
	if err := s.Put(ctx, "clips/x.webm", bytes.NewReader(body), int64(len(body)), storage.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(l.Path("clips/x.webm"))
	if bytes.Contains(raw, marker) || len(raw) <= len(body) {
		t.Fatalf("the file on disk holds the plaintext (%d bytes)", len(raw))
	}
	rc, err := s.Get(ctx, "clips/x.webm")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
	rs := rc.(io.ReadSeeker)
	for range 50 { // range requests anywhere, across chunk edges
		off := rng.Int64N(int64(len(body)))
		n := min(rng.Int64N(100_000), int64(len(body))-off)
		if _, err := rs.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		part := make([]byte, n)
		if _, err := io.ReadFull(rs, part); err != nil || !bytes.Equal(part, body[off:off+n]) {
			t.Fatalf("range %d+%d: %v", off, n, err)
		}
	}
	if end, _ := rs.Seek(0, io.SeekEnd); end != int64(len(body)) {
		t.Errorf("size by seeking to the end: %d, want %d", end, len(body))
	}
	rc.Close()

	readAll := func(st storage.Store) error {
		rc, err := st.Get(ctx, "clips/x.webm")
		if err != nil {
			return err
		}
		defer rc.Close()
		_, err = io.ReadAll(rc)
		return err
	}
	p := l.Path("clips/x.webm")
	t.Run("altered byte", func(t *testing.T) {
		b := append([]byte(nil), raw...)
		b[len(b)/2] ^= 1
		os.WriteFile(p, b, 0o644)
		defer os.WriteFile(p, raw, 0o644)
		if err := readAll(s); !errors.Is(err, storage.ErrUnsealed) {
			t.Errorf("%v, want ErrUnsealed", err)
		}
	})
	t.Run("cut short", func(t *testing.T) {
		os.WriteFile(p, raw[:len(raw)-70_000], 0o644)
		defer os.WriteFile(p, raw, 0o644)
		if err := readAll(s); err == nil {
			t.Error("a truncated object read without error")
		}
	})
	t.Run("another key", func(t *testing.T) {
		other, _ := storage.Seal(l, bytes.Repeat([]byte{8}, 32))
		if err := readAll(other); !errors.Is(err, storage.ErrUnsealed) {
			t.Errorf("%v, want ErrUnsealed", err)
		}
	})
	t.Run("written before encryption", func(t *testing.T) {
		l.Put(ctx, "clips/old.json", strings.NewReader(`{"old":true}`), 12, storage.PutOptions{})
		rc, err := s.Get(ctx, "clips/old.json")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != `{"old":true}` {
			t.Errorf("old object read as %q", b)
		}
	})
	t.Run("empty", func(t *testing.T) {
		s.Put(ctx, "e", strings.NewReader(""), 0, storage.PutOptions{})
		rc, err := s.Get(ctx, "e")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || len(b) != 0 {
			t.Errorf("empty object: %q %v", b, err)
		}
	})
}

// FuzzSealedRead: whatever bytes a file in a sealed store holds, reading it
// ends in data or an error, never a panic.
func FuzzSealedRead(f *testing.F) {
	l, s := sealedStore(f, 3)
	var buf bytes.Buffer
	s.Put(context.Background(), "seed", strings.NewReader("hello, sealed world"), 19, storage.PutOptions{})
	b, _ := os.ReadFile(l.Path("seed"))
	buf.Write(b)
	f.Add(buf.Bytes())
	f.Add([]byte("CDSEAL1\n\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Add([]byte("plain"))
	f.Fuzz(func(t *testing.T, b []byte) {
		os.WriteFile(l.Path("fuzz"), b, 0o644)
		rc, err := s.Get(context.Background(), "fuzz")
		if err != nil {
			return
		}
		defer rc.Close()
		io.Copy(io.Discard, io.LimitReader(rc, 1<<20))
		if rs, ok := rc.(io.ReadSeeker); ok {
			rs.Seek(12345, io.SeekStart)
			io.Copy(io.Discard, io.LimitReader(rc, 1<<16))
		}
	})
}
