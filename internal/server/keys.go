package server

import (
	"context"
	"time"

	"github.com/silo-hpc/silo/internal/logctx"
)

// wakeReverify asks the re-verification loop for a pass (the keyserver
// calls it after a key change); a pass already asked for covers it.
func (s *Services) wakeReverify() {
	select {
	case s.keysChanged <- struct{}{}:
	default:
	}
}

// reverifyLoop checks again, in the background, the signatures of stored
// images whose signing keys changed or expired (Library.Reverify): at
// start, after each key change this process made, and every reverifyEvery
// for changes other replicas made.
func (s *Server) reverifyLoop(ctx context.Context) {
	t := time.NewTicker(reverifyEvery)
	defer t.Stop()
	for {
		n, err := s.Library.Reverify(logctx.With(ctx, s.Log))
		switch {
		case err != nil && ctx.Err() == nil:
			s.Log.Error("checking signatures of stored images again", "err", err, "done", n)
		case n > 0:
			s.Log.Info("signatures of stored images checked again", "done", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.keysChanged:
		case <-t.C:
		}
	}
}

// reverifyEvery is how often the loop looks for stale checks that no
// key change of this process announced.
const reverifyEvery = time.Minute
