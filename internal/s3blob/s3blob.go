// Package s3blob is the S3 blob store: blobs are objects in one bucket of
// an S3-compatible service (AWS S3, MinIO, Ceph RGW, versitygw), which
// every replica shares.
//
// Layout, under an optional key prefix:
//
//	blobs/<alg>/<hex>                  committed blobs, immutable
//	uploads/<id>/tail-<offset>-<rand>  a session's bytes not yet in a part
//	uploads/<id>/data                  the multipart target of a session
//	                                   whose digest was not announced
//
// A session streams into an S3 multipart upload, one part buffer at a time
// (memory is constant in the blob's size), hashing as it goes. Its state
// (the multipart upload, its parts' ETags, the hash state and the tail
// object) is JSON the caller keeps: internal/upload records it in the
// metadata database with the session's offset, so the requests of one
// upload may hit different replicas, and a request whose state was never
// recorded (it failed, or its replica died) leaves nothing the next one
// depends on. docs/deploy.md describes running it; docs/architecture.md
// ("Uploads") the session protocol.
package s3blob

import (
	"context"
	_ "crypto/sha256" // registers the hashes go-digest looks up by name
	_ "crypto/sha512"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
)

const (
	// MinPartSize is S3's smallest part (all but the last).
	MinPartSize = 5 << 20
	// DefaultPartSize bounds a blob at 10,000 parts: 160 GiB.
	DefaultPartSize = 16 << 20
	// maxParts is S3's limit on parts per multipart upload.
	maxParts = 10_000
	// defaultRetries: minio-go retries throttling (SlowDown), 5xx and
	// network errors with exponential backoff (200 ms doubling, capped
	// at 1 s per wait); five attempts give up after about 3 s, so a
	// client of a store that is down gets its 503 promptly.
	defaultRetries = 5
)

// Config selects a bucket and how to reach it.
type Config struct {
	// Endpoint is the service's URL, http:// or https://.
	Endpoint string
	Bucket   string
	Region   string
	// AccessKey and SecretKey sign requests; when both are empty the
	// usual AWS sources are asked (environment, shared files, instance
	// role).
	AccessKey, SecretKey string
	// Prefix is prepended to every key ("silo/" keeps Silo's objects in
	// one folder of a shared bucket).
	Prefix string
	// PathStyle addresses the bucket in the path (MinIO, Ceph, versitygw)
	// rather than as a host name (AWS).
	PathStyle bool
	// PartSize is the multipart part size (default 16 MiB; at least
	// 5 MiB). A session holds at most two parts in memory.
	PartSize int64
	// MaxRetries bounds attempts per request (default 5).
	MaxRetries int
	// PublicEndpoint, when set, is the service's URL as clients reach it:
	// downloads are then redirected to URLs presigned for it instead of
	// streamed through the server. Never the internal endpoint by
	// default: sregistry's most common failure was presigned URLs naming
	// a host only the server could reach.
	PublicEndpoint string
	// Transport overrides the HTTP transport (tests inject faults).
	Transport http.RoundTripper
}

// Store is a blob.Store in an S3 bucket.
type Store struct {
	client   *minio.Client
	public   *minio.Client // presigns downloads; nil when not configured
	core     minio.Core
	bucket   string
	prefix   string
	partSize int64
	buffers  sync.Pool // *[]byte with cap partSize
}

var _ blob.Store = (*Store)(nil)

// New returns a store over cfg's bucket. It does not contact the service:
// Ping does.
func New(cfg Config) (*Store, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, apperr.New(apperr.Invalid, "s3 endpoint %q: want http(s)://host[:port]", cfg.Endpoint)
	}
	if cfg.PartSize == 0 {
		cfg.PartSize = DefaultPartSize
	}
	if cfg.PartSize < MinPartSize {
		return nil, apperr.New(apperr.Invalid, "s3 part size %d is below S3's minimum of 5 MiB", cfg.PartSize)
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = defaultRetries
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	if cfg.AccessKey == "" && cfg.SecretKey == "" {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}, &credentials.IAM{}})
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	transport := cfg.Transport
	if transport == nil {
		if transport, err = minio.DefaultTransport(u.Scheme == "https"); err != nil {
			return nil, apperr.Wrap(apperr.Internal, err, "s3 transport")
		}
	}
	client, err := minio.New(u.Host, &minio.Options{Creds: creds, Secure: u.Scheme == "https",
		Region: cfg.Region, BucketLookup: lookup, MaxRetries: cfg.MaxRetries, Transport: bodyWaiter{transport}})
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, err, "s3 endpoint %q", cfg.Endpoint)
	}
	s := &Store{client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket,
		prefix: cfg.Prefix, partSize: cfg.PartSize}
	if cfg.PublicEndpoint != "" {
		pu, err := url.Parse(cfg.PublicEndpoint)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, apperr.New(apperr.Invalid, "s3 public endpoint %q: want http(s)://host[:port]", cfg.PublicEndpoint)
		}
		// Presigning is computed here, with the region given: it sends
		// nothing to the public endpoint.
		if s.public, err = minio.New(pu.Host, &minio.Options{Creds: creds, Secure: pu.Scheme == "https",
			Region: cfg.Region, BucketLookup: lookup}); err != nil {
			return nil, apperr.Wrap(apperr.Invalid, err, "s3 public endpoint %q", cfg.PublicEndpoint)
		}
	}
	s.buffers.New = func() any { b := make([]byte, 0, s.partSize); return &b }
	return s, nil
}

// algorithms are the digest algorithms blobs may be stored under.
var algorithms = []digest.Algorithm{digest.SHA256, digest.SHA512}

func supported(alg digest.Algorithm) bool {
	return alg == digest.SHA256 || alg == digest.SHA512
}

// checkDigest rejects anything that is not a well-formed digest of a
// supported algorithm, before it becomes part of a key.
func checkDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return apperr.Wrap(apperr.Invalid, err, "invalid digest")
	}
	if !supported(d.Algorithm()) {
		return apperr.New(apperr.Invalid, "unsupported digest algorithm %q", d.Algorithm())
	}
	return nil
}

func (s *Store) blobKey(d digest.Digest) string {
	return s.prefix + "blobs/" + string(d.Algorithm()) + "/" + d.Encoded()
}

func (s *Store) uploadPrefix(id string) string { return s.prefix + "uploads/" + id + "/" }

// mapErr classifies an S3 client error: a missing key or upload is
// NotFound; throttling, server errors and an unreachable service are
// Unavailable (clients get a 503 and retry: minio-go has already retried
// with backoff); anything else, a request S3 refused, is Internal.
func mapErr(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	what := fmt.Sprintf(format, args...)
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.Code == "NoSuchKey" || resp.Code == "NoSuchUpload" || resp.StatusCode == http.StatusNotFound:
		return apperr.Wrap(apperr.NotFound, err, "%s: not found", what)
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusRequestTimeout &&
		resp.StatusCode != http.StatusTooManyRequests && resp.Code != "SlowDown":
		return apperr.Wrap(apperr.Internal, err, "blob store: %s", what)
	}
	return apperr.Wrap(apperr.Unavailable, err, "blob store unavailable, retry later")
}

func notFoundBlob(err error) error {
	if apperr.Is(err, apperr.NotFound) {
		return apperr.Wrap(apperr.NotFound, err, "blob unknown")
	}
	return err
}

// Stat reports a committed blob.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (blob.Info, error) {
	if err := checkDigest(d); err != nil {
		return blob.Info{}, err
	}
	oi, err := s.client.StatObject(ctx, s.bucket, s.blobKey(d), minio.StatObjectOptions{})
	if err != nil {
		return blob.Info{}, notFoundBlob(mapErr(err, "stat %s", d))
	}
	return blob.Info{Digest: d, Size: oi.Size, ModTime: oi.LastModified}, nil
}

// Open returns a reader that fetches ranges as the caller reads and seeks
// (http.ServeContent asks for the size, then the ranges it serves).
func (s *Store) Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, blob.Info, error) {
	info, err := s.Stat(ctx, d)
	if err != nil {
		return nil, info, err
	}
	r := &reader{ctx: ctx, s: s, key: s.blobKey(d), size: info.Size}
	if s.public == nil {
		return r, info, nil
	}
	u, err := s.public.PresignedGetObject(ctx, s.bucket, r.key, presignExpiry, nil)
	if err != nil {
		return nil, info, mapErr(err, "presign %s", d)
	}
	return &located{reader: r, url: u.String()}, info, nil
}

// presignExpiry is how long a download URL works: a client that resumes
// later asks the server again and gets a new one.
const presignExpiry = time.Hour

// located is a reader whose blob may be fetched from a presigned URL.
type located struct {
	*reader
	url string
}

func (l *located) Location() string { return l.url }

// Delete removes a committed blob; a missing one is NotFound (S3 itself
// deletes missing keys without complaint, so it is looked up first).
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	if _, err := s.Stat(ctx, d); err != nil {
		return err
	}
	err := s.client.RemoveObject(ctx, s.bucket, s.blobKey(d), minio.RemoveObjectOptions{})
	return mapErr(err, "delete %s", d)
}

// Walk lists every committed blob. Keys that do not name a blob of ours
// (left by other tools) are skipped.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing when fn ends the walk early
	for _, alg := range algorithms {
		base := s.prefix + "blobs/" + string(alg) + "/"
		for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: base, Recursive: true}) {
			if obj.Err != nil {
				return mapErr(obj.Err, "list blobs")
			}
			d := digest.NewDigestFromEncoded(alg, strings.TrimPrefix(obj.Key, base))
			if checkDigest(d) != nil {
				continue
			}
			if err := fn(blob.Info{Digest: d, Size: obj.Size, ModTime: obj.LastModified}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Ping checks the bucket answers (a HEAD: cheap enough for every
// readiness probe).
func (s *Store) Ping(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return mapErr(err, "bucket %s", s.bucket)
	}
	if !ok {
		return apperr.New(apperr.Unavailable, "blob store: bucket %s does not exist", s.bucket)
	}
	return nil
}

// EnsureBucket creates the bucket when it does not exist (tests and
// first-time setups; production buckets are usually made by their admin).
func (s *Store) EnsureBucket(ctx context.Context, region string) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err == nil && !ok {
		err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: region})
	}
	return mapErr(err, "create bucket %s", s.bucket)
}

// buffer returns an empty part buffer.
func (s *Store) buffer() *[]byte {
	b := s.buffers.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

func (s *Store) release(b *[]byte) {
	if b != nil {
		s.buffers.Put(b)
	}
}
