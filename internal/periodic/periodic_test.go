package periodic

import (
	"sync/atomic"
	"testing"
	"time"
)

// Run calls fn repeatedly; when Stop returns, a call in progress has
// finished.
func TestRunStop(t *testing.T) {
	var calls atomic.Int64
	var inside atomic.Bool
	ran := make(chan struct{}, 100)
	l := Run(time.Millisecond, func() {
		inside.Store(true)
		calls.Add(1)
		select {
		case ran <- struct{}{}:
		default:
		}
		inside.Store(false)
	})
	for range 3 {
		<-ran
	}
	l.Stop()
	if inside.Load() {
		t.Fatal("a call was still running after Stop")
	}
	if calls.Load() < 3 {
		t.Fatalf("%d calls", calls.Load())
	}
}
