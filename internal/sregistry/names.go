package sregistry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/bridge"
	"github.com/silo-hpc/silo/internal/meta"
)

// Names. sregistry names a container collection/container:tag; Silo names
// it entity/collection/container:tag. The entity comes from the path
// (/<entity>/api/..., what `shub://host/entity/collection/container`
// requests and a sregistry-cli base URL of https://host/entity gives), or,
// for the bare /api/... forms, from the configured default entity, or
// else from the collection's name: the one entity holding a collection of
// that name the caller may see. Several such entities are an error that
// names the full forms; none is "not found" (and, for a push, the
// caller's own entity, where the push rules may create it).

// ambiguous marks the error of a bare name that several entities hold:
// it is about names the caller may see, so it is never hidden behind the
// answer for a missing or private name.
type ambiguous struct{ error }

func (a ambiguous) Unwrap() error { return a.error }

func isAmbiguous(err error) bool {
	var a ambiguous
	return errors.As(err, &a)
}

// clean lowercases the names (Silo's names are lowercase, and Singularity
// sends them as typed, SR §7) and checks those that are set.
func clean(n Name) (Name, error) {
	n.Entity, n.Collection, n.Container = strings.ToLower(n.Entity), strings.ToLower(n.Collection), strings.ToLower(n.Container)
	for _, f := range []struct{ kind, name string }{{"entity", n.Entity}, {"collection", n.Collection}, {"container", n.Container}} {
		if f.name != "" {
			if err := bridge.CheckName(f.kind, f.name); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// normalize cleans a name that must have a collection and defaults its
// tag to latest.
func normalize(n Name) (Name, error) {
	n, err := clean(n)
	if err == nil && n.Collection == "" {
		err = bridge.CheckName("collection", "")
	}
	if n.Tag == "" {
		n.Tag = "latest"
	}
	return n, err
}

// viewerOf is the caller as the store sees it for privacy.
func viewerOf(p auth.Principal) meta.Viewer {
	return meta.Viewer{UserID: p.UserID, Admin: p.IsAdmin()}
}

// entityOf returns the entity a normalized name is in, for p. forPush
// makes a bare name no visible collection has the caller's own.
func (s *Service) entityOf(ctx context.Context, p auth.Principal, n Name, forPush bool) (string, error) {
	switch {
	case n.Entity != "":
		return n.Entity, nil
	case s.cfg.DefaultEntity != "":
		return s.cfg.DefaultEntity, nil
	}
	hits, err := s.meta.FindCollections(ctx, meta.CollectionQuery{Name: n.Collection, Viewer: viewerOf(p)})
	if err != nil {
		return "", err
	}
	switch {
	case len(hits) == 1:
		return hits[0].Entity.Name, nil
	case len(hits) > 1:
		return "", ambiguity(n, hits)
	case forPush && !p.Anonymous():
		return p.Name, nil
	}
	return "", bridge.NotFound("collection", n.Collection)
}

// ambiguity words the error of a bare name several entities hold, with
// the full forms that name one.
func ambiguity(n Name, hits []meta.CollectionHit) error {
	var ents []string
	for _, h := range hits {
		ents = append(ents, h.Entity.Name)
	}
	e := ents[0]
	return ambiguous{apperr.E(apperr.NotFound, apperr.Name,
		"collection name %q is ambiguous: entities %s each have one; name the entity: /%s/api/container/%s/%s (shub://HOST/%s/%s/%s, or sregistry-cli with base https://HOST/%s)",
		n.Collection, strings.Join(ents, ", "), e, n.Collection, orName(n.Container), e, n.Collection, orName(n.Container), e)}
}

func orName(c string) string {
	if c == "" {
		return "CONTAINER"
	}
	return c
}

// path is the Silo container path of a name in entity.
func path(entity string, n Name) string {
	return fmt.Sprintf("%s/%s/%s", entity, n.Collection, n.Container)
}
