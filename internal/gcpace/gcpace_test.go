package gcpace

import (
	"runtime"
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

// With a small live heap, Keep makes collections rarer; with a live heap
// whose goal would pass the ceiling, GOGC comes down to 100.
func TestKeep(t *testing.T) {
	const ceiling = 64 << 20
	churn := func() uint32 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 4096 { // 256 MiB of garbage
			sink = make([]byte, 64<<10)
		}
		runtime.ReadMemStats(&after)
		return after.NumGC - before.NumGC
	}
	base := churn()
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
	if kept := churn(); kept*2 > base {
		t.Fatalf("collections while churning 256 MiB: %d with GOGC 400, %d without", kept, base)
	}
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

var sink []byte
