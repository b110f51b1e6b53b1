package oci

import (
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

// ParseManifest decodes a manifest body and checks every descriptor digest
// it references is well formed. Errors are MANIFEST_INVALID.
func ParseManifest(body []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(body, &m); err != nil {
		return Manifest{}, Errorf(CodeManifestInvalid, apperr.Invalid, "manifest is not valid JSON: %v", err)
	}
	for _, d := range m.References() {
		if _, err := ParseDigest(string(d.Digest)); err != nil {
			return Manifest{}, Errorf(CodeManifestInvalid, apperr.Invalid, "manifest references an invalid digest %q", truncate(string(d.Digest)))
		}
	}
	if m.Subject != nil {
		if _, err := ParseDigest(string(m.Subject.Digest)); err != nil {
			return Manifest{}, Errorf(CodeManifestInvalid, apperr.Invalid, "invalid subject digest")
		}
	}
	return m, nil
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
