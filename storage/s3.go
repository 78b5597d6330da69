package storage

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/encrypt"
	"github.com/minio/minio-go/v7/pkg/tags"
)

// S3 is a Store in an S3 bucket (MinIO), under an optional key prefix.
// A PutObject is complete or absent, so writes are atomic by construction.
type S3 struct {
	client           *minio.Client
	bucket           string
	prefix           string // "" or "a/b/" with trailing slash
	region, endpoint string
	sse              encrypt.ServerSide // nil: none
}

// OpenS3 connects and makes sure the bucket exists.
func OpenS3(ctx context.Context, cfg S3Config, bucket, prefix string) (*S3, error) {
	s, err := newS3(cfg, bucket, prefix, 0)
	if err != nil {
		return nil, err
	}
	if err := s.EnsureBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// NewS3 sets up the client without touching the network, for a server that
// must start while MinIO is down (its upload queue makes the bucket later).
// Each request is tried once: the queue in front of it does the retrying,
// with its own backoff, and must see a failure at once to count it.
func NewS3(cfg S3Config, bucket, prefix string) (*S3, error) {
	return newS3(cfg, bucket, prefix, 1)
}

func newS3(cfg S3Config, bucket, prefix string, retries int) (*S3, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("store s3: s3.endpoint is not set (config s3.endpoint or CONTACTD_S3_ENDPOINT)")
	}
	opts := &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.Secure,
		Region:     cfg.Region,
		MaxRetries: retries,
	}
	if cfg.CAFile != "" {
		b, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("s3.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("s3.ca_file %s: no PEM certificate in it", cfg.CAFile)
		}
		tr, err := minio.DefaultTransport(true)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig.RootCAs = pool
		opts.Transport = tr
	}
	cl, err := minio.New(cfg.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("store s3://%s: %w", bucket, err)
	}
	if prefix != "" {
		prefix += "/"
	}
	sse, err := serverSide(cfg)
	if err != nil {
		return nil, err
	}
	return &S3{client: cl, bucket: bucket, prefix: prefix, region: cfg.Region, endpoint: cfg.Endpoint, sse: sse}, nil
}

// serverSide is the encryption s3.sse asks for.
func serverSide(cfg S3Config) (encrypt.ServerSide, error) {
	switch cfg.SSE {
	case "":
		return nil, nil
	case "s3":
		return encrypt.NewSSE(), nil
	case "c":
		key, err := ReadKeyFile(cfg.SSECKeyFile)
		if err != nil {
			return nil, fmt.Errorf("s3.sse_c_key_file: %w", err)
		}
		return encrypt.NewSSEC(key)
	}
	return nil, fmt.Errorf("s3.sse: %q (want s3 or c)", cfg.SSE)
}

// ReadKeyFile reads a 256-bit key: 64 hex digits or base64 text, or the 32
// bytes themselves.
func ReadKeyFile(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("no key file named")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 32 {
		return b, nil
	}
	t := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(t); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(t); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, fmt.Errorf("%s: want a 256-bit key (64 hex digits, base64, or 32 bytes; e.g. openssl rand -hex 32)", path)
}

// EnsureBucket makes the bucket if it does not exist.
func (s *S3) EnsureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("store s3://%s at %s: %w", s.bucket, s.endpoint, err)
	}
	if !ok {
		if err := s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region}); err != nil {
			return fmt.Errorf("store s3://%s: creating bucket: %w", s.bucket, err)
		}
	}
	return nil
}

func (s *S3) String() string { return "s3://" + s.bucket + "/" + s.prefix }

func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64, opt PutOptions) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, s.bucket, s.prefix+key, r, size, minio.PutObjectOptions{
		ContentType:          opt.ContentType,
		UserTags:             opt.Tags,
		ServerSideEncryption: s.sse,
	})
	if err != nil {
		return fmt.Errorf("%s%s: %w", s, key, err)
	}
	return nil
}

func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var gopt minio.GetObjectOptions
	if s.sse != nil && s.sse.Type() == encrypt.SSEC {
		gopt.ServerSideEncryption = s.sse // SSE-C: the key opens each read; SSE-S3 needs nothing
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, gopt)
	if err != nil {
		return nil, err
	}
	// GetObject is lazy: Stat surfaces a missing key now rather than on Read.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
			return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
		}
		return nil, err
	}
	return obj, nil
}

func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.client.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{})
}

func (s *S3) List(ctx context.Context, prefix string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
			if obj.Err != nil {
				yield("", obj.Err)
				return
			}
			if !yield(strings.TrimPrefix(obj.Key, s.prefix), nil) {
				return
			}
		}
	}
}

// Tags returns an object's tags (set membership is kept there too).
func (s *S3) Tags(ctx context.Context, key string) (map[string]string, error) {
	t, err := s.client.GetObjectTagging(ctx, s.bucket, s.prefix+key, minio.GetObjectTaggingOptions{})
	if err != nil {
		return nil, err
	}
	return t.ToMap(), nil
}

// SetTags replaces an object's tags, e.g. when a review changes its set.
func (s *S3) SetTags(ctx context.Context, key string, m map[string]string) error {
	t, err := tags.NewTags(m, true)
	if err != nil {
		return err
	}
	return s.client.PutObjectTagging(ctx, s.bucket, s.prefix+key, t, minio.PutObjectTaggingOptions{})
}
