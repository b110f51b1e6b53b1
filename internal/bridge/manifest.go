package bridge

import (
	"encoding/json"

	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/meta"
	"github.com/silo-hpc/silo/internal/oci"
)

// ManifestRow builds the stored row of a manifest: the registry stores
// pushed ones and the mirror its own, the same way. mt is the media type
// GET answers with (for a pushed one, oci.MediaTypeOf).
func ManifestRow(d digest.Digest, mt string, body []byte, m oci.Manifest) meta.Manifest {
	row := meta.Manifest{Digest: d.String(), MediaType: mt, Content: body, ArtifactType: m.ArtifactType}
	if m.Config != nil {
		row.ConfigMediaType = m.Config.MediaType
	}
	if m.Subject != nil {
		row.Subject = m.Subject.Digest.String()
	}
	if len(m.Annotations) > 0 {
		b, _ := json.Marshal(m.Annotations)
		row.Annotations = string(b)
	}
	return row
}

// RefDigests lists the digests m references (config, layers, entries).
func RefDigests(m oci.Manifest) []string {
	var out []string
	for _, d := range m.References() {
		out = append(out, d.Digest.String())
	}
	return out
}
