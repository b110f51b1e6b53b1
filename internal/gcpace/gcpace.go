// Package gcpace sets Go's GOGC from the live heap: a high percentage
// while the heap goal it gives stays under a ceiling, then less, down to
// Go's default (100) once twice the live heap passes the ceiling.
//
// A server streams bodies through fixed buffers, so its live heap is a
// few MiB and Go's default collected about once per search answering 400
// rows; GOGC 400 removed most of those collections (docs/configuration.md,
// "Go's garbage collector"). But a fixed 400 would also make a large live
// heap five times larger (S3 pushes hold two parts each: docs/deploy.md);
// so after each collection the percentage is chosen for the live heap it
// measured. (runtime/debug has no such setting: GOMEMLIMIT only lowers
// goals, and GOGC is one fixed ratio.)
package gcpace

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// Keep sets GOGC to percent while the goal it gives (the live heap times
// 1+percent/100) is at most ceiling bytes, to less above, never below
// 100; once now, then after every collection, for the rest of the
// process.
func Keep(percent int, ceiling uint64) { keep(percent, ceiling, nil) }

// keep is Keep; tuned, when set, is told each percentage chosen. The
// returned stop ends the tuning and restores GOGC 100 (tests).
func keep(percent int, ceiling uint64, tuned func(int)) (stop func()) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var stopped atomic.Bool
	last := -1
	var tune func()
	tune = func() {
		if stopped.Load() {
			return
		}
		metrics.Read(sample)
		pct := percentFor(percent, ceiling, sample[0].Value.Uint64())
		if pct != last {
			debug.SetGCPercent(pct)
			last = pct
		}
		if tuned != nil {
			tuned(pct)
		}
		afterNextGC(tune)
	}
	tune()
	return func() {
		stopped.Store(true)
		debug.SetGCPercent(100)
	}
}

// percentFor is the GOGC for a live heap of live bytes: percent while its
// goal fits under ceiling, then the percentage whose goal is ceiling, and
// 100 once that is less.
func percentFor(percent int, ceiling, live uint64) int {
	if live == 0 || live*uint64(100+percent)/100 <= ceiling {
		return percent
	}
	if 2*live >= ceiling {
		return 100
	}
	return int(ceiling*100/live - 100)
}

// sentinel holds a pointer so that it is not batched by the tiny
// allocator, whose objects' finalizers may never run.
type sentinel struct{ _ *byte }

// afterNextGC runs f on the finalizer goroutine once the next collection
// has found an unreachable object.
func afterNextGC(f func()) {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) { f() })
}
