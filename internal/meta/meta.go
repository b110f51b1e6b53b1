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

// Store is the whole metadata store.
type Store interface {
	Users
	Tokens
	Teams
	Namespaces
	Uploads
	Library
	OCI
	// InTx runs fn in one transaction: it commits if fn returns nil and
	// rolls back otherwise. Calls nest by joining the outer transaction.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	Close() error
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
	GetTokenByHash(ctx context.Context, hash string) (Token, error)
	GetToken(ctx context.Context, id string) (Token, error)
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
	AddTeamMember(ctx context.Context, teamID, userID string) error
	RemoveTeamMember(ctx context.Context, teamID, userID string) error
	ListTeamMembers(ctx context.Context, teamID string) ([]User, error)
	GrantCollection(ctx context.Context, collectionID, teamID string) error
	RevokeCollection(ctx context.Context, collectionID, teamID string) error
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
	ListEntities(ctx context.Context) ([]Entity, error)

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

// Upload is a server-side upload session. State is JSON owned by the
// service that created it (offsets, expected sizes, part lists).
type Upload struct {
	ID           string
	Kind         string // e.g. "oci", "library", "library-multipart"
	Target       string // what the upload is for: a repository or image id
	BlobUploadID string // the blob store session
	State        string
	UserID       string
	CreatedAt    time.Time
	ExpiresAt    time.Time
}

// Uploads stores upload sessions.
type Uploads interface {
	CreateUpload(ctx context.Context, u *Upload) error
	GetUpload(ctx context.Context, id string) (Upload, error)
	UpdateUpload(ctx context.Context, u *Upload) error
	// SwapUpload updates u only if its state is still prevState, so two
	// writers of one session (on different replicas) cannot both win:
	// the loser gets apperr.Conflict.
	SwapUpload(ctx context.Context, u *Upload, prevState string) error
	DeleteUpload(ctx context.Context, id string) error
	ListExpiredUploads(ctx context.Context, before time.Time) ([]Upload, error)
}
