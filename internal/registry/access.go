package registry

import (
	"context"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// The answers of authorization. A repository the caller may not see is
// answered exactly as a missing one, on every path: unknownRepo to a
// reader, pushDenied to a writer, and to an anonymous caller the
// challenge (which the transport builds from the route alone).
func invalidName() error {
	return apperr.E(apperr.Invalid, apperr.Name, "invalid repository name")
}

func unknownRepo() error {
	return apperr.E(apperr.NotFound, apperr.Repository, "repository name not known to registry")
}

func anonymous() error {
	return apperr.New(apperr.Unauthenticated, "authentication required")
}

func insufficientScope() error {
	return apperr.E(apperr.Unauthenticated, apperr.Scope, "insufficient scope")
}

func pushDenied(name string) error {
	return bridge.Denied("you may not push to %s", name)
}

// isLibrary reports whether name is a library container path.
func isLibrary(name string) bool { return len(oci.Components(name)) == 3 }

// readable returns the repository name if p may read it; ok is false when
// it does not exist or p may not see it (the two must look the same). A
// library container that has never had an OCI manifest has no row yet: it
// is returned with an empty ID, and every lookup in it finds nothing.
func (s *Service) readable(ctx context.Context, st Store, p auth.Principal, name string) (repo meta.Repository, ok bool, err error) {
	if isLibrary(name) {
		ref, err := s.bridge.ContainerForPull(ctx, st, p, name)
		if apperr.Is(err, apperr.NotFound) || apperr.Is(err, apperr.Invalid) {
			return meta.Repository{}, false, nil
		}
		if err != nil {
			return meta.Repository{}, false, err
		}
		repo, err := st.GetRepositoryByContainer(ctx, ref.Container.ID)
		if apperr.Is(err, apperr.NotFound) {
			return meta.Repository{Name: name, ContainerID: ref.Container.ID}, true, nil
		}
		return repo, err == nil, err
	}
	repo, err = st.GetRepository(ctx, name)
	if apperr.Is(err, apperr.NotFound) {
		return meta.Repository{}, false, nil
	}
	if err != nil {
		return meta.Repository{}, false, err
	}
	ok, err = s.canReadPlain(ctx, st, p, repo)
	return repo, ok, err
}

// pull authorizes a read of name. The rules come first, then the token's
// scope: what the caller may not see is NAME_UNKNOWN (missing and private
// alike), and only a caller who may read gets the challenge to fetch a
// token for it.
func (s *Service) pull(ctx context.Context, st Store, c Caller, name string) (meta.Repository, error) {
	if !oci.ValidName(name) {
		return meta.Repository{}, invalidName()
	}
	repo, ok, err := s.readable(ctx, st, c.Principal, name)
	if err != nil {
		return meta.Repository{}, err
	}
	return repo, readAnswer(c, name, ok)
}

// readAnswer turns a read decision into its answer.
func readAnswer(c Caller, name string, ok bool) error {
	switch {
	case !ok && c.Anonymous():
		// Credentials might help; the same for missing and private.
		return anonymous()
	case !ok:
		return unknownRepo()
	case !c.Allows("repository", name, oci.ActionPull):
		return insufficientScope()
	}
	return nil
}

// canRead decides a read of a repository row found by name: a library
// container's collection decides (the bridge's rule: its privacy, its
// owner, granted teams), a plain repository its own flag and the
// namespace rule. It is readable's decision from a row already read.
func (s *Service) canRead(ctx context.Context, st Store, p auth.Principal, repo meta.Repository, col meta.Collection) (bool, error) {
	if repo.ContainerID == "" {
		return s.canReadPlain(ctx, st, p, repo)
	}
	if col.ID == "" {
		return p.IsAdmin(), nil // a container without its collection: fail closed
	}
	return s.bridge.Access().CanReadCollection(ctx, st, p, col)
}

// target is where a write goes: the repository (ID "" while it does not
// exist) and, for a library path, the container.
type target struct {
	repo meta.Repository
	ref  bridge.Ref
}

// library reports whether the target is a library container.
func (t target) library() bool { return t.repo.ContainerID != "" || t.ref.Container.Name != "" }

// push authorizes a write (push or delete) of name. Without create it only
// decides, writing nothing: what a request does before its first byte is
// accepted (and the token service, to grant). With create it makes what
// the write needs inside tx: the repository row and, for a library path,
// the entity, collection and container the library rules allow.
func (s *Service) push(ctx context.Context, st Store, c Caller, name, action string, create bool) (target, error) {
	if !oci.ValidName(name) {
		return target{}, invalidName()
	}
	if c.Anonymous() {
		return target{}, anonymous()
	}
	var t target
	var err error
	if isLibrary(name) {
		t, err = s.pushLibrary(ctx, st, c.Principal, name, create)
	} else {
		t.repo, err = s.pushPlain(ctx, st, c.Principal, name, create)
	}
	// The rules first (one refusal for private and missing), then the
	// token: a caller who may write is told to fetch a token that says so.
	if err == nil && !c.Allows("repository", name, action) {
		err = insufficientScope()
	}
	return t, err
}

func (s *Service) pushLibrary(ctx context.Context, st Store, p auth.Principal, name string, create bool) (target, error) {
	ref, err := s.bridge.ContainerForPush(ctx, st, p, name, create)
	if err != nil {
		return target{}, err
	}
	t := target{ref: ref, repo: meta.Repository{Name: name, ContainerID: ref.Container.ID}}
	switch {
	case create:
		t.repo, err = bridge.LibraryRepo(ctx, st, ref)
	case ref.Container.ID != "":
		t.repo, err = st.GetRepositoryByContainer(ctx, ref.Container.ID)
		if apperr.Is(err, apperr.NotFound) {
			t.repo, err = meta.Repository{Name: name, ContainerID: ref.Container.ID}, nil
		}
	}
	return t, err
}

// pushPlain applies the namespace rule to a plain repository.
func (s *Service) pushPlain(ctx context.Context, st Store, p auth.Principal, name string, create bool) (meta.Repository, error) {
	repo, err := st.GetRepository(ctx, name)
	if apperr.Is(err, apperr.NotFound) {
		ok, err := s.mayWriteNamespace(ctx, st, p, name)
		if err != nil {
			return meta.Repository{}, err
		}
		if !ok {
			return meta.Repository{}, pushDenied(name)
		}
		rules, err := s.bridge.Rules(ctx, st)
		if err != nil {
			return meta.Repository{}, err
		}
		repo = meta.Repository{Name: name, OwnerID: p.UserID, Private: rules.Policy.DefaultPrivate}
		if create {
			err = st.CreateRepository(ctx, &repo)
			if apperr.Is(err, apperr.Conflict) {
				err = meta.ErrLostRace
			}
		}
		return repo, err
	}
	if err != nil {
		return meta.Repository{}, err
	}
	if ok, err := s.mayWritePlain(ctx, st, p, repo); err != nil || !ok {
		return meta.Repository{}, firstErr(err, pushDenied(name))
	}
	return repo, nil
}

// firstErr returns err when set, else alt.
func firstErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// mayWriteNamespace is the rule for plain repositories (docs/oci.md): the
// first component of the name is a namespace owned like a library entity.
// Admins and managers push anywhere; a user pushes under their own name
// and under entities they own.
func (s *Service) mayWriteNamespace(ctx context.Context, st Store, p auth.Principal, name string) (bool, error) {
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
func (s *Service) mayWritePlain(ctx context.Context, st Store, p auth.Principal, repo meta.Repository) (bool, error) {
	if !p.Anonymous() && repo.OwnerID == p.UserID {
		return true, nil
	}
	return s.mayWriteNamespace(ctx, st, p, repo.Name)
}

// canReadPlain: public repositories are readable by everyone; private ones
// by whoever may write them. A library container's row is only ever read
// through the bridge (readable); a row found here for one fails closed.
func (s *Service) canReadPlain(ctx context.Context, st Store, p auth.Principal, repo meta.Repository) (bool, error) {
	if repo.ContainerID != "" {
		return p.IsAdmin(), nil
	}
	if !repo.Private {
		return true, nil
	}
	return s.mayWritePlain(ctx, st, p, repo)
}

// Rights lists the actions p may take on repository name, asking the same
// rules the requests use, in one read-only snapshot and writing nothing:
// what the token service grants.
func (s *Service) Rights(ctx context.Context, p auth.Principal, name string) ([]string, error) {
	var may []string
	err := s.view(ctx, func(st Store) error {
		c := Caller{Principal: p}
		if _, err := s.pull(ctx, st, c, name); err == nil {
			may = append(may, oci.ActionPull)
		} else if !refusal(err) {
			return err
		}
		if p.Anonymous() {
			return nil
		}
		if _, err := s.push(ctx, st, c, name, oci.ActionPush, false); err == nil {
			if len(may) == 0 { // a writer may read what it writes
				may = append(may, oci.ActionPull)
			}
			may = append(may, oci.ActionPush, oci.ActionDelete)
		} else if !refusal(err) {
			return err
		}
		return nil
	})
	return may, err
}

// refusal reports errors that mean "not allowed" rather than failure.
func refusal(err error) bool {
	switch apperr.CodeOf(err) {
	case apperr.Denied, apperr.NotFound, apperr.Conflict, apperr.Invalid, apperr.Unauthenticated:
		return true
	}
	return false
}
