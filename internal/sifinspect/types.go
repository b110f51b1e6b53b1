package sifinspect

import "time"

// Inspection is what Inspect learns about one image. Field names are part
// of the stored JSON: rename none.
type Inspection struct {
	Header     Header      `json:"header"`
	Partitions []Partition `json:"partitions"`
	Objects    []Object    `json:"objects"`
	// Signatures are the image's signature objects. They are listed, not
	// verified: Signed says signatures are present, nothing more.
	Signatures []Signature `json:"signatures"`
	Signed     bool        `json:"signed"`
	// Encrypted says the image has a crypto message object or an encrypted
	// primary partition (its files are then not read).
	Encrypted bool `json:"encrypted"`

	// Deffile is the SIF definition-file object.
	Deffile string `json:"deffile"`
	// DefinitionBuilt is /.singularity.d/Singularity, the definition file
	// as built into the root file system.
	DefinitionBuilt string `json:"definition_built"`

	// Labels merges the two sources below: labels.json first, then the SIF
	// labels object on top (it can be rewritten after the build without
	// touching the signed partition, so it is the newer word).
	Labels map[string]string `json:"labels"`
	// SIFLabels is the SIF labels object (DataLabels).
	SIFLabels map[string]string `json:"sif_labels"`
	// ImageLabels is /.singularity.d/labels.json.
	ImageLabels map[string]string `json:"image_labels"`

	Runscript   string `json:"runscript"`
	Startscript string `json:"startscript"`
	Test        string `json:"test"`
	// Environment is every regular file of /.singularity.d/env, sorted by
	// name, the order in which Singularity sources them.
	Environment []EnvFile `json:"environment"`

	// Truncated names the contents cut at a size cap ("sif:deffile",
	// "/.singularity.d/runscript", ...).
	Truncated []string `json:"truncated"`
	// Warnings say what could not be read and why; the rest is still valid.
	Warnings []string `json:"warnings"`
}

// Header is the SIF global header and the primary partition.
type Header struct {
	ID       string    `json:"id"`
	Arch     string    `json:"arch"` // Go name (amd64, arm64, ...)
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
	Version  string    `json:"version"` // SIF format version, "01"

	PrimaryFS   string `json:"primary_fs"` // "Squashfs", "Ext3", ...
	PrimaryArch string `json:"primary_arch"`
	PrimarySize int64  `json:"primary_size"`
	// PrimaryCompression is the squashfs compressor ("gzip", "xz", ...),
	// empty when the partition was not read.
	PrimaryCompression string `json:"primary_compression"`
}

// Partition is a SIF partition object.
type Partition struct {
	ID   uint32 `json:"id"`
	Type string `json:"type"` // "Primary System", "Overlay", ...
	FS   string `json:"fs"`
	Arch string `json:"arch"`
	Size int64  `json:"size"`
}

// Object is any SIF data object.
type Object struct {
	ID    uint32 `json:"id"`
	Type  string `json:"type"` // "Def.FILE", "FS", "Signature", ...
	Name  string `json:"name"`
	Group uint32 `json:"group"` // 0: in no group
	// LinkedGroup or LinkedObject is what the object refers to (a
	// signature: what it signs); at most one is set.
	LinkedGroup  uint32 `json:"linked_group"`
	LinkedObject uint32 `json:"linked_object"`
	Size         int64  `json:"size"`
}

// Signature is a SIF signature object.
type Signature struct {
	ID          uint32 `json:"id"`
	Fingerprint string `json:"fingerprint"` // upper-case hex; empty if the object has none
	HashType    string `json:"hash_type"`   // "SHA-256", ...
	// SignedGroup or SignedObject is what the signature covers.
	SignedGroup  uint32 `json:"signed_group"`
	SignedObject uint32 `json:"signed_object"`
}

// EnvFile is one file of /.singularity.d/env.
type EnvFile struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}
