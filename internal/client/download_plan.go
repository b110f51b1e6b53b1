package client

import (
	"context"
	"sync"
	"time"
)

// maxSpanParts bounds the parts one request covers when several workers
// share the file (128 MiB with the default part size).
const maxSpanParts = 16

// plan queues the missing parts as [first, last] requests, in file
// order. One worker asks each run of consecutive missing parts in one
// request; several share requests of up to maxSpanParts parts, small
// enough that each worker gets at least two.
func (j *job) plan() chan [2]int {
	span := j.parts
	if j.d.Concurrency > 1 {
		span = min(maxSpanParts, max(1, j.parts/(2*j.d.Concurrency)))
	}
	queue := make(chan [2]int, j.parts)
	for n := 0; n < j.parts; n++ {
		if j.done[n] {
			continue
		}
		if j.firstLen == 0 {
			j.firstLen = j.partLen(n)
		}
		last := n
		for last+1 < j.parts && !j.done[last+1] && last+1-n < span {
			last++
		}
		queue <- [2]int{n, last}
		n = last
	}
	close(queue)
	return queue
}

// slowAfter is how long the first part may take before more ranges open.
const slowAfter = time.Second

// startWorkers runs the fetchers on the planned requests: all of them at
// once, or, with SlowRate, one first and the others when the link turns
// out slow. wg counts every goroutine started here.
func (j *job) startWorkers(ctx context.Context, wg *sync.WaitGroup, fail func(error)) {
	queue := j.plan()
	worker := func() {
		defer wg.Done()
		for s := range queue {
			if err := j.fetch(ctx, s[0], s[1]); err != nil {
				fail(err)
				return
			}
		}
	}
	start := func(n int) {
		for range n {
			wg.Add(1)
			go worker()
		}
	}
	if j.d.SlowRate <= 0 || j.d.Concurrency <= 1 {
		start(j.d.Concurrency)
		return
	}
	began := time.Now()
	start(1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		timer := time.NewTimer(slowAfter)
		defer timer.Stop()
		select {
		case <-j.first:
			// The first request's first part: its length over the time
			// since the start (connection, headers and all).
			if float64(j.firstLen)/time.Since(began).Seconds() >= float64(j.d.SlowRate) {
				return
			}
		case <-timer.C:
		case <-ctx.Done():
			return
		}
		start(j.d.Concurrency - 1)
	}()
}
