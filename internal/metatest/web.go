package metatest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// testWeb checks what the web UI and the account API added to the store:
// browser sessions, failed log-ins, settings, team listings, tag deletes
// and recent pushes.
func testWeb(t *testing.T, newStore NewStore) {
	t.Run("sessions", func(t *testing.T) { testSessions(t, newStore(t)) })
	t.Run("login-failures", func(t *testing.T) { testLoginFailures(t, newStore(t)) })
	t.Run("settings", func(t *testing.T) { testSettings(t, newStore(t)) })
	t.Run("team-listings", func(t *testing.T) { testTeamListings(t, newStore(t)) })
	t.Run("delete-tag", func(t *testing.T) { testDeleteLibraryTag(t, newStore(t)) })
	t.Run("recent", func(t *testing.T) { testRecentImages(t, newStore(t)) })
	t.Run("recent-privacy", func(t *testing.T) { testRecentPrivacy(t, newStore(t)) })
	t.Run("downloads", func(t *testing.T) { testDownloads(t, newStore(t)) })
}

func testDownloads(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, _, con := MkContainer(t, s, alice, "alice", "tools", "app")
	img := mkImage(t, s, con, digestA, "amd64", 1)
	other := mkImage(t, s, con, digestB, "amd64", 1)
	for range 3 {
		must(t, s.CountDownload(ctx, img.ID))
	}
	wantCode(t, s.CountDownload(ctx, "nope"), apperr.NotFound)
	got, err := s.GetImage(ctx, img.ID)
	must(t, err)
	if got.Downloads != 3 || !got.UpdatedAt.Equal(img.UpdatedAt) {
		t.Fatalf("after 3 downloads: %d, updated %v (was %v)", got.Downloads, got.UpdatedAt, img.UpdatedAt)
	}
	list, err := s.ListImages(ctx, con.ID)
	must(t, err)
	if len(list) != 2 || list[0].Downloads != 3 || list[1].Downloads != 0 || list[1].ID != other.ID {
		t.Fatalf("listed %+v", list)
	}
	// An update keeps the count.
	must(t, s.UpdateImage(ctx, &got))
	if again, _ := s.GetImage(ctx, img.ID); again.Downloads != 3 {
		t.Fatalf("update lost the count: %d", again.Downloads)
	}
}

func testSessions(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice, bob := MkUser(t, s, "alice"), MkUser(t, s, "bob")
	at := time.Now().UTC().Truncate(time.Microsecond)
	ss := meta.Session{UserID: alice.ID, Hash: "h1", LastSeenAt: at, ExpiresAt: at.Add(time.Hour)}
	must(t, s.CreateSession(ctx, &ss))
	if ss.ID == "" || ss.CreatedAt.IsZero() {
		t.Fatalf("create did not fill id/created: %+v", ss)
	}
	wantCode(t, s.CreateSession(ctx, &meta.Session{UserID: bob.ID, Hash: "h1"}), apperr.Conflict)
	got, u, err := s.GetSessionByHash(ctx, "h1")
	must(t, err)
	if got.ID != ss.ID || u.Name != "alice" || !got.ExpiresAt.Equal(ss.ExpiresAt) || !got.LastSeenAt.Equal(at) {
		t.Fatalf("got %+v of %s, want %+v", got, u.Name, ss)
	}
	_, _, err = s.GetSessionByHash(ctx, "nope")
	wantCode(t, err, apperr.NotFound)
	later := at.Add(time.Minute)
	must(t, s.TouchSession(ctx, ss.ID, later, later.Add(time.Hour)))
	got, _, _ = s.GetSessionByHash(ctx, "h1")
	if !got.LastSeenAt.Equal(later) || !got.ExpiresAt.Equal(later.Add(time.Hour)) {
		t.Fatalf("touch lost: %+v", got)
	}
	wantCode(t, s.TouchSession(ctx, "nope", later, later), apperr.NotFound)
	// Sweeping: only what expired before the time goes.
	old := meta.Session{UserID: bob.ID, Hash: "h2", ExpiresAt: at.Add(-time.Minute)}
	must(t, s.CreateSession(ctx, &old))
	n, err := s.DeleteExpiredSessions(ctx, at)
	must(t, err)
	if n != 1 {
		t.Fatalf("swept %d sessions, want 1", n)
	}
	_, _, err = s.GetSessionByHash(ctx, "h2")
	wantCode(t, err, apperr.NotFound)
	// A user's sessions end together; others stay.
	must(t, s.CreateSession(ctx, &meta.Session{UserID: alice.ID, Hash: "h3", ExpiresAt: later}))
	must(t, s.CreateSession(ctx, &meta.Session{UserID: bob.ID, Hash: "h4", ExpiresAt: later}))
	must(t, s.DeleteUserSessions(ctx, alice.ID))
	for _, h := range []string{"h1", "h3"} {
		_, _, err = s.GetSessionByHash(ctx, h)
		wantCode(t, err, apperr.NotFound)
	}
	kept, _, err := s.GetSessionByHash(ctx, "h4")
	must(t, err)
	must(t, s.DeleteSession(ctx, kept.ID))
	wantCode(t, s.DeleteSession(ctx, kept.ID), apperr.NotFound)
}

func testLoginFailures(t *testing.T, s meta.Store) {
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	for i := 1; i <= 3; i++ {
		f, err := s.AddLoginFailure(ctx, "user:alice", t0.Add(time.Duration(i)*time.Second), t0.Add(-time.Hour))
		must(t, err)
		if f.Count != i || f.Key != "user:alice" || !f.LastAt.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("failure %d: %+v", i, f)
		}
	}
	_, err := s.AddLoginFailure(ctx, "addr:10.0.0.1", t0, t0.Add(-time.Hour))
	must(t, err)
	got, err := s.GetLoginFailures(ctx, "user:alice", "addr:10.0.0.1", "user:nobody")
	must(t, err)
	if len(got) != 2 || got[0].Key != "addr:10.0.0.1" || got[0].Count != 1 || got[1].Count != 3 {
		t.Fatalf("records %+v", got)
	}
	// A failure after a quiet period starts the count again.
	f, err := s.AddLoginFailure(ctx, "user:alice", t0.Add(time.Hour), t0.Add(10*time.Second))
	must(t, err)
	if f.Count != 1 {
		t.Fatalf("count after a quiet period: %+v", f)
	}
	must(t, s.ClearLoginFailures(ctx, "user:alice"))
	must(t, s.ClearLoginFailures(ctx, "user:alice"))
	if got, _ = s.GetLoginFailures(ctx, "user:alice"); len(got) != 0 {
		t.Fatalf("cleared, still %+v", got)
	}
}

func testSettings(t *testing.T, s meta.Store) {
	ctx := context.Background()
	got, err := s.GetSettings(ctx)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("fresh store has settings %v", got)
	}
	must(t, s.PutSetting(ctx, "default_private", "true"))
	must(t, s.PutSetting(ctx, "user_collections", "false"))
	must(t, s.PutSetting(ctx, "default_private", "false"))
	got, err = s.GetSettings(ctx)
	must(t, err)
	if len(got) != 2 || got["default_private"] != "false" || got["user_collections"] != "false" {
		t.Fatalf("settings %v", got)
	}
}

func teamNames(ts []meta.Team) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func testTeamListings(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice, bob := MkUser(t, s, "alice"), MkUser(t, s, "bob")
	_, col, _ := MkContainer(t, s, alice, "alice", "private", "app")
	lab, ops := meta.Team{Name: "lab"}, meta.Team{Name: "ops"}
	must(t, s.CreateTeam(ctx, &ops))
	must(t, s.CreateTeam(ctx, &lab))
	must(t, s.AddTeamMember(ctx, lab.ID, bob.ID))
	must(t, s.AddTeamMember(ctx, ops.ID, bob.ID))
	must(t, s.GrantCollection(ctx, col.ID, ops.ID))
	must(t, s.GrantCollection(ctx, col.ID, lab.ID))
	mine, err := s.ListUserTeams(ctx, bob.ID)
	must(t, err)
	granted, err := s.ListCollectionTeams(ctx, col.ID)
	must(t, err)
	if want := []string{"lab", "ops"}; !slices.Equal(teamNames(mine), want) || !slices.Equal(teamNames(granted), want) {
		t.Fatalf("bob's teams %v, granted %v; want %v", teamNames(mine), teamNames(granted), want)
	}
	if none, err := s.ListUserTeams(ctx, alice.ID); err != nil || len(none) != 0 {
		t.Fatalf("alice's teams %v %v", none, err)
	}
	// Deleting a team ends its memberships and grants.
	must(t, s.DeleteTeam(ctx, lab.ID))
	wantCode(t, s.DeleteTeam(ctx, lab.ID), apperr.NotFound)
	mine, _ = s.ListUserTeams(ctx, bob.ID)
	granted, _ = s.ListCollectionTeams(ctx, col.ID)
	if !slices.Equal(teamNames(mine), []string{"ops"}) || !slices.Equal(teamNames(granted), []string{"ops"}) {
		t.Fatalf("after delete: bob's teams %v, granted %v", teamNames(mine), teamNames(granted))
	}
	_, err = s.GetTeamByName(ctx, "lab")
	wantCode(t, err, apperr.NotFound)
}

func testDeleteLibraryTag(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, _, con := MkContainer(t, s, alice, "alice", "tools", "python")
	img := mkImage(t, s, con, digestA, "amd64", 1)
	for _, tag := range []meta.LibraryTag{{Arch: "amd64", Tag: "latest"}, {Arch: "arm64", Tag: "latest"}, {Arch: "amd64", Tag: "v1"}} {
		tag.ContainerID, tag.ImageID = con.ID, img.ID
		must(t, s.SetLibraryTag(ctx, &tag))
	}
	must(t, s.DeleteLibraryTag(ctx, con.ID, "amd64", "latest"))
	wantCode(t, s.DeleteLibraryTag(ctx, con.ID, "amd64", "latest"), apperr.NotFound)
	tags, err := s.ListLibraryTags(ctx, con.ID)
	must(t, err)
	if len(tags) != 2 || tags[0].Arch != "arm64" || tags[0].Tag != "latest" || tags[1].Tag != "v1" {
		t.Fatalf("tags %+v", tags)
	}
	if _, err := s.GetImage(ctx, img.ID); err != nil {
		t.Fatalf("the image went with its tag: %v", err)
	}
}

func testRecentImages(t *testing.T, s meta.Store) {
	ctx := context.Background()
	alice := MkUser(t, s, "alice")
	_, _, a := MkContainer(t, s, alice, "alice", "tools", "a")
	_, _, b := MkContainer(t, s, alice, "alice", "tools", "b")
	// Explicit times: two inserts may share a clock tick.
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Microsecond)
	first := meta.Image{ContainerID: a.ID, Digest: digestA, Arch: "amd64", Size: 1, Uploaded: true, CreatedAt: t0}
	second := meta.Image{ContainerID: b.ID, Digest: digestB, Arch: "amd64", Size: 2, Uploaded: true, CreatedAt: t0.Add(time.Second)}
	must(t, s.CreateImage(ctx, &first))
	must(t, s.CreateImage(ctx, &second))
	must(t, s.CreateImage(ctx, &meta.Image{ContainerID: b.ID, Digest: digestA})) // not uploaded: never listed
	must(t, s.SetLibraryTag(ctx, &meta.LibraryTag{ContainerID: b.ID, Arch: "amd64", Tag: "latest", ImageID: second.ID}))
	hits, err := s.RecentImages(ctx, admin, 10)
	must(t, err)
	if len(hits) != 2 || hits[0].Image.ID != second.ID || hits[1].Image.ID != first.ID {
		t.Fatalf("recent %+v", hits)
	}
	if hits[0].Container.Name != "b" || hits[0].Collection.Name != "tools" || hits[0].Entity.Name != "alice" ||
		!slices.Equal(hits[0].Tags, []string{"latest"}) {
		t.Fatalf("hit %+v", hits[0])
	}
	// An update makes an image recent again.
	must(t, s.UpdateImage(ctx, &first))
	hits, err = s.RecentImages(ctx, admin, 1)
	must(t, err)
	if len(hits) != 1 || hits[0].Image.ID != first.ID {
		t.Fatalf("after update %+v", hits)
	}
}

// testRecentPrivacy checks RecentImages against the access rules, as the
// search privacy test does.
func testRecentPrivacy(t *testing.T, s meta.Store) {
	ctx := context.Background()
	cols, _, whos := privacyFixture(t, s)
	for _, who := range whos {
		t.Run(who.name, func(t *testing.T) {
			hits, err := s.RecentImages(ctx, meta.Viewer{UserID: who.p.UserID, Admin: who.p.IsAdmin()}, 100)
			must(t, err)
			var got []string
			for _, h := range hits {
				got = append(got, h.Entity.Name+"/"+h.Collection.Name)
			}
			slices.Sort(got)
			wantNames(t, "recent images' collections", got, readable(t, s, who.p, cols)...)
		})
	}
}
