package meta

// Library stores library images, per-architecture tags and labels.
type Library interface{}
