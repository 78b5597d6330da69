package storage

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
)

// Sealed is a Store whose objects are encrypted before they reach the store
// beneath (a local directory): AES-256-GCM in 64 KiB chunks, so a player
// can still seek in a clip. Each chunk's nonce carries its index and every
// chunk authenticates the header (which holds the plaintext size), so a
// chunk changed, moved, dropped or a file cut short is an error, not
// silently different media.
type Sealed struct {
	inner Store
	aead  cipher.AEAD
}

const (
	sealMagic  = "CDSEAL1\n"
	sealHeader = len(sealMagic) + 8 + 8 // magic, nonce prefix, plaintext size
	sealChunk  = 64 << 10
)

// ErrUnsealed is returned when an object fails authentication.
var ErrUnsealed = errors.New("sealed object: authentication failed (altered, truncated or another key)")

// Seal wraps inner so that objects are encrypted with a 256-bit key.
// Objects written before encryption was turned on (no header) are still
// read as they are.
func Seal(inner Store, key []byte) (*Sealed, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("store key: %d bytes, want 32 (256 bits)", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &Sealed{inner: inner, aead: g}, nil
}

func (s *Sealed) String() string { return s.inner.String() + " (encrypted)" }

func chunks(size int64) int64 { return max(1, (size+sealChunk-1)/sealChunk) }

func (s *Sealed) nonce(prefix []byte, i int64) []byte {
	n := make([]byte, s.aead.NonceSize())
	copy(n, prefix)
	binary.BigEndian.PutUint32(n[8:], uint32(i))
	return n
}

// Put encrypts r (size bytes; a negative size is read to a temporary file
// first) into the store beneath.
func (s *Sealed) Put(ctx context.Context, key string, r io.Reader, size int64, opt PutOptions) error {
	if size < 0 {
		tmp, err := os.CreateTemp("", "contactd-seal-*")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if size, err = io.Copy(tmp, r); err != nil {
			return err
		}
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		r = tmp
	}
	hdr := make([]byte, sealHeader)
	copy(hdr, sealMagic)
	if _, err := rand.Read(hdr[len(sealMagic) : len(sealMagic)+8]); err != nil {
		return err
	}
	binary.BigEndian.PutUint64(hdr[len(sealMagic)+8:], uint64(size))
	if chunks(size) > 1<<32 {
		return fmt.Errorf("%s: too large to seal", key)
	}
	pr, pw := io.Pipe()
	go func() {
		buf := make([]byte, sealChunk)
		out := make([]byte, 0, sealChunk+s.aead.Overhead())
		_, err := pw.Write(hdr)
		left := size
		for i := int64(0); err == nil && i < chunks(size); i++ {
			n := min(left, sealChunk)
			if _, err = io.ReadFull(r, buf[:n]); err != nil {
				break
			}
			left -= n
			out = s.aead.Seal(out[:0], s.nonce(hdr[len(sealMagic):], i), buf[:n], hdr)
			_, err = pw.Write(out)
		}
		pw.CloseWithError(err)
	}()
	err := s.inner.Put(ctx, key, pr, int64(sealHeader)+size+chunks(size)*int64(s.aead.Overhead()), opt)
	pr.CloseWithError(err) // the writer stops if the store gave up
	return err
}

// Get opens an object for reading; it seeks when the store beneath does.
func (s *Sealed) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := s.inner.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, sealHeader)
	n, err := io.ReadFull(rc, hdr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		rc.Close()
		return nil, err
	}
	if n < sealHeader || string(hdr[:len(sealMagic)]) != sealMagic {
		// Written before encryption was on: as it is.
		if sk, ok := rc.(io.ReadSeeker); ok {
			if _, err := sk.Seek(0, io.SeekStart); err == nil {
				return rc, nil
			}
		}
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(hdr[:n]), rc), rc}, nil
	}
	return &sealedReader{s: s, rc: rc, hdr: hdr, size: int64(binary.BigEndian.Uint64(hdr[len(sealMagic)+8:])), cur: -1}, nil
}

func (s *Sealed) Delete(ctx context.Context, key string) error { return s.inner.Delete(ctx, key) }

func (s *Sealed) List(ctx context.Context, prefix string) iter.Seq2[string, error] {
	return s.inner.List(ctx, prefix)
}

// sealedReader decrypts chunk by chunk; it is an io.ReadSeeker (for range
// requests) when the object beneath can be read at an offset.
type sealedReader struct {
	s    *Sealed
	rc   io.ReadCloser
	hdr  []byte
	size int64
	pos  int64
	cur  int64 // index of the chunk in plain, -1 for none
	next int64 // the chunk a sequential reader is at
	ct   []byte
	pl   []byte
}

func (r *sealedReader) load(i int64) error {
	if i == r.cur {
		return nil
	}
	over := int64(r.s.aead.Overhead())
	n := min(r.size-i*sealChunk, sealChunk) + over
	if cap(r.ct) < int(n) {
		r.ct = make([]byte, n)
	}
	r.ct = r.ct[:n]
	off := int64(sealHeader) + i*(sealChunk+over)
	if ra, ok := r.rc.(io.ReaderAt); ok {
		if _, err := ra.ReadAt(r.ct, off); err != nil && !(errors.Is(err, io.EOF) && len(r.ct) == int(n)) {
			return fmt.Errorf("%w: %v", ErrUnsealed, err)
		}
	} else {
		if i != r.next {
			return errors.New("sealed object: the store beneath cannot seek")
		}
		if _, err := io.ReadFull(r.rc, r.ct); err != nil {
			return fmt.Errorf("%w: %v", ErrUnsealed, err)
		}
		r.next++
	}
	pl, err := r.s.aead.Open(r.pl[:0], r.s.nonce(r.hdr[len(sealMagic):], i), r.ct, r.hdr)
	if err != nil {
		r.cur = -1
		return ErrUnsealed
	}
	r.pl, r.cur = pl, i
	return nil
}

func (r *sealedReader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		if r.size == 0 && r.cur < 0 { // an empty object still has its one chunk to check
			if err := r.load(0); err != nil {
				return 0, err
			}
		}
		return 0, io.EOF
	}
	i := r.pos / sealChunk
	if err := r.load(i); err != nil {
		return 0, err
	}
	n := copy(p, r.pl[r.pos-i*sealChunk:])
	r.pos += int64(n)
	return n, nil
}

func (r *sealedReader) Seek(off int64, whence int) (int64, error) {
	if _, ok := r.rc.(io.ReaderAt); !ok {
		return 0, errors.New("sealed object: the store beneath cannot seek")
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += r.size
	default:
		return 0, errors.New("seek: bad whence")
	}
	if off < 0 {
		return 0, errors.New("seek: before the start")
	}
	r.pos = off
	return off, nil
}

func (r *sealedReader) Close() error { return r.rc.Close() }
