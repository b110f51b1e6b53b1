package meta

// OCI stores OCI repositories, manifests, tags, referrers and blob records.
type OCI interface{}
