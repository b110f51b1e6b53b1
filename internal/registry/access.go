package registry

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/library"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// Library is what the registry needs of the library service
// (*library.Service) for repositories named entity/collection/container, so
// that the library's rules (owner, frozen, auto-created collections,
// privacy) hold identically over OCI.
type Library interface {
	// ContainerForPull resolves path for a reader: NotFound when it is
	// missing or p may not see it.
	ContainerForPull(ctx context.Context, p auth.Principal, path string) (library.Ref, error)
	// ContainerForPush finds or creates the container for a push by p
	// inside tx, applying every library push rule.
	ContainerForPush(ctx context.Context, tx meta.Store, p auth.Principal, path string) (library.Ref, error)
	// AddImage registers a committed SIF blob as a library image of ref
	// with tags, inside tx.
	AddImage(ctx context.Context, tx meta.Store, p auth.Principal, ref library.Ref, blob digest.Digest, size int64, arch string, tags []string, manifestDigest string) (meta.Image, error)
}

// SetLibrary routes entity/collection/container names through lib. The
// registry is then also lib's Mirror (mirror.go); the composition sets
// both, before serving.
func (s *Service) SetLibrary(lib Library) { s.lib = lib }

// isLibrary reports whether name is a library container path.
func (s *Service) isLibrary(name string) bool {
	return s.lib != nil && len(oci.Components(name)) == 3
}

// readable returns the repository name if p may read it; ok is false when
// it does not exist or p may not see it (the two must look the same). A
// library container that has never had an OCI manifest has no row yet: it
// is returned with an empty ID, and every lookup in it finds nothing.
func (s *Service) readable(ctx context.Context, p auth.Principal, name string) (repo meta.Repository, ok bool, err error) {
	if s.isLibrary(name) {
		ref, err := s.lib.ContainerForPull(ctx, p, name)
		if apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Denied) || apperr.Is(err, apperr.Invalid) {
			return meta.Repository{}, false, nil
		}
		if err != nil {
			return meta.Repository{}, false, err
		}
		repo, err := s.meta.GetRepositoryByContainer(ctx, ref.Container.ID)
		if apperr.Is(err, apperr.NotFound) {
			return meta.Repository{Name: name, ContainerID: ref.Container.ID}, true, nil
		}
		return repo, err == nil, err
	}
	repo, err = s.meta.GetRepository(ctx, name)
	if apperr.Is(err, apperr.NotFound) {
		return meta.Repository{}, false, nil
	}
	if err != nil {
		return meta.Repository{}, false, err
	}
	if repo.ContainerID != "" && s.lib == nil {
		// A library container's privacy lives in the library; without it,
		// fail closed.
		return repo, p.IsAdmin(), nil
	}
	ok, err = s.canReadPlain(ctx, s.meta, p, repo)
	return repo, ok, err
}

// pullRepo authorizes a read of name. A repository the caller may not see
// is NAME_UNKNOWN, exactly like a missing one, so privacy does not leak;
// an anonymous caller is challenged instead, since credentials might help.
func (s *Service) pullRepo(ctx context.Context, c Caller, name string) (meta.Repository, error) {
	if !oci.ValidName(name) {
		return meta.Repository{}, oci.Errorf(oci.CodeNameInvalid, apperr.Invalid, "invalid repository name")
	}
	repo, ok, err := s.readable(ctx, c.Principal, name)
	if err != nil {
		return meta.Repository{}, err
	}
	scope := oci.RepositoryScope(name, oci.ActionPull)
	if !ok {
		if c.Anonymous() {
			return meta.Repository{}, oci.Unauthorized(scope, false)
		}
		return meta.Repository{}, oci.Errorf(oci.CodeNameUnknown, apperr.NotFound, "repository name not known to registry")
	}
	if !c.allows("repository", name, oci.ActionPull) {
		return meta.Repository{}, oci.Unauthorized(scope, true)
	}
	return repo, nil
}

// pushRepo authorizes a write (push or delete) of name inside tx and
// returns its repository, creating it (and, for library paths, whatever
// the library creates on push) when missing.
func (s *Service) pushRepo(ctx context.Context, tx meta.Store, c Caller, name, action string) (meta.Repository, error) {
	if !oci.ValidName(name) {
		return meta.Repository{}, oci.Errorf(oci.CodeNameInvalid, apperr.Invalid, "invalid repository name")
	}
	if c.Anonymous() {
		return meta.Repository{}, oci.Unauthorized(oci.RepositoryScope(name, oci.ActionPull, oci.ActionPush), false)
	}
	if !c.allows("repository", name, action) {
		actions := []string{oci.ActionPull, oci.ActionPush}
		if action == oci.ActionDelete {
			actions = append(actions, oci.ActionDelete)
		}
		return meta.Repository{}, oci.Unauthorized(oci.RepositoryScope(name, actions...), true)
	}
	if s.isLibrary(name) {
		return s.pushLibraryRepo(ctx, tx, c.Principal, name)
	}
	return s.pushPlainRepo(ctx, tx, c.Principal, name)
}

func (s *Service) pushLibraryRepo(ctx context.Context, tx meta.Store, p auth.Principal, name string) (meta.Repository, error) {
	ref, err := s.lib.ContainerForPush(ctx, tx, p, name)
	if err != nil {
		return meta.Repository{}, withDefaultCode(err)
	}
	return libraryRepo(ctx, tx, ref)
}

// libraryRepo returns the repository row of a library container, creating
// it on first use. A plain repository of the same name from before the
// library knew the container becomes the container's.
func libraryRepo(ctx context.Context, tx meta.Store, ref library.Ref) (meta.Repository, error) {
	repo, err := tx.GetRepositoryByContainer(ctx, ref.Container.ID)
	if !apperr.Is(err, apperr.NotFound) {
		return repo, err
	}
	if repo, err = tx.GetRepository(ctx, ref.Path()); err == nil {
		repo.ContainerID = ref.Container.ID
		return repo, tx.UpdateRepository(ctx, &repo)
	}
	repo = meta.Repository{Name: ref.Path(), ContainerID: ref.Container.ID, OwnerID: ref.Collection.OwnerID}
	return repo, tx.CreateRepository(ctx, &repo)
}

func (s *Service) pushPlainRepo(ctx context.Context, tx meta.Store, p auth.Principal, name string) (meta.Repository, error) {
	repo, err := tx.GetRepository(ctx, name)
	if apperr.Is(err, apperr.NotFound) {
		ok, err := s.mayWriteNamespace(ctx, tx, p, name)
		if err != nil {
			return meta.Repository{}, err
		}
		if !ok {
			return meta.Repository{}, oci.Errorf(oci.CodeDenied, apperr.Denied, "you may not create repositories in namespace %q", oci.Components(name)[0])
		}
		repo = meta.Repository{Name: name, OwnerID: p.UserID, Private: s.cfg.DefaultPrivate}
		return repo, tx.CreateRepository(ctx, &repo)
	}
	if err != nil {
		return meta.Repository{}, err
	}
	if ok, err := s.mayWritePlain(ctx, tx, p, repo); err != nil || ok {
		return repo, err
	}
	if ok, err := s.canReadPlain(ctx, tx, p, repo); err != nil || !ok {
		return meta.Repository{}, oci.Errorf(oci.CodeNameUnknown, apperr.NotFound, "repository name not known to registry")
	}
	return meta.Repository{}, oci.Errorf(oci.CodeDenied, apperr.Denied, "requested access to the resource is denied")
}

// mayWriteNamespace is the rule for plain repositories (docs/oci.md): the
// first component of the name is a namespace owned like a library entity.
// Admins and managers push anywhere; a user pushes under their own name
// and under entities they own.
func (s *Service) mayWriteNamespace(ctx context.Context, st meta.Store, p auth.Principal, name string) (bool, error) {
	if p.Anonymous() {
		return false, nil
	}
	if p.Role == meta.RoleAdmin || p.Role == meta.RoleManager {
		return true, nil
	}
	ns := oci.Components(name)[0]
	if ns == p.Name {
		return true, nil
	}
	ent, err := st.GetEntityByName(ctx, ns)
	if apperr.Is(err, apperr.NotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return ent.OwnerID != "" && ent.OwnerID == p.UserID, nil
}

// mayWritePlain: the namespace rule, or the repository's creator.
func (s *Service) mayWritePlain(ctx context.Context, st meta.Store, p auth.Principal, repo meta.Repository) (bool, error) {
	if !p.Anonymous() && repo.OwnerID == p.UserID {
		return true, nil
	}
	return s.mayWriteNamespace(ctx, st, p, repo.Name)
}

// canReadPlain: public repositories are readable by everyone; private ones
// by whoever may write them.
func (s *Service) canReadPlain(ctx context.Context, st meta.Store, p auth.Principal, repo meta.Repository) (bool, error) {
	if !repo.Private {
		return true, nil
	}
	return s.mayWritePlain(ctx, st, p, repo)
}

// manifestError is withDefaultCode for errors about a manifest's content
// (a SIF the library will not take): invalid input there is the
// manifest's fault, not the repository name's.
func manifestError(err error) error {
	if apperr.Is(err, apperr.Invalid) && oci.CodeOf(err) == "" {
		return oci.WithCode(oci.CodeManifestInvalid, err)
	}
	return withDefaultCode(err)
}

// withDefaultCode gives library errors the OCI code of their class.
func withDefaultCode(err error) error {
	if oci.CodeOf(err) != "" {
		return err
	}
	switch apperr.CodeOf(err) {
	case apperr.NotFound:
		return oci.WithCode(oci.CodeNameUnknown, err)
	case apperr.Denied, apperr.Conflict, apperr.Unauthenticated:
		return oci.WithCode(oci.CodeDenied, err)
	case apperr.Invalid:
		return oci.WithCode(oci.CodeNameInvalid, err)
	}
	return err
}
