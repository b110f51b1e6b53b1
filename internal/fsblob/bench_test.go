package fsblob

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

// BenchmarkWrite256MiB measures an upload end to end: 32 KiB writes (what
// io.Copy hands over from an HTTP body), hashing, fsync and rename.
func BenchmarkWrite256MiB(b *testing.B) {
	const size, chunk = 256 << 20, 32 << 10
	s, err := New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	buf := randomBytes(7, chunk)
	h := digest.SHA256.Digester()
	for range size / chunk {
		h.Hash().Write(buf)
	}
	d := h.Digest()
	ctx := b.Context()
	b.SetBytes(size)
	for b.Loop() {
		w, err := s.NewUpload(ctx, "")
		if err != nil {
			b.Fatal(err)
		}
		for range size / chunk {
			if _, err := w.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Commit(ctx, d, size); err != nil {
			b.Fatal(err)
		}
		if err := s.Delete(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
}
