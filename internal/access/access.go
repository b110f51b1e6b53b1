// Package access holds the rules for who may see and change library
// namespaces. The library and registry services both ask it, so a rule
// holds identically over the Library API and OCI.
package access

import (
	"context"
	"strconv"

	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// Policy is the server-wide part of the rules (from configuration).
type Policy struct {
	// UserCollections lets users create collections in their own entity.
	UserCollections bool
	// DefaultPrivate is the privacy of collections created implicitly.
	DefaultPrivate bool
}

// The settings an administrator may change while the server runs
// (meta.Settings keys); the configuration gives their defaults.
const (
	SettingUserCollections = "user_collections"
	SettingDefaultPrivate  = "default_private"
)

// With returns p with the stored settings over it: a setting that is
// stored (and reads as a boolean) wins over the configuration's value.
// Every rule that reads the policy reads it through here, so a change
// counts from the next request on every replica.
func (p Policy) With(stored map[string]string) Policy {
	set := func(key string, field *bool) {
		if b, err := strconv.ParseBool(stored[key]); err == nil {
			*field = b
		}
	}
	set(SettingUserCollections, &p.UserCollections)
	set(SettingDefaultPrivate, &p.DefaultPrivate)
	return p
}

// Checker answers access questions against the metadata store.
type Checker struct {
	Policy Policy
}

// Grants answers whether a user is in a team granted pull on a
// collection.
type Grants interface {
	IsCollectionReader(ctx context.Context, collectionID, userID string) (bool, error)
}

// CanReadCollection: public collections are readable by everyone;
// private ones by their owner, admins and members of granted teams.
func (c Checker) CanReadCollection(ctx context.Context, s Grants, p auth.Principal, col meta.Collection) (bool, error) {
	if !col.Private || p.IsAdmin() || (!p.Anonymous() && col.OwnerID == p.UserID) {
		return true, nil
	}
	if p.Anonymous() {
		return false, nil
	}
	return s.IsCollectionReader(ctx, col.ID, p.UserID)
}

// CanWriteCollection: only the owner and admins push, tag, freeze and
// delete. Team members (collaborators) may pull but not push (seed 003).
func (c Checker) CanWriteCollection(p auth.Principal, col meta.Collection) bool {
	return p.IsAdmin() || (!p.Anonymous() && col.OwnerID == p.UserID)
}

// CanCreateEntity: users get the entity named after themselves; managers
// and admins may create any.
func (c Checker) CanCreateEntity(p auth.Principal, name string) bool {
	if p.Anonymous() {
		return false
	}
	return p.Role == meta.RoleAdmin || p.Role == meta.RoleManager || name == p.Name
}

// CanCreateCollection: managers and admins anywhere; users in their own
// entity unless the server disables user collections.
func (c Checker) CanCreateCollection(p auth.Principal, ent meta.Entity) bool {
	if p.Anonymous() {
		return false
	}
	if p.Role == meta.RoleAdmin || p.Role == meta.RoleManager {
		return true
	}
	return c.Policy.UserCollections && ent.OwnerID == p.UserID
}
