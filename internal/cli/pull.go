package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/silo-hpc/silo/internal/catalogue"
	"github.com/silo-hpc/silo/internal/client"
	"github.com/silo-hpc/silo/internal/credstore"
)

// `silo pull`: sregistry-cli's pull (seed 004) over every scheme a
// Singularity user meets, into the local catalogue.

func init() {
	register(func(out *Out) []*cobra.Command { return []*cobra.Command{newPullCmd(out)} })
}

type pullOptions struct {
	name, output string
	arch         string
	force        bool
	noCache      bool
	noHTTPS      bool
	creds        credFlags
}

// credFlags are Singularity's OCI credential flags
// (docs/protocols/oci-and-auth.md §4.5; credstore.Resolve).
type credFlags struct {
	username, password, authFile string
}

func (c *credFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&c.username, "docker-username", "", "`USER` for docker:// and oras:// (env SILO_DOCKER_USERNAME)")
	f.StringVar(&c.password, "docker-password", "", "`PASSWORD` for docker:// and oras:// (env SILO_DOCKER_PASSWORD)")
	f.StringVar(&c.authFile, "authfile", "", "credentials `FILE` (env SILO_AUTHFILE; default ~/.silo/docker-config.json)")
}

func newPullCmd(out *Out) *cobra.Command {
	var o pullOptions
	cmd := &cobra.Command{
		Use:   "pull [--name FILE | -o PATH] [--arch A] [--force] [--no-cache] URI",
		Short: "Download an image (library://, oras://, docker://, shub://) into the local catalogue",
		Args:  cobra.ExactArgs(1),

		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.name != "" && o.output != "" {
				return errors.New("--name and -o name the same thing: give one")
			}
			if err := runPull(cmd.Context(), out, &o, args[0]); err != nil {
				return fmt.Errorf("while pulling %s: %w", args[0], err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "write the image to `FILE` instead of the catalogue's storage")
	f.StringVarP(&o.output, "output", "o", "", "write the image to `PATH` (same as --name)")
	f.StringVar(&o.arch, "arch", runtime.GOARCH, "architecture to pull")
	f.BoolVarP(&o.force, "force", "f", false, "overwrite an existing file")
	f.BoolVar(&o.noCache, "no-cache", false, "do not record the image in the local catalogue")
	f.BoolVar(&o.noHTTPS, "no-https", false, "use plain http for a host named in the URI")
	o.creds.add(cmd)
	return cmd
}

// pullSource is what a scheme resolved: the image's catalogue name, where
// its bytes are and what to record.
type pullSource struct {
	name     catalogue.Name // Version: the sha256 hex
	client   string
	download client.Download
	source   string // the full reference
	metrics  map[string]any
}

func runPull(ctx context.Context, out *Out, o *pullOptions, raw string) error {
	ref, err := client.ParseRef(raw)
	if err != nil {
		return err
	}
	var src pullSource
	switch ref.Scheme {
	case client.SchemeLibrary:
		src, err = libraryPullSource(ctx, ref, o)
	case client.SchemeOras, client.SchemeDocker:
		src, err = ociPullSource(ctx, out, ref, o)
	case client.SchemeShub:
		src, err = shubPullSource(ctx, ref, o)
	}
	if err != nil {
		return err
	}
	var cat *catalogue.Catalogue
	if !o.noCache {
		if cat, err = openCatalogue(ctx); err != nil {
			return err
		}
		defer cat.Close()
	}
	dest, err := pullDest(cat, o, src)
	if err != nil {
		return err
	}
	res, err := fetchImage(ctx, out, &src, dest)
	if err != nil {
		return err
	}
	if src.name.Version == "" {
		src.name.Version = res.SHA256
	}
	if cat != nil {
		e, created, err := cat.Record(ctx, catalogue.Entry{Name: src.name, Client: src.client, Image: dest,
			URL: src.download.URL, Source: src.source, Size: res.Size, Metrics: marshalMetrics(src.metrics)})
		if err != nil {
			return fmt.Errorf("recording %s in the local catalogue: %w", src.name, err)
		}
		action := "update"
		if created {
			action = "new"
		}
		fmt.Fprintf(out.Stdout, "[container][%s] %s\n", action, e.URI())
	}
	fmt.Fprintf(out.Stdout, "Success! %s\n", dest)
	return nil
}

// pullDest is where the image goes: the path given, or the catalogue's
// storage, or (with --no-cache) <container>_<tag>.sif here.
func pullDest(cat *catalogue.Catalogue, o *pullOptions, src pullSource) (string, error) {
	path := o.name + o.output
	switch {
	case path == "" && cat != nil:
		path = cat.StoragePath(src.name)
	case path == "":
		path = src.name.Container + "_" + src.name.Tag + ".sif"
	default:
		if _, err := os.Stat(path); err == nil && !o.force {
			return "", fmt.Errorf("image file already exists: %q - will not overwrite (use --force)", path)
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return abs, os.MkdirAll(filepath.Dir(abs), 0o755)
}

// fetchImage downloads src to dest, unless dest already holds exactly
// the image (a pull of a version the catalogue's storage has).
func fetchImage(ctx context.Context, out *Out, src *pullSource, dest string) (client.DownloadResult, error) {
	if want := src.download.SHA256; want != "" {
		if sum, size, err := fileSHA256(dest); err == nil && sum == want {
			return client.DownloadResult{SHA256: sum, Size: size}, nil
		}
	}
	b := newBar(out)
	d := src.download
	d.Dest, d.Progress = dest, b.progress()
	if err := downloadTuning(&d); err != nil {
		return client.DownloadResult{}, err
	}
	res, err := d.Run(ctx)
	b.finish()
	if err != nil {
		return res, err
	}
	if res.Resumed > 0 {
		out.Infof("Resumed an interrupted download: %d of %d bytes were already here", res.Resumed, res.Size)
	}
	return res, nil
}

// Environment variables that tune downloads, as Singularity's
// SINGULARITY_DOWNLOAD_CONCURRENCY and SINGULARITY_DOWNLOAD_PART_SIZE.
const (
	envConcurrency = "SILO_DOWNLOAD_CONCURRENCY"
	envPartSize    = "SILO_DOWNLOAD_PART_SIZE"
)

// slowRate is the single-stream rate (bytes/s) under which a download
// opens more ranges. On loopback one stream ran at ~650 MiB/s where four
// ranges ran at ~380 (they compete with the hashing for two cores);
// several streams pay off on links one TCP stream cannot fill.
const slowRate = 128 << 20

// downloadTuning applies SILO_DOWNLOAD_CONCURRENCY (ranges at once, from
// the start) and SILO_DOWNLOAD_PART_SIZE (bytes per part) when set; by
// default a download opens more ranges only when one stream is slow.
func downloadTuning(d *client.Download) error {
	d.SlowRate = slowRate
	for env, dst := range map[string]*int64{envConcurrency: nil, envPartSize: &d.PartSize} {
		v := os.Getenv(env)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || env == envConcurrency && n > 64 {
			return fmt.Errorf("%s=%q: want a positive number (concurrency at most 64)", env, v)
		}
		if dst == nil {
			d.Concurrency, d.SlowRate = int(n), 0
		} else {
			*dst = n
		}
	}
	return nil
}

// fileSHA256 hashes a file.
func fileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

// marshalMetrics encodes what the catalogue keeps, leaving & < > as
// they are (scripts are full of &&).
func marshalMetrics(m map[string]any) json.RawMessage {
	if m == nil {
		return nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil
	}
	return bytes.TrimSpace(b.Bytes())
}

// openCatalogue opens the catalogue in the config directory.
func openCatalogue(ctx context.Context) (*catalogue.Catalogue, error) {
	dir, err := credstore.ConfigDir()
	if err != nil {
		return nil, err
	}
	return catalogue.Open(ctx, dir)
}
