package meta

import "context"

// Quota kinds: whose bytes a limit applies to.
const (
	QuotaUser       = "user"
	QuotaCollection = "collection"
)

// Quota is a limit on the bytes a user or a collection holds.
type Quota struct {
	Kind      string // QuotaUser or QuotaCollection
	SubjectID string // the user's or the collection's id
	Limit     int64  // bytes
}

// Quotas stores quotas and measures usage. A user's usage is the bytes of
// the distinct live blobs linked to repositories it owns (plain
// repositories it owns, and the library containers of collections it
// owns); a collection's, those linked to its containers. A blob counts
// once per owner however many repositories hold it.
type Quotas interface {
	// SetQuota sets a limit; a limit of 0 or less removes it.
	SetQuota(ctx context.Context, q *Quota) error
	// GetQuota returns a limit; NotFound when there is none.
	GetQuota(ctx context.Context, kind, subjectID string) (Quota, error)
	// ListQuotas lists every limit.
	ListQuotas(ctx context.Context) ([]Quota, error)
	// LockQuota is GetQuota that also locks the limit until the
	// transaction ends, so the charges of one owner run one at a time.
	LockQuota(ctx context.Context, kind, subjectID string) (Quota, error)
	// QuotaUsage returns the bytes an owner holds.
	QuotaUsage(ctx context.Context, kind, subjectID string) (int64, error)
	// QuotaHolds reports whether an owner already holds a blob.
	QuotaHolds(ctx context.Context, kind, subjectID, digest string) (bool, error)
}
