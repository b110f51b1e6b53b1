// Package bridge is the library <-> OCI bridge: the one model of library
// containers that both protocols' services talk to. The library service
// (Library API) and the registry service (OCI Distribution) never import
// each other; they both ask the bridge, which holds:
//
//   - the namespace rules of library paths: resolving
//     entity/collection/container for a reader (private looks missing) and
//     for a pusher (auto-created entities and collections, owners only);
//   - library images and per-architecture tags, with the frozen rule;
//   - the OCI view of every library container (its repository row, a SIF
//     artifact manifest per image, OCI tags that follow library tags), so a
//     SIF pushed with library:// pulls with oras:// and back.
//
// Every function works inside the caller's metadata transaction (st or
// tx) and does no blob I/O there: blob reads (the SIF header, the {}
// config blob) happen before the transaction (ReadSIF, EnsureEmptyJSON).
// docs/architecture.md ("One store") describes the mapping.
package bridge

import (
	"context"
	"strings"
	"sync/atomic"
	"time"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/names"
	"github.com/silo-hpc/silo/internal/oci"
)

// Store is the part of the metadata store the bridge reads and writes,
// always through the caller's transaction.
type Store interface {
	GetUserByName(ctx context.Context, name string) (meta.User, error)
	meta.Namespaces
	meta.LibraryImages
	meta.LibraryTags
	meta.SIFMetadata
	meta.OCI
	meta.Quotas
	IsCollectionReader(ctx context.Context, collectionID, userID string) (bool, error)
	// Signatures (signatures.go).
	GetSignaturePolicy(ctx context.Context, collectionID string) (meta.SignaturePolicy, error)
	RecordSIFSigners(ctx context.Context, digest string, fingerprints []string, generation int64, at time.Time) error
	GetSettings(ctx context.Context) (map[string]string, error)
}

// Bridge holds the rules and the OCI mirror of library containers.
type Bridge struct {
	blobs  blob.Store
	access access.Checker
	// emptyJSON is set once the {} config blob of SIF artifacts is known
	// to be in the blob store.
	emptyJSON atomic.Bool
	keys      KeySource // nil: no keys, every signature unknown
}

// New returns the bridge.
func New(bs blob.Store, ac access.Checker) *Bridge {
	return &Bridge{blobs: bs, access: ac}
}

// Access returns the rules the bridge applies (for services that ask the
// same questions about other things), with the configuration's policy.
func (b *Bridge) Access() access.Checker { return b.access }

// Rules returns the rules with the policy as it is now: the
// configuration's, under the settings an administrator stored (read in
// the caller's transaction, so every replica agrees at once). The policy
// is read only where it decides (creating entities, collections and
// repositories).
func (b *Bridge) Rules(ctx context.Context, st Store) (access.Checker, error) {
	stored, err := st.GetSettings(ctx)
	if err != nil {
		return b.access, err
	}
	return access.Checker{Policy: b.access.Policy.With(stored)}, nil
}

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

// HashPrefix marks a library "tag" that names an image by content
// (docs/protocols/library-api.md §10).
const HashPrefix = "sha256."

// CheckName validates an entity, collection or container name.
func CheckName(kind, name string) error {
	if len(name) > 128 || !names.Valid(name) {
		return apperr.E(apperr.Invalid, apperr.Name, "invalid %s name %q: use lowercase letters and digits separated by single . _ or -", kind, name)
	}
	return nil
}

// CheckTag validates a library tag.
func CheckTag(tag string) error {
	// The OCI tag grammar, so every library tag is also an OCI tag.
	if !oci.ValidTag(tag) || strings.HasPrefix(tag, HashPrefix) {
		return apperr.New(apperr.Invalid, "invalid tag %q: use letters, digits, . _ - (up to 128, not starting with %q)", tag, HashPrefix)
	}
	return nil
}

// CheckArch validates an architecture ("" is unknown, and valid): Go
// architecture names (amd64, arm64, ppc64le, ...), up to 16 lowercase
// letters and digits.
func CheckArch(arch string) error {
	ok := len(arch) <= 16
	for i := 0; ok && i < len(arch); i++ {
		c := arch[i]
		ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
	}
	if !ok {
		return apperr.New(apperr.Invalid, "invalid architecture %q", arch)
	}
	return nil
}

// HashOf shows an image digest ("sha256:<hex>") the Library API way,
// "sha256.<hex>" (docs/protocols/library-api.md §6.5).
func HashOf(d string) string { return strings.Replace(d, ":", ".", 1) }

// splitPath splits "e/c/n" (exactly three valid names).
func splitPath(path string) (ent, col, con string, err error) {
	parts := strings.Split(path, "/")
	if len(parts) != 3 {
		return "", "", "", apperr.E(apperr.Invalid, apperr.Name, "invalid container path %q: want entity/collection/container", path)
	}
	for i, kind := range []string{"entity", "collection", "container"} {
		if err := CheckName(kind, parts[i]); err != nil {
			return "", "", "", err
		}
	}
	return parts[0], parts[1], parts[2], nil
}

// RequireUser rejects anonymous callers of a write.
func RequireUser(p auth.Principal) error {
	if p.Anonymous() {
		return apperr.New(apperr.Unauthenticated, "authentication required: log in with a token")
	}
	return nil
}

// Denied is the one wording of refusals: clients print the message, and
// seed 003 promises "permission denied".
func Denied(format string, args ...any) error {
	return apperr.E(apperr.Denied, apperr.Repository, "permission denied: "+format, args...)
}

// NotFound hides what the caller may not see behind the same answer as
// what does not exist (docs/protocols/library-api.md §1.6, §3.4).
func NotFound(kind, name string) error {
	return apperr.E(apperr.NotFound, apperr.Repository, "%s %s not found", kind, name)
}

// pushDenied is the one answer to a push the caller may not make into a
// container it may not see or may not create: the same for a private
// collection as for a missing one, so a push never confirms a name.
func pushDenied(path string) error {
	return Denied("you may not push to %s", path)
}
