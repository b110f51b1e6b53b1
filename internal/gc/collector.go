package gc

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/meta"
)

// Store is what the collector needs of the metadata store.
type Store interface {
	meta.BlobCollection
}

// CollectorConfig tunes the collector.
type CollectorConfig struct {
	// Grace is how long a blob nothing references is kept (from the last
	// request that relied on it): longer than any push takes from storing
	// a blob to referencing it.
	Grace time.Duration
	// Keep lists blobs never collected (the {} config blob the library's
	// OCI view names, stored once at start).
	Keep []digest.Digest
	// Now is the clock (tests).
	Now func() time.Time
}

// Collector removes blobs that nothing references, online, while pushes
// go on; docs/gc.md describes the protocol that makes that safe: claim in
// one statement that re-checks every reference, delete the bytes, leave a
// tombstone. One collector runs at a time across every replica.
type Collector struct {
	meta  Store
	blobs blob.Store
	log   *slog.Logger
	cfg   CollectorConfig
	keep  map[string]bool
	stats Stats
}

// Stats are the collector's totals since the process started (metrics).
type Stats struct {
	Runs, Blobs, Bytes, Errors atomic.Int64
	// LastDuration is the last run's length in nanoseconds; LastRun its
	// end as Unix seconds.
	LastDuration, LastRun atomic.Int64
}

// Options adjust one run.
type Options struct {
	// DryRun reports what would be removed and changes nothing.
	DryRun bool
	// Grace overrides the configured grace period when >= 0 (an
	// administrator who knows no push is under way).
	Grace time.Duration
}

// Report is what one run did (or, dry, would do).
type Report struct {
	DryRun bool `json:"dryRun"`
	// Skipped: another collector holds the lock.
	Skipped bool `json:"skipped"`
	// Blobs and Bytes: blobs nothing references, removed.
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
	// Orphans and OrphanBytes: stored blobs no metadata row knew of
	// (left by a crash between storing and recording).
	Orphans     int   `json:"orphans"`
	OrphanBytes int64 `json:"orphanBytes"`
	// Links: links to blobs that nothing in their repository refers to.
	Links int `json:"links"`
	// Resumed: removals a collector that died had begun, finished.
	Resumed  int           `json:"resumed"`
	Grace    time.Duration `json:"graceNanoseconds"`
	Duration time.Duration `json:"durationNanoseconds"`
}

// NewCollector returns the blob collector.
func NewCollector(ms Store, bs blob.Store, log *slog.Logger, cfg CollectorConfig) *Collector {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Collector{meta: ms, blobs: bs, log: log, cfg: cfg, keep: map[string]bool{}}
	for _, d := range cfg.Keep {
		c.keep[d.String()] = true
	}
	return c
}

// Stats returns the collector's running totals.
func (c *Collector) Stats() *Stats { return &c.stats }

// batch is how many rows one query lists.
const batch = 500

// Collect runs one collection, or a dry one that reports what it would
// remove without changing anything.
func (c *Collector) Collect(ctx context.Context, o Options) (Report, error) {
	dryRun := o.DryRun
	r := Report{DryRun: dryRun, Grace: c.cfg.Grace}
	if o.Grace >= 0 {
		r.Grace = o.Grace
	}
	unlock, ok, err := c.meta.LockCollector(ctx)
	if err != nil || !ok {
		r.Skipped = err == nil
		return r, err
	}
	defer unlock()
	start := c.cfg.Now()
	cutoff := start.Add(-r.Grace)
	steps := []func(context.Context, time.Time, *Report) error{c.resume, c.links, c.unreferenced, c.orphans, c.tombstones}
	for _, step := range steps {
		if err = step(ctx, cutoff, &r); err != nil {
			break
		}
	}
	r.Duration = c.cfg.Now().Sub(start)
	if !dryRun {
		c.stats.Runs.Add(1)
		c.stats.Blobs.Add(int64(r.Blobs + r.Orphans + r.Resumed))
		c.stats.Bytes.Add(r.Bytes + r.OrphanBytes)
		c.stats.LastDuration.Store(int64(r.Duration))
		c.stats.LastRun.Store(c.cfg.Now().Unix())
		if err != nil {
			c.stats.Errors.Add(1)
		}
	}
	return r, err
}

// Run is Collect as a scheduled job: it returns how many blobs went.
func (c *Collector) Run(ctx context.Context) (int, error) {
	r, err := c.Collect(ctx, Options{Grace: -1})
	if r.Blobs+r.Orphans > 0 {
		c.log.Info("blobs collected", "blobs", r.Blobs+r.Orphans, "bytes", r.Bytes+r.OrphanBytes,
			"links", r.Links, "duration", r.Duration)
	}
	return r.Blobs + r.Orphans + r.Resumed, err
}

// remove deletes a claimed blob's bytes and leaves its tombstone,
// returning the size it had.
func (c *Collector) remove(ctx context.Context, d string) (int64, error) {
	dg := digest.Digest(d)
	var size int64
	if info, err := c.blobs.Stat(ctx, dg); err == nil {
		size = info.Size
		if err := c.blobs.Delete(ctx, dg); err != nil && !apperr.Is(err, apperr.NotFound) {
			return 0, err
		}
	} else if !apperr.Is(err, apperr.NotFound) && !apperr.Is(err, apperr.Invalid) {
		return 0, err
	}
	return size, c.meta.MarkBlobGone(ctx, d)
}

// resume finishes the removals of a collector that died mid-way.
func (c *Collector) resume(ctx context.Context, _ time.Time, r *Report) error {
	if r.DryRun {
		return nil
	}
	left, err := c.meta.ListDeletingBlobs(ctx)
	if err != nil {
		return err
	}
	for _, rec := range left {
		n, err := c.remove(ctx, rec.Digest)
		if err != nil {
			return err
		}
		r.Resumed++
		r.Bytes += n
	}
	return nil
}

// links drops links nothing in their repository uses any more, so usage
// (quotas) stops counting them.
func (c *Collector) links(ctx context.Context, cutoff time.Time, r *Report) error {
	var after meta.Link
	for {
		page, err := c.meta.StaleLinks(ctx, cutoff, after, batch)
		if err != nil {
			return err
		}
		for _, l := range page {
			if r.DryRun {
				r.Links++
				continue
			}
			dropped, err := c.meta.DropStaleLink(ctx, l, cutoff)
			if err != nil {
				return err
			}
			if dropped {
				r.Links++
			}
		}
		if len(page) < batch {
			return nil
		}
		after = page[len(page)-1]
	}
}

// unreferenced removes blobs no image, manifest or fresh link refers to.
func (c *Collector) unreferenced(ctx context.Context, cutoff time.Time, r *Report) error {
	after := ""
	for {
		page, err := c.meta.ListCollectable(ctx, cutoff, after, batch)
		if err != nil {
			return err
		}
		for _, rec := range page {
			if err := c.collect(ctx, rec, cutoff, r); err != nil {
				return err
			}
		}
		if len(page) < batch {
			return nil
		}
		after = page[len(page)-1].Digest
	}
}

func (c *Collector) collect(ctx context.Context, rec meta.BlobRecord, cutoff time.Time, r *Report) error {
	if c.keep[rec.Digest] {
		return nil
	}
	if r.DryRun {
		r.Blobs++
		r.Bytes += rec.Size
		return nil
	}
	claimed, err := c.meta.MarkBlobDeleting(ctx, rec.Digest, cutoff)
	if err != nil || !claimed {
		return err // !claimed: referenced or touched since it was listed
	}
	n, err := c.remove(ctx, rec.Digest)
	if err != nil {
		return err
	}
	r.Blobs++
	r.Bytes += n
	return nil
}

// tombstoneAge is how long a collected blob's tombstone is kept: far
// longer than any upload takes between its pin and its confirmation.
const tombstoneAge = 7 * 24 * time.Hour

// tombstones deletes old tombstones, so they do not pile up.
func (c *Collector) tombstones(ctx context.Context, cutoff time.Time, r *Report) error {
	if r.DryRun {
		return nil
	}
	_, err := c.meta.PurgeTombstones(ctx, cutoff.Add(-tombstoneAge))
	return err
}

// orphans removes stored blobs older than the grace period that no row
// knows of (or whose row is a tombstone).
func (c *Collector) orphans(ctx context.Context, cutoff time.Time, r *Report) error {
	var pending []blob.Info
	flush := func() error {
		err := c.orphanBatch(ctx, pending, r)
		pending = pending[:0]
		return err
	}
	err := c.blobs.Walk(ctx, func(info blob.Info) error {
		if c.keep[info.Digest.String()] || !info.ModTime.Before(cutoff) {
			return nil
		}
		if pending = append(pending, info); len(pending) == batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	return err
}

func (c *Collector) orphanBatch(ctx context.Context, infos []blob.Info, r *Report) error {
	if len(infos) == 0 {
		return nil
	}
	ds := make([]string, len(infos))
	for i, info := range infos {
		ds[i] = info.Digest.String()
	}
	states, err := c.meta.BlobStates(ctx, ds)
	if err != nil {
		return err
	}
	for _, info := range infos {
		if st, ok := states[info.Digest.String()]; ok && st != meta.BlobGone {
			continue
		}
		if r.DryRun {
			r.Orphans++
			r.OrphanBytes += info.Size
			continue
		}
		claimed, err := c.meta.ClaimOrphan(ctx, info.Digest.String(), info.Size)
		if err != nil {
			return err
		}
		if !claimed {
			continue
		}
		n, err := c.remove(ctx, info.Digest.String())
		if err != nil {
			return err
		}
		r.Orphans++
		r.OrphanBytes += n
	}
	return nil
}
