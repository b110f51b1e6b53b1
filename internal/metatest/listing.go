package metatest

import (
	"context"
	"slices"
	"testing"

	"github.com/silo-hpc/silo/internal/meta"
)

// testFindContainers checks FindContainers: exact names, order by name,
// pages, and privacy decided by the store (against access.Checker).
func testFindContainers(t *testing.T, s meta.Store) {
	ctx := context.Background()
	cols, _, whos := privacyFixture(t, s)
	find := func(q meta.ContainerQuery) []string {
		t.Helper()
		hits, err := s.FindContainers(ctx, q)
		must(t, err)
		return containerNames(hits)
	}
	for _, who := range whos {
		v := meta.Viewer{UserID: who.p.UserID, Admin: who.p.IsAdmin()}
		var want []string // by name, as readable
		for _, name := range readable(t, s, who.p, cols) {
			want = append(want, name+"/widget-"+name[len("alice/"):])
		}
		wantNames(t, who.name, find(meta.ContainerQuery{Viewer: v}), want...)
		wantNames(t, who.name+", by entity", find(meta.ContainerQuery{Entity: "alice", Viewer: v}), want...)
		wantNames(t, who.name+", second page of two", find(meta.ContainerQuery{Viewer: v, Limit: 2, Offset: 2}), want[2:min(4, len(want))]...)
		// A private collection is missing to whoever may not read it.
		var closed []string
		if slices.Contains(want, "alice/closed/widget-closed") {
			closed = []string{"alice/closed/widget-closed"}
		}
		wantNames(t, who.name+", by collection", find(meta.ContainerQuery{Collection: "closed", Viewer: v}), closed...)
	}
	// Exact names, in any combination; names sort byte by byte.
	MkContainer(t, s, MkUser(t, s, "dave"), "dave", "open", "widget-open")
	MkContainer(t, s, MkUser(t, s, "ab"), "a-b", "open", "widget-open")
	wantNames(t, "by container", find(meta.ContainerQuery{Container: "widget-open", Viewer: admin}),
		"a-b/open/widget-open", "alice/open/widget-open", "dave/open/widget-open")
	wantNames(t, "not a pattern", find(meta.ContainerQuery{Container: "widget", Viewer: admin}))
	wantNames(t, "by collection and container", find(meta.ContainerQuery{Collection: "open", Container: "widget-open", Limit: 1,
		Offset: 1, Viewer: admin}), "alice/open/widget-open")
	wantNames(t, "all three", find(meta.ContainerQuery{Entity: "dave", Collection: "open", Container: "widget-open", Viewer: admin}),
		"dave/open/widget-open")
}
