// Package quota is the one rule for how many bytes users and collections
// may hold, asked by every protocol that stores blobs: the library
// (Library API uploads, and what is built on it), the OCI registry, and
// the bridge between them. docs/quotas.md describes it.
//
// A user's usage is the bytes of the distinct blobs linked to the
// repositories it owns (its plain repositories and the containers of the
// collections it owns); a collection's, those linked to its containers. A
// blob counts once per owner, however many repositories, tags or images
// use it, and stops counting when the garbage collector drops the link or
// the blob (docs/gc.md).
package quota

import (
	"context"
	"fmt"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// Store is what the rule needs of the metadata store.
type Store interface {
	meta.Quotas
}

// Owners are whose quotas a repository's bytes count against.
type Owners struct {
	UserID       string // "" when none
	CollectionID string // "" for plain repositories
	// Path names what is pushed to, in refusals.
	Path string
}

// ForCollection are the owners of a library collection's containers: the
// collection and its owner.
func ForCollection(col meta.Collection, path string) Owners {
	return Owners{UserID: col.OwnerID, CollectionID: col.ID, Path: path}
}

// ForRepository are the owners of a plain repository: its owner.
func ForRepository(repo meta.Repository) Owners {
	return Owners{UserID: repo.OwnerID, Path: repo.Name}
}

type subject struct{ kind, id string }

// subjects lists the owners' quotas in the order they are locked (user,
// then collection), so concurrent charges never deadlock.
func (o Owners) subjects() []subject {
	var out []subject
	if o.UserID != "" {
		out = append(out, subject{meta.QuotaUser, o.UserID})
	}
	if o.CollectionID != "" {
		out = append(out, subject{meta.QuotaCollection, o.CollectionID})
	}
	return out
}

// Charge checks, in the transaction that links blob d (size bytes) into a
// repository of o, that it fits every quota of o. It locks those quotas
// until the transaction ends, so concurrent pushes of one owner are
// counted one after the other and usage never exceeds a limit. A blob o
// already holds costs nothing.
func Charge(ctx context.Context, tx Store, o Owners, d string, size int64) error {
	return check(ctx, tx, o, d, size, true)
}

// Precheck refuses, before an upload begins, a blob of a known size that
// cannot fit (d may be "" when the content is not known yet). Charge still
// decides at the end: others may push meanwhile.
func Precheck(ctx context.Context, st Store, o Owners, d string, size int64) error {
	return check(ctx, st, o, d, size, false)
}

func check(ctx context.Context, st Store, o Owners, d string, size int64, lock bool) error {
	for _, sub := range o.subjects() {
		get := st.GetQuota
		if lock {
			get = st.LockQuota
		}
		q, err := get(ctx, sub.kind, sub.id)
		if apperr.Is(err, apperr.NotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if d != "" {
			held, err := st.QuotaHolds(ctx, sub.kind, sub.id, d)
			if err != nil {
				return err
			}
			if held {
				continue
			}
		}
		used, err := st.QuotaUsage(ctx, sub.kind, sub.id)
		if err != nil {
			return err
		}
		if used+size > q.Limit {
			return over(sub.kind, o.Path, q.Limit, used, size)
		}
	}
	return nil
}

// over is the one wording of a refusal: OCI clients show it as DENIED,
// Library clients print it.
func over(kind, path string, limit, used, size int64) error {
	whose := "the owner of " + path
	if kind == meta.QuotaCollection {
		whose = "collection " + collectionOf(path)
	}
	return apperr.E(apperr.Denied, apperr.Quota, "over quota: %s may store %s and holds %s; this push needs %s more",
		whose, Format(limit), Format(used), Format(size))
}

// collectionOf cuts "entity/collection/container" to "entity/collection".
func collectionOf(path string) string {
	slashes := 0
	for i, r := range path {
		if r == '/' {
			if slashes++; slashes == 2 {
				return path[:i]
			}
		}
	}
	return path
}

// Usage is an owner's limit (0: none) and the bytes it holds.
type Usage struct {
	Limit int64
	Used  int64
}

// UsageOf reads an owner's usage.
func UsageOf(ctx context.Context, st Store, kind, id string) (Usage, error) {
	var u Usage
	q, err := st.GetQuota(ctx, kind, id)
	switch {
	case err == nil:
		u.Limit = q.Limit
	case !apperr.Is(err, apperr.NotFound):
		return u, err
	}
	u.Used, err = st.QuotaUsage(ctx, kind, id)
	return u, err
}

// Reported is what a push reports back (the Library API's quotaTotal and
// quotaUsage): the owning user's quota, or the collection's when it has
// no owner.
func Reported(ctx context.Context, st Store, o Owners) (Usage, error) {
	if o.UserID != "" {
		return UsageOf(ctx, st, meta.QuotaUser, o.UserID)
	}
	if o.CollectionID != "" {
		return UsageOf(ctx, st, meta.QuotaCollection, o.CollectionID)
	}
	return Usage{}, nil
}

// Format shows a size in binary units.
func Format(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
