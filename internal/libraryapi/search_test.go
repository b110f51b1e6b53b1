package libraryapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/silo-hpc/silo/internal/meta"
)

// searchNames runs GET /v1/search and returns the containers' names.
func (e *env) searchNames(query, token string) []string {
	e.t.Helper()
	st, b := e.do("GET", "/v1/search?"+query, token, nil)
	if st != http.StatusOK {
		e.t.Fatalf("search %s: %d %s", query, st, b)
	}
	var res struct {
		Data struct {
			Container []struct{ Name string } `json:"container"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, c := range res.Data.Container {
		names = append(names, c.Name)
	}
	return names
}

// mkContainers creates containers entity/collection/prefix-NNNN in one
// transaction, in a new entity and collection of owner's.
func (e *env) mkContainers(owner, entity, collection, prefix string, n int, private bool) meta.Collection {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.srv.Meta.GetUserByName(ctx, owner)
	must(e.t, err)
	var col meta.Collection
	must(e.t, e.srv.Meta.InTx(ctx, func(tx meta.Store) error {
		ent := meta.Entity{Name: entity, OwnerID: u.ID}
		must(e.t, tx.CreateEntity(ctx, &ent))
		col = meta.Collection{EntityID: ent.ID, Name: collection, OwnerID: u.ID, Private: private}
		must(e.t, tx.CreateCollection(ctx, &col))
		for i := range n {
			must(e.t, tx.CreateContainer(ctx, &meta.Container{CollectionID: col.ID, Name: fmt.Sprintf("%s-%04d", prefix, i)}))
		}
		return nil
	}))
	return col
}

// TestSearchHiddenHits: a caller who may see a few private hits gets all
// of them, however many hits it may not see come before them (newer).
func TestSearchHiddenHits(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.user("carol", meta.RoleUser)
	e.user("mallory", meta.RoleUser)
	col := e.mkContainers("alice", "zed", "shared", "needle", 5, true)
	e.mkContainers("mallory", "aaron", "vault", "needle", 1500, true)
	team := meta.Team{Name: "lab"}
	must(t, e.srv.Meta.CreateTeam(ctx, &team))
	carol, err := e.srv.Meta.GetUserByName(ctx, "carol")
	must(t, err)
	must(t, e.srv.Meta.AddTeamMember(ctx, team.ID, carol.ID))
	must(t, e.srv.Meta.GrantCollection(ctx, col.ID, team.ID))

	res, err := e.client("carol").Search(ctx, map[string]string{"value": "needle", "arch": "amd64"})
	must(t, err)
	if len(res.Containers) != 5 || res.Containers[0].Name != "needle-0004" || res.Containers[4].Name != "needle-0000" {
		t.Fatalf("carol's hits: %+v", res.Containers)
	}
	if n := len(e.searchNames("value=needle", "")); n != 0 {
		t.Fatalf("anonymous sees %d private containers", n)
	}
	if n := len(e.searchNames("value=needle", e.tokens["root"])); n != 200 {
		t.Fatalf("admin got %d, want the first 200", n)
	}
}

// TestSearchParameters: the value must be three characters or more; page
// and limit page each kind.
func TestSearchParameters(t *testing.T) {
	e := newEnv(t)
	e.mkContainers("alice", "alice", "tools", "page", 5, false)
	for _, q := range []string{"value=", "value=ab", "value=%20ab%20", "value=page&limit=0", "value=page&limit=201",
		"value=page&limit=x", "value=page&page=0", "value=page&page=-1", "value=page&page=1001", "value=page&arch=AMD%2064"} {
		st, b := e.do("GET", "/v1/search?"+q, "", nil)
		msg := wantError(t, st, b, http.StatusBadRequest)
		if strings.HasPrefix(q, "value=ab") && !strings.Contains(msg, "at least 3 characters") {
			t.Errorf("%s: %q", q, msg)
		}
	}
	for _, tc := range []struct{ query, want string }{
		{"value=page", "page-0004 page-0003 page-0002 page-0001 page-0000"},
		{"value=PAG", "page-0004 page-0003 page-0002 page-0001 page-0000"},
		{"value=page&limit=2", "page-0004 page-0003"},
		{"value=page&limit=2&page=2", "page-0002 page-0001"},
		{"value=page&limit=2&page=3", "page-0000"},
		{"value=page&limit=2&page=4", ""},
		{"value=page&page=1", "page-0004 page-0003 page-0002 page-0001 page-0000"},
		{"value=e-0003", "page-0003"},
	} {
		if got := strings.Join(e.searchNames(tc.query, ""), " "); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.query, got, tc.want)
		}
	}
}
