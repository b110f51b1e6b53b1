package oci

import "github.com/opencontainers/go-digest"

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
