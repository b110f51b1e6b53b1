// Package meta defines Silo's metadata store: the source of truth for
// users, tokens, teams, names, tags, references and upload sessions.
//
// The Store is composed of small per-resource interfaces; sqlmeta
// implements all of them for SQLite and PostgreSQL, and metatest is the one
// contract suite both run. Errors use apperr codes: a missing row is
// apperr.NotFound, a uniqueness violation apperr.Conflict.
package meta

import (
	"context"
	"errors"
	"time"
)

// ErrLostRace marks an error from a transaction that lost a race with a
// concurrent one (say, both creating the same collection). InTx reruns
// such transactions; a rerun sees the winner's rows.
var ErrLostRace = errors.New("lost a race with a concurrent transaction")

// Store is the whole metadata store. Consumers depend on the part they
// use: an interface of their own that embeds the resource interfaces
// below and, when they need transactions, Transactor (see Tx and View).
type Store interface {
	Users
	Tokens
	Sessions
	LoginThrottle
	Settings
	Teams
	Namespaces
	Uploads
	Library
	OCI
	BlobPins
	BlobCollection
	Quotas
	SRegistry
	Keyring
	Transactor
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// Transactor runs functions in transactions. The function gets the whole
// store bound to the transaction; Tx and View hand it to consumers as
// their own narrow interface.
type Transactor interface {
	// InTx runs fn in one read-write transaction: it commits if fn returns
	// nil and rolls back otherwise. Calls nest by joining the outer
	// transaction. A transaction that lost a race with a concurrent one
	// (ErrLostRace, or the database's serialization errors) is run again.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// ReadTx runs fn in a read-only transaction: one consistent snapshot
	// that does not wait for, or block, writers. Writes in fn fail.
	ReadTx(ctx context.Context, fn func(tx Store) error) error
}

// Tx runs fn in a read-write transaction of t, giving it the transaction
// as S, the consumer's own view of the store (which the transaction must
// implement: every Store does).
func Tx[S any](ctx context.Context, t Transactor, fn func(tx S) error) error {
	return t.InTx(ctx, func(tx Store) error { return fn(tx.(S)) })
}

// View runs fn in a read-only transaction of t, as S.
func View[S any](ctx context.Context, t Transactor, fn func(tx S) error) error {
	return t.ReadTx(ctx, func(tx Store) error { return fn(tx.(S)) })
}

// Role is a user's server-wide role.
type Role string

const (
	RoleAdmin   Role = "admin"
	RoleManager Role = "manager" // may create collections in any entity
	RoleUser    Role = "user"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleAdmin || r == RoleManager || r == RoleUser }

type User struct {
	ID           string
	Name         string
	Email        string
	Role         Role
	PasswordHash string // argon2id PHC string; never a clear password
	Disabled     bool
	CreatedAt    time.Time
}

// Users stores accounts.
type Users interface {
	CreateUser(ctx context.Context, u *User) error
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByName(ctx context.Context, name string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	UpdateUser(ctx context.Context, u *User) error
	CountUsers(ctx context.Context) (int, error)
}

// Token is an API token; only a hash of its secret is stored.
type Token struct {
	ID         string
	UserID     string
	Label      string
	Hash       string
	CreatedAt  time.Time
	LastUsedAt time.Time // zero when never used
	ExpiresAt  time.Time // zero when it never expires
	Revoked    bool
}

// Tokens stores API tokens.
type Tokens interface {
	CreateToken(ctx context.Context, t *Token) error
	// GetTokenByHash and GetToken return a token with its owner, in one
	// query: every request authenticated by a token asks.
	GetTokenByHash(ctx context.Context, hash string) (Token, User, error)
	GetToken(ctx context.Context, id string) (Token, User, error)
	ListTokens(ctx context.Context, userID string) ([]Token, error)
	RevokeToken(ctx context.Context, id string) error
	TouchToken(ctx context.Context, id string, at time.Time) error
}

type Team struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Teams stores teams, their members and their grants on collections.
type Teams interface {
	CreateTeam(ctx context.Context, t *Team) error
	GetTeamByName(ctx context.Context, name string) (Team, error)
	ListTeams(ctx context.Context) ([]Team, error)
	// DeleteTeam removes a team with its memberships and grants.
	DeleteTeam(ctx context.Context, id string) error
	// ListUserTeams lists the teams a user is a member of, by name.
	ListUserTeams(ctx context.Context, userID string) ([]Team, error)
	AddTeamMember(ctx context.Context, teamID, userID string) error
	RemoveTeamMember(ctx context.Context, teamID, userID string) error
	ListTeamMembers(ctx context.Context, teamID string) ([]User, error)
	GrantCollection(ctx context.Context, collectionID, teamID string) error
	RevokeCollection(ctx context.Context, collectionID, teamID string) error
	// ListCollectionTeams lists the teams granted pull on a collection,
	// by name.
	ListCollectionTeams(ctx context.Context, collectionID string) ([]Team, error)
	// IsCollectionReader reports whether userID is in a team granted pull
	// on collectionID.
	IsCollectionReader(ctx context.Context, collectionID, userID string) (bool, error)
}

type Entity struct {
	ID             string
	Name           string
	Description    string
	OwnerID        string // the user whose namespace this is; "" for shared entities
	DefaultPrivate bool
	CreatedAt      time.Time
}

type Collection struct {
	ID          string
	EntityID    string
	Name        string
	Description string
	OwnerID     string
	Private     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

type Container struct {
	ID           string
	CollectionID string
	Name         string
	Description  string
	Frozen       bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Namespaces stores the library's entity/collection/container tree.
type Namespaces interface {
	CreateEntity(ctx context.Context, e *Entity) error
	GetEntity(ctx context.Context, id string) (Entity, error)
	GetEntityByName(ctx context.Context, name string) (Entity, error)

	CreateCollection(ctx context.Context, c *Collection) error
	GetCollection(ctx context.Context, id string) (Collection, error)
	GetCollectionByName(ctx context.Context, entityID, name string) (Collection, error)
	ListCollections(ctx context.Context, entityID string) ([]Collection, error)
	UpdateCollection(ctx context.Context, c *Collection) error
	DeleteCollection(ctx context.Context, id string) error

	CreateContainer(ctx context.Context, c *Container) error
	GetContainer(ctx context.Context, id string) (Container, error)
	GetContainerByName(ctx context.Context, collectionID, name string) (Container, error)
	ListContainers(ctx context.Context, collectionID string) ([]Container, error)
	UpdateContainer(ctx context.Context, c *Container) error
	DeleteContainer(ctx context.Context, id string) error
}

// Upload is a server-side upload session (internal/upload owns them).
// State is JSON owned by the service that created it (offsets, expected
// sizes, part lists). The lease is the session's one-writer lock: a
// request holds it while it appends, across replicas.
type Upload struct {
	ID           string
	Kind         string // e.g. "oci", "library", "library-multipart"
	Target       string // what the upload is for: a repository or image id
	BlobUploadID string // the blob store session
	State        string
	UserID       string
	CreatedAt    time.Time
	// ExpiresAt is when the session ends unless a request renews it.
	ExpiresAt   time.Time
	LeaseHolder string    // "" when no request holds the lease
	LeaseUntil  time.Time // when a crashed holder's lease lapses
}

// Uploads stores upload sessions.
type Uploads interface {
	CreateUpload(ctx context.Context, u *Upload) error
	GetUpload(ctx context.Context, id string) (Upload, error)
	UpdateUpload(ctx context.Context, u *Upload) error
	// ClaimUpload gives the lease of session id to holder until the given
	// time, when no one else holds it or their lease lapsed before now.
	// It fails with apperr.Unavailable when another holder has it (a
	// concurrent request, on any replica) and NotFound without the row.
	// A holder may claim again to extend its lease. It returns the
	// session as it is once claimed.
	ClaimUpload(ctx context.Context, id, holder string, until, now time.Time) (Upload, error)
	// ReleaseUpload stores u's target, blob session, state and expiry and
	// ends holder's lease, in one compare-and-swap: it fails with
	// apperr.Conflict if holder no longer holds the lease (it lapsed and
	// another request took it).
	ReleaseUpload(ctx context.Context, u *Upload, holder string) error
	DeleteUpload(ctx context.Context, id string) error
	// ListExpiredUploads lists sessions that expired before the given time.
	ListExpiredUploads(ctx context.Context, before time.Time) ([]Upload, error)
	// ListUploadsFor lists the sessions of one kind for one target, newest
	// first.
	ListUploadsFor(ctx context.Context, kind, target string) ([]Upload, error)
}
