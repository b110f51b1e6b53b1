package oci

import (
	"bytes"
	"encoding/json"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/apperr"
)

// Descriptor is the part of an OCI descriptor Silo reads and writes.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Platform     *Platform         `json:"platform,omitempty"`
	// URLs are where a non-distributable layer lives; such a layer is not
	// pushed to the registry.
	URLs []string `json:"urls,omitempty"`
}

// Platform is an index entry's platform.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Manifest is what Silo needs from a manifest or index: its references,
// its subject and the fields the referrers API reports. Unknown fields are
// ignored here and kept in the stored bytes.
type Manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType,omitempty"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        *Descriptor       `json:"config,omitempty"`
	Layers        []Descriptor      `json:"layers,omitempty"`
	Manifests     []Descriptor      `json:"manifests,omitempty"`
	Subject       *Descriptor       `json:"subject,omitempty"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

// ParseManifest decodes a manifest or index and checks it is one: a JSON
// object with schemaVersion 2 and either a config (an image manifest) or
// a manifests list (an index), every descriptor with a media type, a
// well-formed digest and a size. Anything else (null, {}, a list, a
// schema 1 manifest) is apperr.Invalid about a Manifest.
func ParseManifest(body []byte) (Manifest, error) {
	var m Manifest
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return Manifest{}, invalidManifest("a manifest is a JSON object")
	}
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return Manifest{}, invalidManifest("manifest is not valid JSON: %v", err)
	}
	if m.SchemaVersion != 2 {
		return Manifest{}, invalidManifest("schemaVersion must be 2, not %d", m.SchemaVersion)
	}
	index := IsIndex(m.MediaType) || (m.MediaType == "" && m.Manifests != nil && m.Config == nil)
	switch {
	case index && m.Manifests == nil:
		return Manifest{}, invalidManifest("an index needs a manifests list")
	case index && (m.Config != nil || m.Layers != nil):
		return Manifest{}, invalidManifest("an index has no config or layers")
	case !index && m.Config == nil:
		return Manifest{}, invalidManifest("an image manifest needs a config")
	case !index && m.Manifests != nil:
		return Manifest{}, invalidManifest("an image manifest has no manifests list")
	}
	for _, d := range m.References() {
		if err := checkDescriptor(d); err != nil {
			return Manifest{}, err
		}
	}
	if m.Subject != nil {
		if err := checkDescriptor(*m.Subject); err != nil {
			return Manifest{}, err
		}
	}
	return m, nil
}

// IsIndex reports whether m is an image index (or manifest list).
func (m Manifest) IsIndex() bool { return m.Config == nil && m.Manifests != nil }

func checkDescriptor(d Descriptor) error {
	if _, err := ParseDigest(string(d.Digest)); err != nil {
		return invalidManifest("manifest references an invalid digest %q", truncate(string(d.Digest)))
	}
	if d.MediaType == "" || d.Size < 0 {
		return invalidManifest("descriptor %s needs a media type and a size", d.Digest)
	}
	return nil
}

func invalidManifest(format string, args ...any) error {
	return apperr.E(apperr.Invalid, apperr.Manifest, format, args...)
}

// References lists the blobs and child manifests m points at (config,
// layers, index entries); the subject is not a reference (it may be
// missing, and deleting it must not be blocked).
func (m Manifest) References() []Descriptor {
	var out []Descriptor
	if m.Config != nil {
		out = append(out, *m.Config)
	}
	out = append(out, m.Layers...)
	return append(out, m.Manifests...)
}

// ReferrerArtifactType is the artifactType the referrers API reports for
// m: its own, else the config media type of an image manifest (spec
// "Listing Referrers").
func (m Manifest) ReferrerArtifactType() string {
	if m.ArtifactType != "" {
		return m.ArtifactType
	}
	if m.Config != nil && len(m.Manifests) == 0 {
		return m.Config.MediaType
	}
	return ""
}

// IsSIF reports whether m is a SIF artifact as Singularity and Apptainer
// push it: one layer of the SIF layer type. The config type is not checked,
// as the clients do not check it either (notes §4.6).
func (m Manifest) IsSIF() bool {
	return len(m.Manifests) == 0 && len(m.Layers) == 1 &&
		(m.Layers[0].MediaType == SIFLayerMediaType || m.Layers[0].MediaType == SIFLayerMediaTypeOld)
}
