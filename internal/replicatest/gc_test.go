package replicatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/minio/minio-go/v7"
	"github.com/opencontainers/go-digest"

	"github.com/silo-hpc/silo/internal/blob"
	"github.com/silo-hpc/silo/internal/gc"
	"github.com/silo-hpc/silo/internal/upload"
)

// rounds is how many times the GC race runs (SILO_GC_RACE_ROUNDS raises
// it for a longer hunt).
func rounds() int {
	if n, err := strconv.Atoi(os.Getenv("SILO_GC_RACE_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 2
}

// TestGCWhilePushing runs the collector in a loop on one replica, with
// no grace period at all, while clients push to the other images made of
// a few shared layers, and delete earlier ones: each shared layer keeps
// becoming unreferenced, collected and pushed again. A push may be
// refused (503, or a manifest naming a blob collected meanwhile: it is
// pushed again), but nothing a stored manifest references may ever be
// missing. At the end, once everything is deleted and collected, nothing
// at all is left in the bucket but the one blob kept for good.
func TestGCWhilePushing(t *testing.T) {
	c := newCluster(t, 2)
	for round := range rounds() {
		t.Run(fmt.Sprint(round), func(t *testing.T) { c.gcRace(t, round) })
	}
	c.finalCollection(t)
}

// sharedLayers are what the pushed images are made of; one spans several
// S3 parts.
func sharedLayers(t *testing.T) []v1.Layer {
	var out []v1.Layer
	for _, size := range []int64{1 << 10, 64 << 10, 300 << 10, 11 << 20} {
		l, err := random.Layer(size, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

type pushed struct {
	repo string
	d    v1.Hash
}

// burst is how many collections the collector runs in a row while no
// push completes, before it waits for one. With no grace period at all,
// whatever a push stored but has not yet named in its manifest is
// collectable at once (docs/gc.md, "The grace period"): a collector
// looping back to back could refuse every attempt of a slow push for
// ever. Waiting for a push once in a while guarantees progress (the
// attempts made while it waits meet no collection) without sleeping;
// every other collection still races the pushes in flight.
const burst = 4

// maxAttempts bounds one push's attempts. A refused attempt met a
// collection, and the collector runs at most burst times per push that
// completes (about burst × 24 times a round), while the attempts made
// while it waits meet none: reaching it means pushes fail for another
// reason than the collector.
const maxAttempts = 100

// ready is always ready: a select on it does not wait.
var ready = func() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

func (c *cluster) gcRace(t *testing.T, round int) {
	shared := sharedLayers(t)
	collector := c.replicas[0].Collector
	stop := make(chan struct{})
	progress := make(chan struct{}, 1) // a push completed
	var runs, freed, refused atomic.Int64
	var gcErr error
	var gcDone sync.WaitGroup
	gcDone.Go(func() {
		for idle := 0; ; idle++ {
			var pause <-chan struct{} // nil: wait for a push (or the end)
			if idle < burst {
				pause = ready
			}
			select {
			case <-stop:
				return
			case <-progress:
				idle = 0
			case <-pause:
			}
			r, err := collector.Collect(context.Background(), gc.Options{Grace: 0})
			if err != nil {
				gcErr = err
				return
			}
			runs.Add(1)
			freed.Add(int64(r.Blobs + r.Orphans))
		}
	})
	const pushers, perPusher = 4, 6
	var mu sync.Mutex
	var live []pushed
	var wg sync.WaitGroup
	for p := range pushers {
		wg.Go(func() {
			for i := range perPusher {
				repo := fmt.Sprintf("alice/gc%d-%d", round, (p+i)%3)
				img := c.image(t, shared, p*100+i, (p+i)%len(shared))
				d, n, err := c.pushRetrying(repo, img)
				refused.Add(int64(n))
				if err != nil {
					t.Errorf("push to %s refused %d times, last: %v", repo, n, err)
					return
				}
				select {
				case progress <- struct{}{}:
				default:
				}
				mu.Lock()
				live = append(live, pushed{repo, d})
				var victim *pushed
				if len(live) > 3 && i%2 == 0 {
					v := live[0]
					live = live[1:]
					victim = &v
				}
				mu.Unlock()
				if victim != nil {
					c.deleteManifest(t, *victim)
				}
				c.abandonedUploads(t, repo)
			}
		})
	}
	wg.Wait()
	close(stop)
	gcDone.Wait()
	if gcErr != nil {
		t.Fatalf("collector: %v", gcErr)
	}
	if t.Failed() {
		t.FailNow()
	}
	if runs.Load() < 2 || freed.Load() == 0 {
		t.Fatalf("the collector ran %d times and freed %d blobs: the race was not run", runs.Load(), freed.Load())
	}
	// Nothing referenced was lost: every live image pulls whole from the
	// replica that collected, also after one more collection.
	c.checkLive(t, live)
	if _, err := collector.Collect(context.Background(), gc.Options{Grace: 0}); err != nil {
		t.Fatal(err)
	}
	c.checkLive(t, live)
	for _, p := range live {
		c.deleteManifest(t, p)
	}
	t.Logf("round %d: %d collections freed %d blobs; %d push attempts were refused", round, runs.Load(), freed.Load(), refused.Load())
}

// image makes an image of some shared layers and a layer of its own.
func (c *cluster) image(t *testing.T, shared []v1.Layer, n, first int) v1.Image {
	own, err := random.Layer(2<<10, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	layers := append([]v1.Layer{shared[first], shared[(first+1)%len(shared)]}, own)
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf.Config.Env = []string{fmt.Sprintf("N=%d", n)}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// pushRetrying pushes img to the second replica until it succeeds, at
// most maxAttempts times: the collector may refuse a step (503) or take a
// blob the manifest then names (the push is made again). It returns how
// many attempts were refused.
func (c *cluster) pushRetrying(repo string, img v1.Image) (v1.Hash, int, error) {
	d, _ := img.Digest()
	ref, err := name.ParseReference(c.replicas[1].Host+"/"+repo+"@"+d.String(), name.Insecure)
	if err != nil {
		return d, 0, err
	}
	opts := append(c.ggcr("alice"), remote.WithRetryBackoff(remote.Backoff{Duration: 10 * time.Millisecond, Factor: 2, Steps: 4}))
	for n := range maxAttempts {
		if err = remote.Write(ref, img, opts...); err == nil {
			return d, n, nil
		}
	}
	return d, maxAttempts, err
}

func (c *cluster) deleteManifest(t *testing.T, p pushed) {
	ref := c.ref(c.replicas[1].Host, p.repo+"@"+p.d.String())
	if err := remote.Delete(ref, c.ggcr("alice")...); err != nil {
		t.Errorf("delete %s: %v", ref, err)
	}
}

// abandonedUploads leaves what clients leave: a session cancelled after
// a chunk, and a closing PUT whose digest does not match.
func (c *cluster) abandonedUploads(t *testing.T, repo string) {
	base := c.replicas[1].URL + "/v2/" + repo + "/blobs/uploads/"
	start := func() string {
		resp := c.do("POST", base, "alice", nil, nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("POST = %d", resp.StatusCode)
		}
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "http") {
			loc = c.replicas[1].URL + loc
		}
		return loc
	}
	chunk := bytes.Repeat([]byte("abandoned"), 1000)
	loc := start()
	c.do("PATCH", loc, "alice", chunk, map[string]string{"Content-Type": "application/octet-stream"})
	if resp := c.do("DELETE", loc, "alice", nil, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("cancel = %d", resp.StatusCode)
	}
	loc = start()
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	wrong := digest.FromString("not the content")
	if resp := c.do("PUT", loc+sep+"digest="+wrong.String(), "alice", chunk, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("mismatching PUT = %d", resp.StatusCode)
	}
}

// checkLive pulls every live image whole from the first replica.
func (c *cluster) checkLive(t *testing.T, live []pushed) {
	t.Helper()
	for _, p := range live {
		img, err := remote.Image(c.ref(c.replicas[0].Host, p.repo+"@"+p.d.String()), c.ggcr("alice")...)
		if err != nil {
			t.Fatalf("live image %s@%s: %v", p.repo, p.d, err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("live image %s@%s lost data: %v", p.repo, p.d, err)
		}
	}
}

// finalCollection collects once everything is deleted: the bucket keeps
// the {} blob and nothing else (no blob, no session, no multipart
// upload) once the sessions clients abandoned are swept.
func (c *cluster) finalCollection(t *testing.T) {
	ctx := context.Background()
	r := c.replicas[0]
	for range 2 { // links go first, then their blobs
		if _, err := r.Collector.Collect(ctx, gc.Options{Grace: 0}); err != nil {
			t.Fatal(err)
		}
	}
	var left []string
	r.Blobs.Walk(ctx, func(i blob.Info) error { left = append(left, i.Digest.String()); return nil })
	if len(left) != 1 {
		t.Fatalf("after deleting everything and collecting, %d blobs are left: %v", len(left), left)
	}
	// Clients abandon sessions: go-containerregistry starts a blob's
	// upload over after a refused closing PUT (a 503 while the collector
	// removes that blob) and leaves the first session as it was. Such a
	// session keeps its bytes until uploads.idle_timeout: whatever the
	// bucket still holds under uploads/ must belong to a session still
	// open, or it leaked.
	held := c.openSessions(t)
	objs, mpus := c.uploadLeftovers(t)
	for _, o := range objs {
		if id, _, _ := strings.Cut(strings.TrimPrefix(o, "uploads/"), "/"); !held[id] {
			t.Errorf("leaked: %s, of no open session", o)
		}
	}
	for _, m := range mpus {
		if !held[m.UploadID] {
			t.Errorf("leaked: multipart upload %s of %s, of no open session", m.UploadID, m.Key)
		}
	}
	t.Logf("open sessions hold %d objects and %d multipart uploads", len(objs), len(mpus))
	// The sweep, on a clock past every session's idle timeout, ends them
	// all, and takes their bytes.
	later := time.Now().Add(time.Duration(r.Config.Uploads.IdleTimeout) + time.Hour)
	sweeper := upload.New(r.Meta, r.Blobs, r.Log, upload.Config{Now: func() time.Time { return later }})
	if _, err := sweeper.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	objs, mpus = c.uploadLeftovers(t)
	for _, o := range objs {
		t.Errorf("left in the bucket after the sweep: %s", o)
	}
	for _, m := range mpus {
		t.Errorf("multipart upload left after the sweep: %s %s", m.Key, m.UploadID)
	}
}

// openSessions returns the blob-store session ids and multipart upload
// ids the open upload sessions hold.
func (c *cluster) openSessions(t *testing.T) map[string]bool {
	rows, err := c.replicas[0].Meta.ListExpiredUploads(context.Background(), time.Now().Add(100*365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]bool{}
	for _, row := range rows {
		var st struct {
			Blob struct {
				Upload string `json:"upload"`
			} `json:"blob"`
		}
		if err := json.Unmarshal([]byte(row.State), &st); err != nil {
			t.Fatalf("session %s: %v", row.ID, err)
		}
		held[row.BlobUploadID], held[st.Blob.Upload] = true, true
	}
	delete(held, "")
	return held
}

// uploadLeftovers lists what is in the bucket besides blobs, and the
// multipart uploads not completed.
func (c *cluster) uploadLeftovers(t *testing.T) ([]string, []minio.ObjectMultipartInfo) {
	ctx := context.Background()
	s3c := c.S3.Client(t)
	var objs []string
	for obj := range s3c.ListObjects(ctx, c.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if obj.Err != nil {
			t.Fatal(obj.Err)
		}
		if !strings.HasPrefix(obj.Key, "blobs/") {
			objs = append(objs, obj.Key)
		}
	}
	var mpus []minio.ObjectMultipartInfo
	for mpu := range s3c.ListIncompleteUploads(ctx, c.Bucket, "", true) {
		if mpu.Err != nil {
			t.Fatal(mpu.Err)
		}
		mpus = append(mpus, mpu)
	}
	return objs, mpus
}
