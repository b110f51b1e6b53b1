// Package server composes Silo's stores, services and transports into one
// HTTP server and runs it.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/silo-hpc/silo/internal/accountapi"
	"github.com/silo-hpc/silo/internal/auth"
	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/config"
	"github.com/silo-hpc/silo/internal/fsblob"
	"github.com/silo-hpc/silo/internal/keyserver"
	"github.com/silo-hpc/silo/internal/libraryapi"
	"github.com/silo-hpc/silo/internal/logctx"
	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/ociapi"
	"github.com/silo-hpc/silo/internal/quotaapi"
	"github.com/silo-hpc/silo/internal/s3blob"
	"github.com/silo-hpc/silo/internal/sqlmeta"
	"github.com/silo-hpc/silo/internal/sregistryapi"
	"github.com/silo-hpc/silo/internal/webui"
)

// Server is Silo's HTTP server over its services.
type Server struct {
	*Services
	metrics *metrics
	handler http.Handler
}

// OpenStores opens the metadata and blob stores a configuration selects.
// PostgreSQL is reached before the data directory is created, so an
// unreachable database leaves no files behind.
func OpenStores(ctx context.Context, cfg config.Config) (meta.Store, blob.Store, error) {
	var ms meta.Store
	var err error
	if config.IsPostgres(cfg.Database) {
		if ms, err = sqlmeta.OpenPostgres(ctx, cfg.Database); err != nil {
			return nil, nil, fmt.Errorf("metadata database: %w", err)
		}
	}
	if err := prepareDataDir(cfg.DataDir); err != nil {
		if ms != nil {
			ms.Close()
		}
		return nil, nil, err
	}
	if ms == nil {
		if ms, err = sqlmeta.OpenSQLite(ctx, cfg.SQLitePath()); err != nil {
			return nil, nil, fmt.Errorf("metadata database: %w", err)
		}
	}
	bs, err := openBlobs(cfg)
	if err != nil {
		ms.Close()
		return nil, nil, fmt.Errorf("blob store: %w", err)
	}
	return ms, bs, nil
}

// openBlobs opens the blob store cfg.Storage selects.
func openBlobs(cfg config.Config) (blob.Store, error) {
	if cfg.Storage != config.StorageS3 {
		return fsblob.New(cfg.BlobDir())
	}
	secret, err := cfg.S3.S3Secret()
	if err != nil {
		return nil, err
	}
	return s3blob.New(s3blob.Config{Endpoint: cfg.S3.Endpoint, Bucket: cfg.S3.Bucket, Region: cfg.S3.Region,
		AccessKey: cfg.S3.AccessKey, SecretKey: secret, Prefix: cfg.S3.Prefix, PathStyle: cfg.S3.PathStyle,
		PartSize: int64(cfg.S3.PartSize), PublicEndpoint: cfg.S3.PublicEndpoint})
}

func prepareDataDir(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if err := checkWritable(dir); err != nil {
		return fmt.Errorf("data directory %s is not writable: %w", dir, err)
	}
	return nil
}

func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// New builds the HTTP server over the services: each transport registers
// its own routes, and /v2 is split between OCI and the Library API by the
// Library API's exact path shapes (v2Split).
func New(svc *Services) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{Services: svc, metrics: newMetrics(reg)}
	registerGCMetrics(reg, svc.Collector.Stats())
	registerPoolMetrics(reg, svc.Meta)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	libAPI := libraryapi.New(svc.Auth, svc.Library, svc.Tokens, svc.Config.PublicURL)
	libAPI.Register(mux)
	quotaapi.New(svc.Auth, svc.Quota).Register(mux)
	mux.Handle("/v2/", v2Split{lib: libAPI, oci: ociapi.New(svc.Registry, svc.Tokens, svc.Config.PublicURL)})
	accountapi.New(svc.Auth, svc.Library, svc.Settings).Register(mux)
	// sregistry's bare paths are mux patterns; its /<entity>/... forms
	// are served around the mux, for paths no other route claims (the
	// web UI's "/" included).
	sreg := sregistryapi.New(svc.SRegistry, svc.Config.PublicURL)
	sreg.Register(mux)
	keyserver.New(svc.Auth, svc.Keys).Register(mux)
	webui.New(svc.Auth, svc.Library, svc.Settings, svc.Keys, svc.Config.PublicURL).WithSRegistry(svc.SRegistry).Register(mux)
	s.handler = s.observe(sreg.Around(mux))
	return s
}

// v2Split gives each protocol its own router under the /v2 prefix they
// share: every path of OCI's grammar is OCI's, so no repository name can
// be taken by the Library API; the Library API has the rest of its
// prefixes (upload and tag calls on ids this server made); anything else
// is OCI's 404.
type v2Split struct {
	lib *libraryapi.API
	oci *ociapi.API
}

func (v v2Split) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !v.oci.Matches(r.URL.Path) && v.lib.OwnsV2(r.URL.Path) {
		v.lib.ServeV2(w, r)
		return
	}
	v.oci.ServeHTTP(w, r)
}

// Handler returns the server's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// ready reports whether both stores answer.
func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var problems []string
	if err := s.Meta.Ping(ctx); err != nil {
		s.Log.Warn("readiness: database", "err", err)
		problems = append(problems, "database unreachable")
	}
	if err := s.Blobs.Ping(ctx); err != nil {
		s.Log.Warn("readiness: blob store", "err", err)
		problems = append(problems, "blob store unreachable")
	}
	if len(problems) > 0 {
		http.Error(w, fmt.Sprint(problems), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}

// Serve runs the HTTP server on ln until ctx ends, then shuts down
// gracefully, letting in-flight transfers finish for up to grace.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	if s.Config.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.Config.TLSCert, s.Config.TLSKey)
		if err != nil {
			return fmt.Errorf("loading TLS certificate: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	if s.Config.PprofAddr != "" {
		go s.servePprof(ctx)
	}
	go s.GC.Run(ctx, sweepEvery)
	if every := time.Duration(s.Config.GC.Interval); every > 0 {
		go s.BlobGC.Schedule(ctx, every)
	}
	go s.backfill(ctx)
	go s.reverifyLoop(ctx)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Log.Info("shutting down", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// The grace period ran out: cut the transfers still running.
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// sweepEvery is how often abandoned upload sessions are looked for.
const sweepEvery = 10 * time.Minute

// SigningKey loads (or on first start creates) the secret that signs
// registry bearer tokens. Replicas share it through configuration.
func SigningKey(cfg config.Config) ([]byte, error) {
	path := cfg.Auth.SigningKeyFile
	if path == "" {
		path = filepath.Join(cfg.DataDir, "token-signing.key")
		if err := createKey(path); err != nil {
			return nil, err
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("signing key %s is shorter than 32 bytes", path)
	}
	return b, nil
}

// createKey writes a new random key unless one exists. The key is written
// to a temporary file and linked into place, so two replicas starting
// together on one data directory end up reading the same key, never a
// half-written one.
func createKey(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".signing-key-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(auth.NewPassword() + auth.NewPassword())
	if err == nil {
		err = tmp.Sync()
	}
	if err = errors.Join(err, tmp.Close()); err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// servePprof serves Go's profiling handlers on the configured separate
// address until ctx ends (config pprof_addr).
func (s *Server) servePprof(ctx context.Context) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: s.Config.PprofAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.Log.Error("pprof listener", "addr", s.Config.PprofAddr, "err", err)
	}
}

// backfill inspects, in the background, images stored before the server
// read SIF metadata (or by an older inspector), so nothing has to be
// pushed again; progress goes to the log.
func (s *Server) backfill(ctx context.Context) {
	n, err := s.Library.Backfill(logctx.With(ctx, s.Log))
	switch {
	case err != nil && ctx.Err() == nil:
		s.Log.Error("inspecting stored images", "err", err, "inspected", n)
	case n > 0:
		s.Log.Info("stored images inspected", "inspected", n)
	}
}
