// Package library is the library service: the rules of the Sylabs Library
// API (who may push, frozen containers, auto-created collections, privacy,
// upload verification) over the metadata and blob stores. It is the only
// code that touches both stores for library images: a write stores and
// verifies the blob first, then commits metadata in one transaction.
//
// Every access decision is asked of access.Checker, so the OCI side, which
// calls ContainerForPull, ContainerForPush and AddImage, applies the same
// rules.
package library

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/meta"
)

// Ref is a resolved library container path.
type Ref struct {
	Entity     meta.Entity
	Collection meta.Collection
	Container  meta.Container
}

// Path returns "entity/collection/container".
func (r Ref) Path() string {
	return r.Entity.Name + "/" + r.Collection.Name + "/" + r.Container.Name
}

// Mirror keeps the OCI view of library containers in step. Calls happen
// inside the metadata transaction that made the change (tx); an error rolls
// the change back.
//
//   - ImageUploaded: an image's bytes were verified and it became pullable
//     (library upload completion, a deduplicated image create, or AddImage
//     registering a new image, then with img.ManifestDigest set when the
//     OCI push supplied one).
//   - TagsChanged: tag now names another image of ref (any architecture).
//   - ImageDeleted: img was deleted; the tags that named it went with it.
type Mirror interface {
	ImageUploaded(ctx context.Context, tx meta.Store, ref Ref, img meta.Image) error
	TagsChanged(ctx context.Context, tx meta.Store, ref Ref, tag string) error
	ImageDeleted(ctx context.Context, tx meta.Store, ref Ref, img meta.Image) error
}

// Options tunes a Service; zero values take the defaults.
type Options struct {
	// PartSize is the multipart upload part size (default 64 MiB, the
	// client's own threshold for multipart).
	PartSize int64
	// UploadTTL is how long an upload capability URL lives (default 24h).
	UploadTTL time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

const (
	defaultPartSize  = 64 << 20
	defaultUploadTTL = 24 * time.Hour
	// DefaultEntity and DefaultCollection fill in short refs: "c" means
	// default/default/c and "k/c" means default/k/c (LA §10).
	DefaultEntity     = "default"
	DefaultCollection = "default"
)

// Service implements the library rules.
type Service struct {
	meta   meta.Store
	blobs  blob.Store
	access access.Checker
	// Mirror, when set, is told of every image and tag change. Set it while
	// composing the server, before serving.
	Mirror    Mirror
	partSize  int64
	uploadTTL time.Duration
	now       func() time.Time
	sessions  sessionLocks
}

// New returns a library service over the stores.
func New(ms meta.Store, bs blob.Store, ac access.Checker, opts Options) *Service {
	s := &Service{meta: ms, blobs: bs, access: ac, partSize: opts.PartSize, uploadTTL: opts.UploadTTL, now: opts.Now}
	if s.partSize <= 0 {
		s.partSize = defaultPartSize
	}
	if s.uploadTTL <= 0 {
		s.uploadTTL = defaultUploadTTL
	}
	if s.now == nil {
		s.now = func() time.Time { return time.Now().UTC() }
	}
	s.sessions.held = map[string]bool{}
	return s
}

// nameRe is the client's own rule for entity, collection and container
// names (LA §5.3 step 0): lowercase, digits, single separators. It rules
// out "..", uppercase and non-ASCII.
var nameRe = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// tagRe is the OCI tag grammar, so every library tag is also an OCI tag.
var tagRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// archRe accepts Go architecture names (amd64, arm64, ppc64le, ...).
var archRe = regexp.MustCompile(`^[a-z0-9]{1,16}$`)

func checkName(kind, name string) error {
	if len(name) > 128 || !nameRe.MatchString(name) {
		return apperr.New(apperr.Invalid, "invalid %s name %q: use lowercase letters and digits separated by single . _ or -", kind, name)
	}
	return nil
}

func checkTag(tag string) error {
	if !tagRe.MatchString(tag) || strings.HasPrefix(tag, hashPrefix) {
		return apperr.New(apperr.Invalid, "invalid tag %q: use letters, digits, . _ - (up to 128, not starting with %q)", tag, hashPrefix)
	}
	return nil
}

func checkArch(arch string) error {
	if arch != "" && !archRe.MatchString(arch) {
		return apperr.New(apperr.Invalid, "invalid architecture %q", arch)
	}
	return nil
}

// splitPath splits "e/c/n" (exactly three valid names).
func splitPath(path string) (ent, col, con string, err error) {
	parts := strings.Split(path, "/")
	if len(parts) != 3 {
		return "", "", "", apperr.New(apperr.Invalid, "invalid container path %q: want entity/collection/container", path)
	}
	for i, kind := range []string{"entity", "collection", "container"} {
		if err := checkName(kind, parts[i]); err != nil {
			return "", "", "", err
		}
	}
	return parts[0], parts[1], parts[2], nil
}

// requireUser rejects anonymous callers of a write.
func requireUser(p auth.Principal) error {
	if p.Anonymous() {
		return apperr.New(apperr.Unauthenticated, "authentication required: log in with a token")
	}
	return nil
}

// denied is the one wording of refusals: clients print the message, and
// seed 003 promises "permission denied".
func denied(format string, args ...any) error {
	return apperr.New(apperr.Denied, "permission denied: "+format, args...)
}

// newToken returns a 256-bit random capability (upload session ids).
func newToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// sessionLocks keeps two requests of this process from writing one upload
// session at once. Replicas do not share it: the upload state in the
// metadata store is then the only guard (see updateUploadState).
type sessionLocks struct {
	mu   sync.Mutex
	held map[string]bool
}

// tryLock takes id's lock or fails at once: a second writer is a client
// error, and making it wait would only let it write after the first.
func (l *sessionLocks) tryLock(id string) (func(), error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[id] {
		return nil, apperr.New(apperr.Conflict, "upload session is busy with another request")
	}
	l.held[id] = true
	return func() {
		l.mu.Lock()
		delete(l.held, id)
		l.mu.Unlock()
	}, nil
}
