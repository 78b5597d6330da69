package storage_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"contactd/internal/testenv"
	"contactd/storage"
)

// onDisk reports whether any file under dir contains marker.
func onDisk(t *testing.T, dir string, marker []byte) bool {
	found := false
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, marker) {
				found = true
			}
		}
		return nil
	})
	return found
}

// TestS3EncryptionAtRest: with s3.sse the bytes MinIO writes to its drives
// are not the clip's (checked by searching the drive for a marker the
// plain store leaves there), and contactd still reads them back; with SSE-C
// a client without the key cannot.
func TestS3EncryptionAtRest(t *testing.T) {
	ctx := context.Background()
	marker := []byte("PATIENT-VOICE-MARKER-7f3a9c")
	body := bytes.Repeat(append(marker, ' '), 4000) // ~110 kB, above MinIO's inline limit
	cases := []struct {
		name   string
		opts   []testenv.MinIOOption
		sse    string
		cipher bool
	}{
		{"none", nil, "", false},
		{"sse-s3", []testenv.MinIOOption{testenv.WithKMS}, "s3", true},
		{"sse-c", []testenv.MinIOOption{testenv.WithTLS}, "c", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := testenv.StartMinIO(t, tc.opts...)
			cfg := m.Config
			cfg.SSE = tc.sse
			if tc.sse == "c" {
				cfg.SSECKeyFile = filepath.Join(t.TempDir(), "sse-c.key")
				os.WriteFile(cfg.SSECKeyFile, []byte(strings.Repeat("ab", 32)+"\n"), 0o600)
			}
			s, err := storage.OpenS3(ctx, cfg, "contacts", "north")
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"clips/a.webm", "clips/small.json"} {
				b := body
				if strings.HasSuffix(k, ".json") {
					b = marker // small objects live inline in MinIO's metadata
				}
				if err := s.Put(ctx, k, bytes.NewReader(b), int64(len(b)), storage.PutOptions{Tags: map[string]string{"set": "negative"}}); err != nil {
					t.Fatal(err)
				}
				rc, err := s.Get(ctx, k)
				if err != nil {
					t.Fatal(err)
				}
				got, _ := io.ReadAll(rc)
				rc.Close()
				if !bytes.Equal(got, b) {
					t.Errorf("%s read back: %d bytes, want %d", k, len(got), len(b))
				}
			}
			if plain := onDisk(t, m.DataDir(), marker); plain == tc.cipher {
				t.Errorf("plaintext on MinIO's drive: %v, want %v", plain, !tc.cipher)
			}
			if tc.sse == "c" {
				nokey := m.Config
				other, err := storage.OpenS3(ctx, nokey, "contacts", "north")
				if err != nil {
					t.Fatal(err)
				}
				if rc, err := other.Get(ctx, "clips/a.webm"); err == nil {
					b, _ := io.ReadAll(rc)
					rc.Close()
					if bytes.Contains(b, marker) {
						t.Error("a client without the SSE-C key read the clip")
					}
				}
			}
		})
	}
}
