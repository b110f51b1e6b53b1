package libraryapi_test

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/silo-hpc/silo/internal/meta"
)

type listed struct {
	Entity, Collection, Container string
	Private, Frozen               bool
	Tags                          []struct{ Tag, Arch, ImageID string }
	Images                        []struct {
		ID, Hash string
		Size     int64
		Tags     []string
	}
}

func (e *env) list(user, query string) (int, []listed) {
	e.t.Helper()
	var out []listed
	st, _ := e.doJSON("GET", "/v1/containers"+query, e.tokens[user], nil, &out)
	return st, out
}

func names(ls []listed) []string {
	var out []string
	for _, l := range ls {
		out = append(out, l.Entity+"/"+l.Collection+"/"+l.Container)
	}
	return out
}

// GET /v1/containers (a Silo addition for `silo list` and `silo search`):
// visible containers with their tags and images, by exact names, paged;
// a private collection is missing to those who may not read it, named or
// not, exactly as a missing one.
func TestListContainers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := e.client("alice")
	alice.mustPush(t, makeSIF(t, "amd64", 1000, 1), "alice/dinosaur/avocado", "amd64", "delicious", "whatinthe")
	alice.mustPush(t, makeSIF(t, "arm64", 1000, 2), "alice/dinosaur/avocado", "arm64", "delicious")
	alice.mustPush(t, makeSIF(t, "amd64", 1000, 3), "alice/dinosaur/tacos", "amd64", "latest")
	alice.mustPush(t, makeSIF(t, "amd64", 1000, 4), "alice/hidden/avocado", "amd64", "latest")
	e.client("bob").mustPush(t, makeSIF(t, "amd64", 1000, 5), "bob/meowmeow/avocado", "amd64", "nomnomnom")
	var col struct{ ID string }
	e.doJSON("GET", "/v1/collections/alice/hidden", e.tokens["alice"], nil, &col)
	if st, b := e.doJSON("PUT", "/v1/collections/"+col.ID, e.tokens["alice"], `{"private":true}`, nil); st != http.StatusOK {
		t.Fatalf("private: %d %s", st, b)
	}

	for _, c := range []struct {
		user, query string
		want        []string
	}{
		{"", "", []string{"alice/dinosaur/avocado", "alice/dinosaur/tacos", "bob/meowmeow/avocado"}},
		{"alice", "", []string{"alice/dinosaur/avocado", "alice/dinosaur/tacos", "alice/hidden/avocado", "bob/meowmeow/avocado"}},
		{"root", "?container=avocado", []string{"alice/dinosaur/avocado", "alice/hidden/avocado", "bob/meowmeow/avocado"}},
		{"bob", "?container=avocado", []string{"alice/dinosaur/avocado", "bob/meowmeow/avocado"}},
		{"bob", "?container=avo", nil},
		{"", "?entity=alice&collection=dinosaur", []string{"alice/dinosaur/avocado", "alice/dinosaur/tacos"}},
		{"", "?entity=alice&collection=dinosaur&container=tacos", []string{"alice/dinosaur/tacos"}},
		{"", "?collection=meowmeow", []string{"bob/meowmeow/avocado"}},
		{"", "?entity=alice", []string{"alice/dinosaur/avocado", "alice/dinosaur/tacos"}},
		{"alice", "?limit=2&page=2", []string{"alice/hidden/avocado", "bob/meowmeow/avocado"}},
		{"alice", "?entity=alice&collection=dinosaur&limit=1&page=2", []string{"alice/dinosaur/tacos"}},
		{"", "?limit=2&page=3", nil},
	} {
		st, got := e.list(c.user, c.query)
		if st != http.StatusOK || !reflect.DeepEqual(names(got), c.want) {
			t.Errorf("%q %s: %d %q, want %q", c.user, c.query, st, names(got), c.want)
		}
	}

	// Tags and images: every (tag, arch), each image with its tags.
	_, got := e.list("", "?entity=alice&collection=dinosaur&container=avocado")
	if len(got) != 1 || len(got[0].Tags) != 3 || len(got[0].Images) != 2 || got[0].Frozen || got[0].Private {
		t.Fatalf("avocado: %+v", got)
	}
	for _, img := range got[0].Images {
		if len(img.Tags) == 0 || img.Size <= 0 || len(img.Hash) != len("sha256.")+64 {
			t.Errorf("image %+v", img)
		}
	}

	// A private collection named is 404 for others, as a missing one.
	for _, user := range []string{"", "bob"} {
		for _, q := range []string{"?entity=alice&collection=hidden", "?entity=alice&collection=nothing"} {
			st, b := e.do("GET", "/v1/containers"+q, e.tokens[user], nil)
			wantError(t, st, b, http.StatusNotFound)
		}
	}
	// A team granted the collection sees it.
	e.user("carol", meta.RoleUser)
	team := meta.Team{Name: "lab"}
	must(t, e.srv.Meta.CreateTeam(ctx, &team))
	carol, _ := e.srv.Meta.GetUserByName(ctx, "carol")
	must(t, e.srv.Meta.AddTeamMember(ctx, team.ID, carol.ID))
	must(t, e.srv.Meta.GrantCollection(ctx, col.ID, team.ID))
	if _, got := e.list("carol", "?entity=alice&collection=hidden"); fmt.Sprint(names(got)) != "[alice/hidden/avocado]" {
		t.Errorf("carol: %q", names(got))
	}

	for _, q := range []string{"?limit=0", "?limit=201", "?page=0", "?page=x", "?entity=Bad_Name", "?container=a/b"} {
		st, b := e.do("GET", "/v1/containers"+q, "", nil)
		wantError(t, st, b, http.StatusBadRequest)
	}
}
