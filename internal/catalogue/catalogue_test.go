package catalogue_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/silo-hpc/silo/internal/catalogue"
)

func open(t *testing.T, dir string) *catalogue.Catalogue {
	t.Helper()
	c, err := catalogue.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

const v1 = "1111111111111111111111111111111111111111111111111111111111111111"
const v2 = "1111222222222222222222222222222222222222222222222222222222222222"

func TestRecordUpdatesSameVersionAddsOthers(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cfg")
	c := open(t, dir)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("config dir: %v %v", fi, err)
	}
	n := catalogue.Name{Collection: "vanessa", Container: "tacos", Tag: "latest", Version: v1}
	e, created, err := c.Record(ctx, catalogue.Entry{Name: n, Client: "library", Image: "/a", URL: "u1"})
	if err != nil || !created || e.ID == 0 || e.CollectionID == 0 {
		t.Fatalf("first record: %+v %v %v", e, created, err)
	}
	e2, created, err := c.Record(ctx, catalogue.Entry{Name: n, Client: "oras", Image: "/b", URL: "u2", Metrics: []byte(`{"x":1}`)})
	if err != nil || created || e2.ID != e.ID || !e2.CreatedAt.Equal(e.CreatedAt) {
		t.Fatalf("same version: %+v %v %v", e2, created, err)
	}
	got, err := c.Get(ctx, catalogue.Name{Collection: "vanessa", Container: "tacos", Tag: "latest"})
	if err != nil || got.Image != "/b" || got.Client != "oras" || string(got.Metrics) != `{"x":1}` || got.URL != "u2" {
		t.Fatalf("updated entry: %+v %v", got, err)
	}
	n2 := n
	n2.Version = v2
	e3, created, err := c.Record(ctx, catalogue.Entry{Name: n2, Client: "library", Image: "/c"})
	if err != nil || !created || e3.ID == e.ID || e3.CollectionID != e.CollectionID {
		t.Fatalf("new version: %+v %v %v", e3, created, err)
	}
	// Without a version: the latest recorded; with a prefix: that one;
	// an ambiguous prefix is an error.
	for version, want := range map[string]string{"": "/c", v1: "/b", "11111": "/b", "11112": "/c"} {
		got, err := c.Get(ctx, catalogue.Name{Collection: "vanessa", Container: "tacos", Tag: "latest", Version: version})
		if err != nil || got.Image != want {
			t.Errorf("Get @%q = %q, %v; want %q", version, got.Image, err, want)
		}
	}
	if _, err := c.Get(ctx, catalogue.Name{Collection: "vanessa", Container: "tacos", Tag: "latest", Version: "111"}); err == nil ||
		!strings.Contains(err.Error(), "more than one version") {
		t.Errorf("ambiguous prefix: %v", err)
	}
	if _, err := c.Get(ctx, catalogue.Name{Collection: "vanessa", Container: "tacos", Tag: "other"}); !errors.Is(err, catalogue.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}

	// Reopening keeps everything (migrations run once).
	c.Close()
	c = open(t, dir)
	all, err := c.List(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("after reopen: %d %v", len(all), err)
	}
	if got := all[1].String(); got != "vanessa/tacos:latest@"+v2 {
		t.Errorf("String = %s", got)
	}
	for q, want := range map[string]int{"tacos": 2, "latest": 2, "vanessa/": 2, "@1111": 2, "@11112": 1, "pudding": 0, "%": 0, "_": 0} {
		got, err := c.List(ctx, q)
		if err != nil || len(got) != want {
			t.Errorf("List(%q) = %d, %v; want %d", q, len(got), err, want)
		}
	}
	if n, _ := c.Using(ctx, "/c"); n != 1 {
		t.Errorf("Using = %d", n)
	}
	if err := c.SetImage(ctx, e3.ID, "/d"); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	all, _ = c.List(ctx, "")
	if len(all) != 1 || all[0].Image != "/d" {
		t.Errorf("after remove: %+v", all)
	}
	if p := c.StoragePath(n2); p != filepath.Join(dir, "images", "vanessa", "tacos", "latest@"+v2+".sif") {
		t.Errorf("StoragePath = %s", p)
	}
}

// Two silo processes recording at once both succeed (the database's
// write lock is taken up front and waited for).
func TestConcurrentRecords(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, b := open(t, dir), open(t, dir)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		for _, c := range []*catalogue.Catalogue{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := c.Record(ctx, catalogue.Entry{Name: catalogue.Name{Collection: "c", Container: "n",
					Tag: "t", Version: strings.Repeat(string(rune('a'+i%6)), 64)}, Client: "library"})
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	all, _ := a.List(ctx, "")
	if len(all) != 6 {
		t.Errorf("%d entries, want 6", len(all))
	}
}
