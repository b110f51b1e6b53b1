// Package gc is the housekeeping service: it runs the server's periodic
// jobs (today: ending abandoned upload sessions, internal/upload's
// Sweep; removing blobs nothing references comes later).
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
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.RunOnce(ctx); errors.Is(err, context.Canceled) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
