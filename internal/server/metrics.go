package server

import (
	"database/sql"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/silo-hpc/silo/internal/gc"
)

// registerGCMetrics exposes the blob collector's totals (this process's
// runs: one replica at a time collects, so sum over replicas).
func registerGCMetrics(reg prometheus.Registerer, st *gc.Stats) {
	counter := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, v)
	}
	gauge := func(name, help string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, v)
	}
	reg.MustRegister(
		counter("silo_gc_runs_total", "Blob garbage collections this process ran.",
			func() float64 { return float64(st.Runs.Load()) }),
		counter("silo_gc_blobs_deleted_total", "Blobs the garbage collector deleted.",
			func() float64 { return float64(st.Blobs.Load()) }),
		counter("silo_gc_bytes_freed_total", "Bytes of blobs the garbage collector deleted.",
			func() float64 { return float64(st.Bytes.Load()) }),
		counter("silo_gc_errors_total", "Blob garbage collections that ended in an error.",
			func() float64 { return float64(st.Errors.Load()) }),
		gauge("silo_gc_last_duration_seconds", "How long the last blob garbage collection took.",
			func() float64 { return float64(st.LastDuration.Load()) / 1e9 }),
		gauge("silo_gc_last_run_timestamp_seconds", "When the last blob garbage collection ended (Unix time).",
			func() float64 { return float64(st.LastRun.Load()) }),
	)
}

// registerPoolMetrics exposes the database connection pools' statistics
// (open, in use, idle, waits and time waited: go_sql_* with db_name
// "silo_write", "silo_read", "silo_search"), when the store has pools:
// waits on a pool are what a saturated database looks like from here.
func registerPoolMetrics(reg prometheus.Registerer, store any) {
	p, ok := store.(interface{ Pools() map[string]*sql.DB })
	if !ok {
		return
	}
	for name, db := range p.Pools() {
		reg.MustRegister(collectors.NewDBStatsCollector(db, "silo_"+name))
	}
}
