package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/meta"
)

// The failed log-in delay. Failures are counted per user name and per
// client address (in the database, so every replica counts them
// together). A key's first few failures cost nothing; after them each
// further failure makes the next attempt wait, doubling up to
// maxLoginDelay. While a key waits, attempts are refused without checking
// the password, so guessing gets no faster with more requests; a key
// with no failure for throttleWindow starts again from zero, and a
// successful log-in clears the user's count (not the address's: an
// attacker with an account of their own must not reset it).
//
// The address count has a higher allowance, since many users may share
// one address (a login node, a NAT). A user whose name is being guessed
// waits too, at most maxLoginDelay: their API tokens keep working.
const (
	throttleWindow   = 15 * time.Minute
	userFreeFailures = 5
	addrFreeFailures = 20
	maxLoginDelay    = 5 * time.Minute
)

type loginKeys struct{ user, addr string }

func throttleKeys(name, addr string) loginKeys {
	return loginKeys{user: "user:" + strings.ToLower(name), addr: "addr:" + addr}
}

// LoginDelay is the rule: how long after its last failure a key with
// count failures waits before the next attempt, given free failures that
// cost nothing.
func LoginDelay(count, free int) time.Duration {
	if count < free {
		return 0
	}
	shift := min(count-free, 16)
	return min(time.Second<<shift, maxLoginDelay)
}

// wait is how long from now a key's record makes attempts wait.
func wait(f meta.LoginFailures, free int, now time.Time) time.Duration {
	if now.Sub(f.LastAt) >= throttleWindow {
		return 0
	}
	return max(f.LastAt.Add(LoginDelay(f.Count, free)).Sub(now), 0)
}

// ThrottledError says how long a client must wait before its next log-in.
type ThrottledError struct{ Wait time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed log-ins: try again in %d seconds", int(math.Ceil(e.Wait.Seconds())))
}

// RetryAfter reports the wait an error from Login asks for.
func RetryAfter(err error) (time.Duration, bool) {
	var t *ThrottledError
	if errors.As(err, &t) {
		return t.Wait, true
	}
	return 0, false
}

// throttled refuses an attempt while either key waits.
func (s *Service) throttled(ctx context.Context, keys loginKeys, now time.Time) error {
	recs, err := s.store.GetLoginFailures(ctx, keys.user, keys.addr)
	if err != nil {
		return err
	}
	var longest time.Duration
	for _, f := range recs {
		free := userFreeFailures
		if f.Key == keys.addr {
			free = addrFreeFailures
		}
		longest = max(longest, wait(f, free, now))
	}
	if longest > 0 {
		t := &ThrottledError{Wait: longest}
		return apperr.Wrap(apperr.Unavailable, t, "%s", t.Error())
	}
	return nil
}

// failedLogin counts a failure under the address and, when the user
// exists, under the user (a name nobody has gains nothing from a delay of
// its own, and must not fill the table), then returns err.
func (s *Service) failedLogin(ctx context.Context, name string, keys loginKeys, now time.Time, err error) error {
	since := now.Add(-throttleWindow)
	if _, e := s.store.AddLoginFailure(ctx, keys.addr, now, since); e != nil {
		return e
	}
	if _, e := s.store.GetUserByName(ctx, name); e == nil {
		if _, e := s.store.AddLoginFailure(ctx, keys.user, now, since); e != nil {
			return e
		}
	} else if !apperr.Is(e, apperr.NotFound) {
		return e
	}
	return err
}
