// Package gc is the housekeeping service: it runs the server's periodic
// jobs (ending abandoned upload sessions, internal/upload's Sweep) and
// holds the online garbage collector of blobs (Collector, docs/gc.md).
package gc

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Job is one housekeeping task; it returns how many things it removed.
type Job struct {
	Name string
	Run  func(ctx context.Context) (int, error)
}

// Service runs jobs on a schedule.
type Service struct {
	jobs []Job
	log  *slog.Logger
}

// New returns the housekeeping service.
func New(log *slog.Logger, jobs ...Job) *Service {
	return &Service{jobs: jobs, log: log}
}

// RunOnce runs every job once, logging what each did; a failed job does
// not stop the others.
func (s *Service) RunOnce(ctx context.Context) error {
	var errs []error
	for _, j := range s.jobs {
		n, err := j.Run(ctx)
		switch {
		case errors.Is(err, context.Canceled):
			return err
		case err != nil:
			s.log.Error("housekeeping failed", "job", j.Name, "err", err, "removed", n)
			errs = append(errs, err)
		case n > 0:
			s.log.Info("housekeeping", "job", j.Name, "removed", n)
		}
	}
	return errors.Join(errs...)
}

// Run runs the jobs now and then every interval until ctx ends (a failed
// run is retried at the next tick).
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	s.run(ctx, interval, true)
}

// Schedule runs the jobs every interval, the first time one interval
// from now (replicas restarting together do not all start with a
// collection).
func (s *Service) Schedule(ctx context.Context, interval time.Duration) {
	s.run(ctx, interval, false)
}

func (s *Service) run(ctx context.Context, interval time.Duration, now bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if now {
			if err := s.RunOnce(ctx); errors.Is(err, context.Canceled) {
				return
			}
		}
		now = true
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
