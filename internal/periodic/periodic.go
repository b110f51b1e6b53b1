// Package periodic runs a function every period in its own goroutine
// until stopped: SQLite's checkpointer and search index merger, and an
// upload's lease renewal.
package periodic

import "time"

// Loop is a running periodic function.
type Loop struct {
	quit chan struct{}
	done chan struct{}
}

// Run calls fn every period, the first time one period from now.
func Run(period time.Duration, fn func()) *Loop {
	l := &Loop{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-l.quit:
				return
			case <-t.C:
				fn()
			}
		}
	}()
	return l
}

// Stop ends the loop and waits for a call in progress.
func (l *Loop) Stop() {
	close(l.quit)
	<-l.done
}
