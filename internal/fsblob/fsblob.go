// Package fsblob is the filesystem blob store: Silo's default backend, one
// directory tree under the data directory.
//
// Layout:
//
//	root/blobs/<alg>/<first 2 hex>/<hex>   committed blobs, immutable
//	root/uploads/<id>.data                 bytes of an upload session
//	root/uploads/<id>.state                hash state and the offset it covers,
//	                                       written when the session is closed
//
// A session that commits in the request that opened it (a monolithic
// push, the common case) touches two files and no directory: creating,
// syncing, renaming. Its state is only written if it must outlive the
// request.
//
// Uploads and blobs share one filesystem so Commit publishes with a single
// atomic rename: a blob is either fully visible or absent.
package fsblob

import (
	"context"
	_ "crypto/sha256" // registers the hashes go-digest looks up by name
	_ "crypto/sha512"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
)

const (
	dirPerm  = 0o750
	filePerm = 0o640
)

// algorithms are the digest algorithms blobs may be stored under. go-digest
// also accepts sha384, which no registry client uses.
var algorithms = []digest.Algorithm{digest.SHA256, digest.SHA512}

// Store is a blob.Store on a local (or shared POSIX) filesystem.
type Store struct {
	blobs   string
	uploads string
	root    string
}

var _ blob.Store = (*Store)(nil)

// New opens (creating if needed) a store rooted at root.
func New(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, apperr.Wrap(apperr.Internal, err, "blob store: resolve root")
	}
	s := &Store{
		root:    abs,
		blobs:   filepath.Join(abs, "blobs"),
		uploads: filepath.Join(abs, "uploads"),
	}
	for _, dir := range []string{s.blobs, s.uploads} {
		if err := os.MkdirAll(dir, dirPerm); err != nil {
			return nil, apperr.Wrap(apperr.Internal, err, "blob store: create %s", dir)
		}
	}
	return s, nil
}

func supported(alg digest.Algorithm) bool {
	for _, a := range algorithms {
		if a == alg {
			return true
		}
	}
	return false
}

// checkDigest rejects anything that is not a well-formed digest of a
// supported algorithm. It runs before any path is built, so the hex part
// can only be [0-9a-f] and never escapes root.
func checkDigest(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return apperr.Wrap(apperr.Invalid, err, "invalid digest")
	}
	if !supported(d.Algorithm()) {
		return apperr.New(apperr.Invalid, "unsupported digest algorithm %q", d.Algorithm())
	}
	return nil
}

// blobPath returns where d lives, after validating it.
func (s *Store) blobPath(d digest.Digest) (string, error) {
	if err := checkDigest(d); err != nil {
		return "", err
	}
	hex := d.Encoded()
	return filepath.Join(s.blobs, string(d.Algorithm()), hex[:2], hex), nil
}

func notFoundOr(err error, d digest.Digest, op string) error {
	if errors.Is(err, fs.ErrNotExist) {
		return apperr.Wrap(apperr.NotFound, err, "blob unknown")
	}
	return apperr.Wrap(apperr.Internal, err, "blob store: %s %s", op, d)
}

// Stat reports a committed blob.
func (s *Store) Stat(ctx context.Context, d digest.Digest) (blob.Info, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return blob.Info{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return blob.Info{}, notFoundOr(err, d, "stat")
	}
	return blob.Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Open returns the blob's *os.File, so http.ServeContent can use Seek and
// the kernel's sendfile.
func (s *Store) Open(ctx context.Context, d digest.Digest) (io.ReadSeekCloser, blob.Info, error) {
	p, err := s.blobPath(d)
	if err != nil {
		return nil, blob.Info{}, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, blob.Info{}, notFoundOr(err, d, "open")
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, blob.Info{}, notFoundOr(err, d, "stat")
	}
	return f, blob.Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete removes a committed blob. Shard directories stay: removing them
// would race with a concurrent Commit creating a file inside.
func (s *Store) Delete(ctx context.Context, d digest.Digest) error {
	p, err := s.blobPath(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil {
		return notFoundOr(err, d, "delete")
	}
	return nil
}

// Walk calls fn for every committed blob. Files whose path is not a valid
// digest (left by hand, or by other tools) are skipped rather than reported.
func (s *Store) Walk(ctx context.Context, fn func(blob.Info) error) error {
	for _, alg := range algorithms {
		base := filepath.Join(s.blobs, string(alg))
		err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // a shard removed under us, or no blob of alg yet
				}
				return apperr.Wrap(apperr.Internal, err, "blob store: walk")
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if e.IsDir() {
				return nil
			}
			d := digest.NewDigestFromEncoded(alg, e.Name())
			if checkDigest(d) != nil || filepath.Base(filepath.Dir(p)) != e.Name()[:2] {
				return nil
			}
			fi, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted since the directory was read
			}
			if err != nil {
				return apperr.Wrap(apperr.Internal, err, "blob store: walk")
			}
			return fn(blob.Info{Digest: d, Size: fi.Size(), ModTime: fi.ModTime()})
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Ping checks root is writable by creating and removing a file in it.
func (s *Store) Ping(ctx context.Context) error {
	f, err := os.CreateTemp(s.root, ".ping-*")
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "blob store not writable")
	}
	name := f.Name()
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(cerr, rerr); err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "blob store not writable")
	}
	return nil
}

// syncDir makes a rename or create inside dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// isHex reports whether s is non-empty lowercase hex.
func isHex(s string) bool {
	return s != "" && strings.Trim(s, "0123456789abcdef") == ""
}
