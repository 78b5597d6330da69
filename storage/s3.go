package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/tags"
)

// S3 is a Store in an S3 bucket (MinIO), under an optional key prefix.
// A PutObject is complete or absent, so writes are atomic by construction.
type S3 struct {
	client           *minio.Client
	bucket           string
	prefix           string // "" or "a/b/" with trailing slash
	region, endpoint string
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
	cl, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.Secure,
		Region:     cfg.Region,
		MaxRetries: retries,
	})
	if err != nil {
		return nil, fmt.Errorf("store s3://%s: %w", bucket, err)
	}
	if prefix != "" {
		prefix += "/"
	}
	return &S3{client: cl, bucket: bucket, prefix: prefix, region: cfg.Region, endpoint: cfg.Endpoint}, nil
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
		ContentType: opt.ContentType,
		UserTags:    opt.Tags,
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
	obj, err := s.client.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
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
