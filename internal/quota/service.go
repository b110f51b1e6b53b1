package quota

import (
	"context"
	"strings"

	"github.com/silo-hpc/silo/internal/access"
	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/meta"
)

// ServiceStore is what quota administration needs of the metadata store.
type ServiceStore interface {
	Store
	GetUser(ctx context.Context, id string) (meta.User, error)
	GetUserByName(ctx context.Context, name string) (meta.User, error)
	GetEntity(ctx context.Context, id string) (meta.Entity, error)
	GetEntityByName(ctx context.Context, name string) (meta.Entity, error)
	GetCollection(ctx context.Context, id string) (meta.Collection, error)
	GetCollectionByName(ctx context.Context, entityID, name string) (meta.Collection, error)
	access.Grants
}

// Service sets and shows quotas by name, for admins (set, list, show
// anyone's) and users (show their own, and their collections').
type Service struct {
	meta   ServiceStore
	access access.Checker
}

// NewService returns the quota administration service.
func NewService(ms ServiceStore, ac access.Checker) *Service {
	return &Service{meta: ms, access: ac}
}

// Report is a quota as the JSON API and the CLI show it.
type Report struct {
	Kind  string `json:"kind"`  // "user" or "collection"
	Name  string `json:"name"`  // a user name, or "entity/collection"
	Limit int64  `json:"limit"` // bytes; 0 means unlimited
	Usage int64  `json:"usage"` // bytes held
}

func denied() error {
	return apperr.E(apperr.Denied, apperr.Quota, "permission denied: only administrators set quotas")
}

// resolve finds the subject of kind named name that p may see: a user
// sees itself, an admin everyone; a collection is seen by those who may
// write to it, and one p may not read is missing, like one that is not
// there.
func (s *Service) resolve(ctx context.Context, p auth.Principal, kind, name string) (string, error) {
	switch kind {
	case meta.QuotaUser:
		u, err := s.meta.GetUserByName(ctx, name)
		if apperr.Is(err, apperr.NotFound) {
			return "", apperr.New(apperr.NotFound, "user %s not found", name)
		}
		if err == nil && !p.IsAdmin() && p.UserID != u.ID {
			err = apperr.E(apperr.Denied, apperr.Quota, "permission denied: you may see your own quota only")
		}
		return u.ID, err
	case meta.QuotaCollection:
		col, err := s.collection(ctx, p, name)
		if err == nil && !s.access.CanWriteCollection(p, col) {
			err = apperr.E(apperr.Denied, apperr.Quota, "permission denied: only the collection's owner sees its quota")
		}
		return col.ID, err
	}
	return "", apperr.New(apperr.Invalid, "unknown quota kind %q: want user or collection", kind)
}

func (s *Service) collection(ctx context.Context, p auth.Principal, path string) (meta.Collection, error) {
	missing := apperr.New(apperr.NotFound, "collection %s not found", path)
	ent, name, ok := strings.Cut(path, "/")
	if !ok || strings.Contains(name, "/") {
		return meta.Collection{}, apperr.New(apperr.Invalid, "collection %q: want entity/collection", path)
	}
	e, err := s.meta.GetEntityByName(ctx, ent)
	if apperr.Is(err, apperr.NotFound) {
		return meta.Collection{}, missing
	}
	if err != nil {
		return meta.Collection{}, err
	}
	col, err := s.meta.GetCollectionByName(ctx, e.ID, name)
	if apperr.Is(err, apperr.NotFound) {
		return col, missing
	}
	if err != nil {
		return col, err
	}
	if ok, err := s.access.CanReadCollection(ctx, s.meta, p, col); err != nil || !ok {
		return col, firstErr(err, missing)
	}
	return col, nil
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// Show returns the quota and usage of the user or collection name.
func (s *Service) Show(ctx context.Context, p auth.Principal, kind, name string) (Report, error) {
	if p.Anonymous() {
		return Report{}, apperr.New(apperr.Unauthenticated, "authentication required: log in with a token")
	}
	id, err := s.resolve(ctx, p, kind, name)
	if err != nil {
		return Report{}, err
	}
	u, err := UsageOf(ctx, s.meta, kind, id)
	return Report{Kind: kind, Name: name, Limit: u.Limit, Usage: u.Used}, err
}

// Mine returns the caller's own quota.
func (s *Service) Mine(ctx context.Context, p auth.Principal) (Report, error) {
	return s.Show(ctx, p, meta.QuotaUser, p.Name)
}

// Set sets (limit > 0) or removes (0) a quota; admins only. Usage above a
// new limit stays: later pushes are refused until usage falls below it.
func (s *Service) Set(ctx context.Context, p auth.Principal, kind, name string, limit int64) (Report, error) {
	if !p.IsAdmin() {
		return Report{}, denied()
	}
	if limit < 0 {
		return Report{}, apperr.New(apperr.Invalid, "a quota cannot be negative")
	}
	id, err := s.resolve(ctx, p, kind, name)
	if err != nil {
		return Report{}, err
	}
	if err := s.meta.SetQuota(ctx, &meta.Quota{Kind: kind, SubjectID: id, Limit: limit}); err != nil {
		return Report{}, err
	}
	return s.Show(ctx, p, kind, name)
}

// List returns every quota set; admins only.
func (s *Service) List(ctx context.Context, p auth.Principal) ([]Report, error) {
	if !p.IsAdmin() {
		return nil, denied()
	}
	qs, err := s.meta.ListQuotas(ctx)
	if err != nil {
		return nil, err
	}
	out := []Report{}
	for _, q := range qs {
		name, err := s.nameOf(ctx, q)
		if apperr.Is(err, apperr.NotFound) {
			continue // its user or collection was deleted
		}
		if err != nil {
			return nil, err
		}
		used, err := s.meta.QuotaUsage(ctx, q.Kind, q.SubjectID)
		if err != nil {
			return nil, err
		}
		out = append(out, Report{Kind: q.Kind, Name: name, Limit: q.Limit, Usage: used})
	}
	return out, nil
}

func (s *Service) nameOf(ctx context.Context, q meta.Quota) (string, error) {
	if q.Kind == meta.QuotaUser {
		u, err := s.meta.GetUser(ctx, q.SubjectID)
		return u.Name, err
	}
	col, err := s.meta.GetCollection(ctx, q.SubjectID)
	if err != nil {
		return "", err
	}
	e, err := s.meta.GetEntity(ctx, col.EntityID)
	return e.Name + "/" + col.Name, err
}
