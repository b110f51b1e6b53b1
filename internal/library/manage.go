package library

import (
	"context"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
)

// What owners do to their collections besides pushing (the web UI and
// the JSON API ask): delete tags, containers and collections, grant
// teams pull, and what the home page lists.

// grantStore is what granting teams needs of the metadata store.
type grantStore interface {
	GetTeamByName(ctx context.Context, name string) (meta.Team, error)
	GrantCollection(ctx context.Context, collectionID, teamID string) error
	RevokeCollection(ctx context.Context, collectionID, teamID string) error
	ListCollectionTeams(ctx context.Context, collectionID string) ([]meta.Team, error)
}

// DeleteTag removes a tag of one architecture ("" for an
// architecture-less tag) from a container: owners and admins, never in a
// frozen container.
func (s *Service) DeleteTag(ctx context.Context, p auth.Principal, containerID, tag, arch string) error {
	if err := bridge.CheckArch(arch); err != nil {
		return err
	}
	return s.tx(ctx, func(tx Store) error {
		ref, err := s.bridge.ContainerByID(ctx, tx, p, containerID)
		if err != nil {
			return err
		}
		if err := s.bridge.Writable(ctx, tx, p, ref); err != nil {
			return err
		}
		return s.bridge.DeleteTag(ctx, tx, ref, arch, tag)
	})
}

// DeleteContainer deletes a container with its images and tags: owners
// and admins, never a frozen one.
func (s *Service) DeleteContainer(ctx context.Context, p auth.Principal, containerID string) error {
	var gone []meta.Image
	err := s.tx(ctx, func(tx Store) error {
		ref, err := s.bridge.ContainerByID(ctx, tx, p, containerID)
		if err != nil {
			return err
		}
		if err := s.bridge.Writable(ctx, tx, p, ref); err != nil {
			return err
		}
		gone, err = s.bridge.DeleteContainer(ctx, tx, ref)
		return err
	})
	s.dropSessionsOf(ctx, gone, err)
	return err
}

// DeleteCollection deletes a collection and everything in it: owners and
// admins, never one holding a frozen container.
func (s *Service) DeleteCollection(ctx context.Context, p auth.Principal, collectionID string) error {
	var gone []meta.Image
	err := s.tx(ctx, func(tx Store) error {
		ref, err := s.writableCollection(ctx, tx, p, collectionID)
		if err != nil {
			return err
		}
		gone, err = s.bridge.DeleteCollection(ctx, tx, ref)
		return err
	})
	s.dropSessionsOf(ctx, gone, err)
	return err
}

// dropSessionsOf ends the upload sessions of deleted images: they could
// never complete.
func (s *Service) dropSessionsOf(ctx context.Context, imgs []meta.Image, err error) {
	if err != nil {
		return
	}
	for _, img := range imgs {
		if !img.Uploaded {
			s.dropImageSessions(ctx, img.ID, "")
		}
	}
}

// writableCollection loads a collection p may change; one p may not see
// is NotFound under the id asked for.
func (s *Service) writableCollection(ctx context.Context, st Store, p auth.Principal, id string) (Ref, error) {
	ref, err := s.bridge.CollectionByID(ctx, st, id)
	if err != nil {
		return ref, err
	}
	if err := s.bridge.Readable(ctx, st, p, ref.Collection, id); err != nil {
		return ref, err
	}
	return ref, s.bridge.Writable(ctx, st, p, ref)
}

// CollectionTeams lists the teams granted pull on a collection: its
// owner and admins (others get the owner-only refusal, or NotFound when
// they may not see it).
func (s *Service) CollectionTeams(ctx context.Context, p auth.Principal, collectionID string) ([]meta.Team, error) {
	var teams []meta.Team
	if err := bridge.RequireUser(p); err != nil {
		return nil, err
	}
	err := s.view(ctx, func(st Store) error {
		ref, err := s.writableCollection(ctx, st, p, collectionID)
		if err != nil {
			return err
		}
		teams, err = st.ListCollectionTeams(ctx, ref.Collection.ID)
		return err
	})
	return teams, err
}

// SetGrant grants (or, with grant false, revokes) a team pull on a
// collection: its owner and admins. Members then pull it through every
// protocol and find it in searches; they never push (access.Checker).
func (s *Service) SetGrant(ctx context.Context, p auth.Principal, collectionID, team string, grant bool) error {
	if err := bridge.RequireUser(p); err != nil {
		return err
	}
	return s.tx(ctx, func(tx Store) error {
		ref, err := s.writableCollection(ctx, tx, p, collectionID)
		if err != nil {
			return err
		}
		t, err := tx.GetTeamByName(ctx, team)
		if apperr.Is(err, apperr.NotFound) {
			return apperr.New(apperr.NotFound, "team %s not found", team)
		}
		if err != nil {
			return err
		}
		if grant {
			return tx.GrantCollection(ctx, ref.Collection.ID, t.ID)
		}
		err = tx.RevokeCollection(ctx, ref.Collection.ID, t.ID)
		if apperr.Is(err, apperr.NotFound) {
			return apperr.New(apperr.NotFound, "team %s has no grant on %s/%s", team, ref.Entity.Name, ref.Collection.Name)
		}
		return err
	})
}

// RecentLimit is the most images Recent lists.
const RecentLimit = 100

// Recent lists the images pushed (or changed) last that the caller may
// read, newest first.
func (s *Service) Recent(ctx context.Context, p auth.Principal, limit int) ([]ImageInfo, error) {
	if limit <= 0 || limit > RecentLimit {
		limit = RecentLimit
	}
	hits, err := s.meta.RecentImages(ctx, viewerOf(p), limit)
	var out []ImageInfo
	for _, h := range hits {
		out = append(out, ImageInfo{Ref: Ref{Entity: h.Entity, Collection: h.Collection, Container: h.Container},
			Image: h.Image, Tags: h.Tags})
	}
	return out, err
}

// MayWrite reports whether p may change col (push, tag, freeze, delete,
// grant): for showing owner actions; every action checks again.
func (s *Service) MayWrite(p auth.Principal, col meta.Collection) bool {
	return s.access.CanWriteCollection(p, col)
}
