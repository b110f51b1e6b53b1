package auth

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/sqlmeta"
)

// clocked is a service over a fresh SQLite store whose clock the test
// moves: the session and throttle rules are tested as rules, not by
// waiting.
type clocked struct {
	*Service
	at time.Time
}

func newClocked(t *testing.T) *clocked {
	t.Helper()
	store, err := sqlmeta.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "silo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	c := &clocked{Service: New(store), at: time.Now().UTC().Truncate(time.Microsecond)}
	c.now = func() time.Time { return c.at }
	return c
}

func (c *clocked) advance(d time.Duration) { c.at = c.at.Add(d) }

func TestLoginDelayRule(t *testing.T) {
	for _, tc := range []struct {
		count, free int
		want        time.Duration
	}{
		{0, 5, 0}, {4, 5, 0}, {5, 5, time.Second}, {6, 5, 2 * time.Second}, {9, 5, 16 * time.Second},
		{13, 5, 256 * time.Second}, {14, 5, maxLoginDelay}, {1000, 5, maxLoginDelay},
		{19, 20, 0}, {20, 20, time.Second},
	} {
		if got := LoginDelay(tc.count, tc.free); got != tc.want {
			t.Errorf("LoginDelay(%d, %d) = %v, want %v", tc.count, tc.free, got, tc.want)
		}
	}
}

func TestLoginThrottle(t *testing.T) {
	ctx := context.Background()
	s := newClocked(t)
	if _, err := s.CreateUser(ctx, "alice", meta.RoleUser, "right-password"); err != nil {
		t.Fatal(err)
	}
	// The free failures are refused as bad credentials, at once.
	for i := range userFreeFailures {
		if _, err := s.Login(ctx, "alice", "wrong", "10.0.0.1"); !apperr.Is(err, apperr.Unauthenticated) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	// Now even the right password waits one second after the last
	// failure, from any address (the user's count), without being
	// checked.
	_, err := s.Login(ctx, "alice", "right-password", "10.0.0.2")
	if d, ok := RetryAfter(err); !ok || d != time.Second || !apperr.Is(err, apperr.Unavailable) {
		t.Fatalf("throttled login: %v (wait %v)", err, d)
	}
	s.advance(time.Second)
	if _, err := s.Login(ctx, "alice", "wrong", "10.0.0.1"); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("after the wait: %v", err)
	}
	// The next failure doubled the delay.
	s.advance(time.Second)
	if d, ok := RetryAfter(loginErr(s, "alice", "right-password")); !ok || d != time.Second {
		t.Fatalf("second wait: %v", d)
	}
	s.advance(time.Second)
	sess, err := s.Login(ctx, "alice", "right-password", "10.0.0.1")
	if err != nil || sess.Principal.Name != "alice" || sess.Secret == "" {
		t.Fatalf("login after the wait: %+v %v", sess, err)
	}
	// Success cleared the user's count.
	if _, err := s.Login(ctx, "alice", "wrong", "10.0.0.1"); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("after success: %v", err)
	}
	// A quiet period clears it too.
	for range userFreeFailures + 3 {
		s.Login(ctx, "alice", "wrong", "10.0.0.3")
		s.advance(time.Hour)
	}
	if _, err := s.Login(ctx, "alice", "right-password", "10.0.0.3"); err != nil {
		t.Fatalf("after quiet periods: %v", err)
	}
}

func loginErr(s *clocked, name, pw string) error {
	_, err := s.Login(context.Background(), name, pw, "10.0.0.1")
	return err
}

// An address that guesses many names waits, and names nobody has get no
// record of their own.
func TestLoginThrottleByAddress(t *testing.T) {
	ctx := context.Background()
	s := newClocked(t)
	if _, err := s.CreateUser(ctx, "bob", meta.RoleUser, "bobs-password"); err != nil {
		t.Fatal(err)
	}
	for i := range addrFreeFailures {
		if _, err := s.Login(ctx, "nobody"+string(rune('a'+i)), "guess", "192.0.2.7"); !apperr.Is(err, apperr.Unauthenticated) {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, err := s.Login(ctx, "bob", "bobs-password", "192.0.2.7"); !isThrottled(err) {
		t.Fatalf("the guessing address was not throttled: %v", err)
	}
	if _, err := s.Login(ctx, "bob", "bobs-password", "192.0.2.8"); err != nil {
		t.Fatalf("another address: %v", err)
	}
	recs, err := s.store.GetLoginFailures(ctx, "user:nobodya", "addr:192.0.2.7")
	if err != nil || len(recs) != 1 || recs[0].Count != addrFreeFailures {
		t.Fatalf("records %+v %v", recs, err)
	}
}

func isThrottled(err error) bool { _, ok := RetryAfter(err); return ok }

func TestSessions(t *testing.T) {
	ctx := context.Background()
	s := newClocked(t)
	if _, err := s.CreateUser(ctx, "alice", meta.RoleAdmin, "right-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Login(ctx, "alice", "", "10.0.0.1"); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("empty password: %v", err)
	}
	tok, _, _ := s.IssueToken(ctx, "alice", "x", 0)
	if _, err := s.Login(ctx, "alice", tok, "10.0.0.1"); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("a token is not a web password: %v", err)
	}
	sess, err := s.Login(ctx, "alice", "right-password", "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.CheckSession(ctx, sess.Secret)
	if err != nil || got.Principal.Name != "alice" || !got.Principal.IsAdmin() || got.Principal.TokenID != "" {
		t.Fatalf("check: %+v %v", got, err)
	}
	for _, bad := range []string{"", sess.Secret + "x", tok} {
		if _, err := s.CheckSession(ctx, bad); !apperr.Is(err, apperr.Unauthenticated) {
			t.Errorf("secret %.10q: %v", bad, err)
		}
	}
	// Use keeps a session alive past SessionIdle, never past SessionMax.
	for elapsed := time.Duration(0); elapsed < SessionMax-SessionIdle; elapsed += SessionIdle / 2 {
		s.advance(SessionIdle / 2)
		if _, err := s.CheckSession(ctx, sess.Secret); err != nil {
			t.Fatalf("in use after %v: %v", elapsed, err)
		}
	}
	s.advance(SessionIdle)
	if _, err := s.CheckSession(ctx, sess.Secret); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("past SessionMax: %v", err)
	}
	// Idle expiry; logout; a disabled account.
	idle, _ := s.Login(ctx, "alice", "right-password", "10.0.0.1")
	s.advance(SessionIdle)
	if _, err := s.CheckSession(ctx, idle.Secret); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("idle: %v", err)
	}
	out, _ := s.Login(ctx, "alice", "right-password", "10.0.0.1")
	if err := s.Logout(ctx, out.Secret); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckSession(ctx, out.Secret); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("after logout: %v", err)
	}
	if err := s.Logout(ctx, out.Secret); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	if _, err := s.CreateUser(ctx, "bob", meta.RoleUser, "bobs-password"); err != nil {
		t.Fatal(err)
	}
	bob, _ := s.Login(ctx, "bob", "bobs-password", "10.0.0.1")
	admin := Principal{UserID: got.Principal.UserID, Name: "alice", Role: meta.RoleAdmin}
	yes := true
	if _, err := s.ChangeUser(ctx, admin, "bob", UserChange{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CheckSession(ctx, bob.Secret); !apperr.Is(err, apperr.Unauthenticated) {
		t.Fatalf("disabled: %v", err)
	}
	if n, err := s.SweepSessions(ctx); err != nil || n != 0 {
		// The expired ones were deleted when checked; bob's by the change.
		t.Fatalf("sweep: %d %v", n, err)
	}
}
