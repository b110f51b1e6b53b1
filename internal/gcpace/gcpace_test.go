package gcpace

import (
	"runtime"
	"runtime/metrics"
	"testing"
)

func TestPercentFor(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 400},
		{2 * mib, 400},   // goal 10 MiB
		{51 * mib, 400},  // goal 255 MiB
		{64 * mib, 300},  // goal 256 MiB
		{100 * mib, 156}, // goal 256 MiB
		{128 * mib, 100}, // Go's own goal reaches the ceiling
		{300 * mib, 100}, // a large live heap: the default
	} {
		if got := percentFor(400, 256*mib, c.live); got != c.want {
			t.Errorf("percentFor(400, 256 MiB, %d MiB) = %d, want %d", c.live/mib, got, c.want)
		}
	}
}

// With a small live heap, Keep makes collections rarer (the heap goal
// after a collection larger); with a live heap whose goal would pass the
// ceiling, GOGC comes down to 100. (The goal, not a count of collections
// while allocating: how many complete depends on how much CPU the
// collector gets, and on a loaded machine that count failed 1 run in 30.)
func TestKeep(t *testing.T) {
	const ceiling = 64 << 20
	goal := func() uint64 {
		runtime.GC()
		s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	base := goal()
	tuned := make(chan int, 1024)
	runtime.GC() // the live heap keep reads is the last collection's
	stop := keep(400, ceiling, func(pct int) {
		select {
		case tuned <- pct:
		default:
		}
	})
	defer stop()
	if pct := <-tuned; pct != 400 {
		t.Fatalf("GOGC %d for the test's small heap", pct)
	}
	// 400 % makes the goal five times the live heap (16 MiB at least)
	// where 100 % makes it twice (4 MiB at least).
	kept := goal()
	if kept < 2*base {
		t.Fatalf("heap goal %d MiB with GOGC 400, %d MiB without", kept>>20, base>>20)
	}
	t.Logf("heap goal %d MiB with GOGC 400, %d MiB without", kept>>20, base>>20)
	big := make([][]byte, 48) // 48 MiB live: 400 % would make a 240 MiB goal
	for i := range big {
		big[i] = make([]byte, 1<<20)
	}
	// Each collection runs the tuner once, on the finalizer goroutine:
	// forget the churn's, then wait for those of new collections.
	for len(tuned) > 0 {
		<-tuned
	}
	back := false
	for range 16 {
		runtime.GC()
		if <-tuned == 100 {
			back = true
			break
		}
	}
	if !back {
		t.Fatal("GOGC never came down to 100 with 48 MiB live under a 64 MiB ceiling")
	}
	runtime.KeepAlive(big)
}
