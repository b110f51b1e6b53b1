package sifinspect

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/silo-hpc/silo/internal/sifinspect/sifinspecttest"
)

// FuzzInspect feeds damaged SIFs to Inspect: it must neither panic (the
// recover would hide it, so its error is checked) nor allocate past the
// bound. Seeds are built in pure Go from the committed squashfs fixtures,
// so `go test -fuzz FuzzInspect` needs no external tool; they are kept
// small (a descriptor table of 6 rather than 48) because the fuzzer
// minimizes each new input by trying to cut it, at one run per try.
func FuzzInspect(f *testing.F) {
	f.Add(fixture(f, "signed-gzip.sif"))
	for _, name := range []string{"singularity-gzip.sqfs", "singularity-xz.sqfs", "singularity-zstd.sqfs"} {
		sq := fixture(f, name)
		plain := sifinspecttest.SIF(f, sq, sifinspecttest.SIFOptions{Deffile: sifinspecttest.Deffile, Labels: sifLabels(), Descriptors: 6})
		f.Add(plain)
		f.Add(plain[:len(plain)-len(sq)/2])
		damaged := bytes.Clone(plain)
		damaged[len(plain)-len(sq)+100] ^= 0xff
		f.Add(damaged)
	}
	f.Add(sifinspecttest.SIF(f, fixture(f, "sparse-4g.sqfs"), sifinspecttest.SIFOptions{Descriptors: 2}))
	f.Fuzz(func(t *testing.T, img []byte) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ins, err := Inspect(context.Background(), bytes.NewReader(img), int64(len(img)), Options{Timeout: time.Second})
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > maxExtra {
			t.Errorf("allocated %d bytes", n)
		}
		if err != nil {
			if strings.Contains(err.Error(), "panicked") {
				t.Fatal(err)
			}
			return
		}
		if _, err := json.Marshal(ins); err != nil {
			t.Errorf("inspection does not encode: %v", err)
		}
	})
}
