// Package storage keeps clips and their sidecars: one Store interface with a
// local-directory backend (the default, zero setup) and an S3 backend (MinIO),
// and on top of it the contact archive and its rebuildable index.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// ErrNotFound is returned by Get for a key that does not exist.
var ErrNotFound = errors.New("not found")

// PutOptions describe an object being written.
type PutOptions struct {
	ContentType string
	// Tags are stored as S3 object tags; the local backend has no tags (the
	// sidecar carries the same facts).
	Tags map[string]string
}

// Store is a flat key space of immutable-looking objects. Put is atomic: a
// reader sees the whole object or none of it, never a partial one.
type Store interface {
	Put(ctx context.Context, key string, r io.Reader, size int64, opt PutOptions) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// List yields every key under prefix, in lexical order.
	List(ctx context.Context, prefix string) iter.Seq2[string, error]
	Delete(ctx context.Context, key string) error
	// String names the store for logs and reports.
	String() string
}

// S3Config holds the endpoint and credentials for an s3:// store.
type S3Config struct {
	Endpoint  string `yaml:"endpoint"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	Region    string `yaml:"region"`
	Secure    bool   `yaml:"secure"`
	// CAFile is a PEM certificate to trust for an HTTPS endpoint (a MinIO
	// with the clinic's own certificate); empty: the system's roots.
	CAFile string `yaml:"ca_file"`
	// SSE encrypts objects at rest on the server: "" (none), "s3" (SSE-S3:
	// MinIO's KMS holds the key) or "c" (SSE-C: the key from SSECKeyFile is
	// sent with every request and never stored by MinIO; needs secure).
	SSE         string `yaml:"sse"`
	SSECKeyFile string `yaml:"sse_c_key_file"`
}

// Open opens the store named by loc: a directory path (created if missing),
// or s3://bucket/prefix with the endpoint and keys from s3.
func Open(ctx context.Context, loc string, s3 S3Config) (Store, error) {
	if strings.HasPrefix(loc, "s3://") {
		u, err := url.Parse(loc)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("store %q: want s3://bucket/prefix", loc)
		}
		return OpenS3(ctx, s3, u.Host, strings.Trim(u.Path, "/"))
	}
	if strings.Contains(loc, "://") {
		return nil, fmt.Errorf("store %q: unknown scheme (want a directory or s3://bucket/prefix)", loc)
	}
	return OpenLocal(loc)
}

// checkKey rejects keys that could escape the store or collide with temp files.
func checkKey(key string) error {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return fmt.Errorf("storage: bad key %q", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." || strings.HasPrefix(part, ".tmp-") || strings.ContainsRune(part, '\\') {
			return fmt.Errorf("storage: bad key %q", key)
		}
	}
	return nil
}

// OpenQueued opens the store for a long-running server: an s3:// store goes
// behind a durable upload queue in queueDir, so contacts closing while MinIO
// is unreachable wait on local disk and land when it returns (and the server
// starts even while it is down); a directory store is used as it is.
func OpenQueued(ctx context.Context, loc string, s3 S3Config, queueDir, node string, log *slog.Logger) (Store, error) {
	if !strings.HasPrefix(loc, "s3://") {
		return Open(ctx, loc, s3)
	}
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("store %q: want s3://bucket/prefix", loc)
	}
	remote, err := NewS3(s3, u.Host, strings.Trim(u.Path, "/"))
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := remote.EnsureBucket(cctx); err != nil {
		if log == nil {
			log = slog.Default()
		}
		log.Warn("store unreachable at start: contacts wait in the upload queue", "store", remote.String(), "queue", queueDir, "error", err)
	}
	return OpenQueue(queueDir, remote, QueueOptions{Log: log, Keep: []string{(&Archive{Node: node}).OwnIndexKey()}})
}
