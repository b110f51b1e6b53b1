package oci

import (
	"mime"

	"github.com/opencontainers/go-digest"
)

// Manifest media types Silo recognises when it parses a manifest for its
// references. Any other type is stored and served as is.
const (
	MediaTypeImageManifest      = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeImageIndex         = "application/vnd.oci.image.index.v1+json"
	MediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeEmptyJSON          = "application/vnd.oci.empty.v1+json"
)

// SIF artifacts as `singularity push oras://` writes them and every
// Singularity/Apptainer `pull oras://` reads them (notes §4.6).
const (
	// SIFConfigMediaType is the config of a SIF artifact; its content is {}.
	SIFConfigMediaType = "application/vnd.sylabs.sif.config.v1+json"
	// SIFLayerMediaType is the one layer: the SIF file itself.
	SIFLayerMediaType = "application/vnd.sylabs.sif.layer.v1.sif"
	// SIFLayerMediaTypeOld is the misspelled type old clients wrote; pull
	// still accepts it.
	SIFLayerMediaTypeOld = "appliciation/vnd.sylabs.sif.layer.tar"
	// AnnotationTitle names the file a layer unpacks to.
	AnnotationTitle = "org.opencontainers.image.title"
	// AnnotationCreated is the creation time Apptainer adds.
	AnnotationCreated = "org.opencontainers.image.created"
)

// EmptyJSON is the two-byte config of SIF artifacts, and its digest.
var (
	EmptyJSON       = []byte("{}")
	EmptyJSONDigest = digest.FromBytes(EmptyJSON)
)

// IsIndex reports whether mediaType is a manifest list or image index.
func IsIndex(mediaType string) bool {
	return mediaType == MediaTypeImageIndex || mediaType == MediaTypeDockerManifestList
}

// isManifestType reports whether mediaType is one of the manifest or
// index types Silo knows.
func isManifestType(mediaType string) bool {
	return IsIndex(mediaType) || mediaType == MediaTypeImageManifest || mediaType == MediaTypeDockerManifest
}

// MediaTypeOf is the media type a pushed manifest is stored and served
// as: the body's mediaType when it has one, else the Content-Type the
// client sent (its media type; "" when none), else the type its shape
// says (an index or an image manifest). A Content-Type that names a known
// manifest or index type must agree with the body: a different mediaType,
// or an index type for an image manifest and the reverse, is
// MANIFEST_INVALID, as the image spec asks clients to send the manifest's
// own type and as the distribution registry answers; served under the
// wrong type, the manifest would not parse in clients that trust it.
func MediaTypeOf(contentType string, m Manifest) (string, error) {
	ct, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		ct = ""
	}
	known := isManifestType(ct)
	switch {
	case known && m.MediaType != "" && ct != m.MediaType:
		return "", invalidManifest("Content-Type %s does not match the manifest's mediaType %s", truncate(ct), truncate(m.MediaType))
	case known && IsIndex(ct) != m.IsIndex():
		return "", invalidManifest("Content-Type %s does not match the manifest, which is %s", ct, kindOf(m))
	case m.MediaType != "":
		return m.MediaType, nil
	case ct != "":
		return ct, nil
	case m.IsIndex():
		return MediaTypeImageIndex, nil
	}
	return MediaTypeImageManifest, nil
}

func kindOf(m Manifest) string {
	if m.IsIndex() {
		return "an index"
	}
	return "an image manifest"
}
