package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/silo-hpc/silo/internal/catalogue"
	"github.com/silo-hpc/silo/internal/client"
	"github.com/silo-hpc/silo/internal/credstore"
)

// libraryPullSource resolves a library ref (docs/protocols/library-api.md
// §5.2): the image by tag (or by hash for @version), then its file by
// hash, so every range of a concurrent or resumed download reads the
// same bytes even if the tag moves meanwhile.
func libraryPullSource(ctx context.Context, ref client.Ref, o *pullOptions) (pullSource, error) {
	t, err := openLibrary(ctx, ref, o.noHTTPS)
	if err != nil {
		return pullSource{}, err
	}
	path := t.path(ref)
	tag := ref.Tag()
	lookup := path + ":" + tag
	if ref.Version != "" {
		if !client.IsSHA256Hex(ref.Version) {
			return pullSource{}, fmt.Errorf("version %q is not an image's sha256 (64 hex digits)", ref.Version)
		}
		lookup = path + ":sha256." + ref.Version
	}
	img, err := t.lib.GetImage(ctx, lookup, o.arch)
	if client.IsNotFound(err) {
		return pullSource{}, fmt.Errorf("image %s (%s) not found", t.uri(path, tag), o.arch)
	}
	if err != nil {
		return pullSource{}, err
	}
	if !client.IsSHA256Hex(img.SHA256()) || img.Size < 0 {
		return pullSource{}, fmt.Errorf("the server describes the image with hash %q, not sha256.<hex>", img.Hash)
	}
	byHash := path + ":" + img.Hash
	_, col, con := splitPath(path)
	src := pullSource{
		name:   catalogue.Name{Collection: col, Container: con, Tag: tag, Version: img.SHA256()},
		client: client.SchemeLibrary,
		source: t.uri(path, tag),
		download: client.Download{URL: t.lib.ImageFileURL(byHash, img.Arch), Doer: t.lib,
			Size: img.Size, SHA256: img.SHA256()},
	}
	src.metrics = libraryMetrics(ctx, t, img, byHash, tag)
	return src, nil
}

// libraryMetrics is what the catalogue keeps about a library image, in
// the shape of seed 004's inspect "metrics": the server's description
// and, under "metadata", what it read from the SIF. Metadata the server
// has not read yet is left out rather than failing the pull.
func libraryMetrics(ctx context.Context, t *libraryTarget, img client.Image, byHash, tag string) map[string]any {
	m := map[string]any{
		"add_date": img.CreatedAt, "arch": img.Arch, "collection": img.CollectionName, "entity": img.EntityName,
		"id": img.ID, "image": t.lib.ImageFileURL(byHash, img.Arch), "metrics": map[string]any{},
		"name": img.ContainerName, "selfLink": t.lib.URL + "/v1/images/" + img.Path() + ":" + tag,
		"signed": img.Signed, "size": img.Size, "tag": tag, "version": img.Hash,
	}
	if in, err := t.lib.Inspect(ctx, byHash, img.Arch); err == nil {
		m["metadata"] = map[string]any{
			"deffile": nullIfEmpty(in.Definition()), "runscript": nullIfEmpty(in.Inspection.Runscript),
			"environment": nullIfEmpty(in.Environment()), "test": nullIfEmpty(in.Inspection.Test),
			"labels": in.Labels, "size_mb": img.Size >> 20,
		}
	}
	return m
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// splitPath splits entity/collection/container.
func splitPath(path string) (entity, collection, container string) {
	parts := strings.SplitN(path, "/", 3)
	return parts[0], parts[1], parts[2]
}

// ociPullSource resolves an oras:// or docker:// ref to its SIF layer,
// with the credentials Singularity's precedence gives
// (credstore.Resolve, docs/protocols/oci-and-auth.md §4.5).
func ociPullSource(ctx context.Context, out *Out, ref client.Ref, o *pullOptions) (pullSource, error) {
	host := registryHost(ref.Host)
	cred, err := credstore.Resolve(ctx, credstore.ResolveOptions{Username: o.creds.username, Password: o.creds.password,
		AuthFile: o.creds.authFile, Warnf: out.Warnf}, ref.Host, ref.Path)
	if err != nil {
		return pullSource{}, err
	}
	reference := ref.Tag()
	if ref.Digest != "" {
		reference = ref.Digest
	}
	reg := client.OCI{Host: host, Insecure: o.noHTTPS, HTTP: transferHTTP, Username: cred.Username, Password: cred.Password,
		RegistryToken: cred.RegistryToken}
	art, err := reg.ResolveSIF(ctx, ref.Path, reference, o.arch)
	if err != nil {
		return pullSource{}, err
	}
	col, con := ociName(ref.Path)
	tag := ref.Tag()
	if len(ref.Tags) == 0 && ref.Digest != "" {
		tag = strings.TrimPrefix(ref.Digest, "sha256:")[:12]
	}
	return pullSource{
		name:     catalogue.Name{Collection: col, Container: con, Tag: tag, Version: art.SHA256()},
		client:   ref.Scheme,
		source:   ref.Scheme + "://" + ref.Host + "/" + ref.Path + ":" + reference,
		download: client.Download{URL: art.BlobURL, Doer: art.Doer, Size: art.Layer.Size, SHA256: art.SHA256()},
		metrics: map[string]any{"manifest": art.ManifestDigest, "mediaType": art.Layer.MediaType,
			"annotations": art.Layer.Annotations, "image": art.BlobURL, "size": art.Layer.Size, "tag": tag,
			"version": art.Layer.Digest.String()},
	}, nil
}

// ociName maps a repository to collection/container: its last two
// components, or "library" and the name for a one-component repository
// (sregistry-cli's default collection).
func ociName(repo string) (string, string) {
	parts := strings.Split(repo, "/")
	if len(parts) == 1 {
		return "library", parts[0]
	}
	return parts[len(parts)-2], parts[len(parts)-1]
}

// shubPullSource reads the shub manifest (docs/protocols/sregistry-api.md
// §4): its image URL, and the sha256 it gives to verify the download.
func shubPullSource(ctx context.Context, ref client.Ref, o *pullOptions) (pullSource, error) {
	scheme := "https"
	if o.noHTTPS {
		scheme = "http"
	}
	sh := client.Shub{Base: scheme + "://" + ref.Host, HTTP: transferHTTP}
	col, con, _ := strings.Cut(ref.Path, "/")
	m, err := sh.Manifest(ctx, col, con, ref.Tag(), ref.Version)
	if err != nil {
		return pullSource{}, err
	}
	name := catalogue.Name{Collection: col, Container: con, Tag: ref.Tag(), Version: m.SHA256()}
	return pullSource{
		name:     name,
		client:   client.SchemeShub,
		source:   "shub://" + ref.Host + "/" + name.URI(),
		download: client.Download{URL: m.Image, Doer: sh, Size: sh.Size(ctx, m.Image), SHA256: m.SHA256()},
		metrics: map[string]any{"image": m.Image, "name": m.Name, "tag": m.Tag, "collection": m.Collection,
			"version": m.Version, "commit": m.Commit},
	}, nil
}
