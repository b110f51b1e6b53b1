package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
)

// Doer sends a request: a Library adds its token, an OCI auth client its
// registry tokens, a plain *http.Client nothing.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Progress hears how a transfer advances; nil hears nothing.
type Progress interface {
	Begin(total, done int64) // done: bytes a resumed download already has
	Add(n int)
}

// Download fetches one file with HTTP Range requests into Dest:
//   - the bytes land in Dest+".silo-part"; which parts are complete is
//     kept beside it (Dest+".silo-part.json"), so an interrupted download
//     (network error, Ctrl-C) resumes where it stopped;
//   - a large file is fetched as several ranges at once;
//   - the whole file is hashed while it arrives (in order, reading back
//     what the ranges wrote) and compared with SHA256 before it is renamed
//     to Dest: bytes that do not match are deleted, never kept;
//   - a local write error (a full disk) deletes the partial file too.
type Download struct {
	URL         string
	Doer        Doer
	Size        int64  // < 0: unknown (one stream, no resume)
	SHA256      string // expected hex; "" = not verified (shub without a hash)
	Dest        string
	Concurrency int   // most ranges at once; default 4
	PartSize    int64 // default 8 MiB
	// SlowRate (bytes/s), when > 0, starts with one range and opens the
	// others only when the first part arrives slower than that (or not
	// within a second): several TCP streams help a link one stream cannot
	// fill, and on a fast one only compete for the CPU that hashes.
	// 0 opens Concurrency ranges at once.
	SlowRate int64
	Progress Progress
}

// DownloadResult says what happened.
type DownloadResult struct {
	SHA256  string // of the file as kept
	Size    int64
	Resumed int64 // bytes an earlier attempt had fetched
}

// HashMismatchError: the bytes received are not the ones the server named.
type HashMismatchError struct{ Want, Got string }

func (e *HashMismatchError) Error() string {
	return fmt.Sprintf("downloaded image's sha256 %s does not match the server's %s: the download was deleted", e.Got, e.Want)
}

// localError marks a failure to write the file (not the network's), after
// which the partial file is not worth keeping.
type localError struct{ err error }

func (e *localError) Error() string { return "writing the image: " + e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

const (
	defaultConcurrency = 4
	defaultPartSize    = 8 << 20
	copyBuffer         = 1 << 20
)

// PartialPath is where Download keeps the bytes of an unfinished dest.
func PartialPath(dest string) string { return dest + ".silo-part" }

func statePath(dest string) string { return PartialPath(dest) + ".json" }

// downloadState is the resume record: which parts of which file are in
// the partial file.
type downloadState struct {
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	PartSize int64  `json:"part_size"`
	Done     []int  `json:"done"`
}

// Run downloads. On a network error or cancellation the partial file and
// its record stay for the next Run; on any other failure nothing stays.
func (d Download) Run(ctx context.Context) (DownloadResult, error) {
	if d.Size < 0 {
		return d.stream(ctx)
	}
	if d.PartSize <= 0 {
		d.PartSize = defaultPartSize
	}
	if d.Concurrency <= 0 {
		d.Concurrency = defaultConcurrency
	}
	j, err := d.open()
	if err != nil {
		return DownloadResult{}, err
	}
	res, err := j.run(ctx)
	j.f.Close()
	var hm *HashMismatchError
	var le *localError
	switch {
	case err == nil:
		if err := os.Rename(PartialPath(d.Dest), d.Dest); err != nil {
			d.discard()
			return res, &localError{err}
		}
		os.Remove(statePath(d.Dest))
		return res, nil
	case errors.Is(err, errNoRange):
		// A server without Range support still serves the whole file.
		d.discard()
		return d.stream(ctx)
	case errors.As(err, &hm), errors.As(err, &le):
		d.discard()
	default:
		j.saveState()
	}
	return res, err
}

// discard removes the partial file and its record.
func (d Download) discard() {
	os.Remove(PartialPath(d.Dest))
	os.Remove(statePath(d.Dest))
}

// job is one Run's shared state.
type job struct {
	d      Download
	f      *os.File
	parts  int
	mu     sync.Mutex
	done   []bool
	ready  chan struct{} // signalled when a part completes
	resume int64
	// first is closed when the first part fetched by this run completes.
	first     chan struct{}
	firstOnce sync.Once
	firstLen  int64 // the length of that part
}

// open loads a matching resume record, or starts a fresh partial file.
func (d Download) open() (*job, error) {
	parts := int((d.Size + d.PartSize - 1) / d.PartSize)
	j := &job{d: d, parts: parts, done: make([]bool, parts), ready: make(chan struct{}, 1), first: make(chan struct{})}
	var st downloadState
	b, err := os.ReadFile(statePath(d.Dest))
	fresh := err != nil || json.Unmarshal(b, &st) != nil || st.SHA256 != d.SHA256 || d.SHA256 == "" ||
		st.Size != d.Size || st.PartSize != d.PartSize
	flags := os.O_RDWR | os.O_CREATE
	if fresh {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(PartialPath(d.Dest), flags, 0o644)
	if err != nil {
		return nil, &localError{err}
	}
	if fi, err := f.Stat(); err == nil && !fresh && fi.Size() == d.Size {
		for _, n := range st.Done {
			if n >= 0 && n < parts && !j.done[n] {
				j.done[n] = true
				j.resume += j.partLen(n)
			}
		}
	} else if err := f.Truncate(d.Size); err != nil {
		f.Close()
		return nil, &localError{err}
	}
	j.f = f
	return j, nil
}

func (j *job) partLen(n int) int64 {
	return min(j.d.PartSize, j.d.Size-int64(n)*j.d.PartSize)
}

// saveState records the completed parts (best effort: losing it only
// costs a refetch).
func (j *job) saveState() {
	j.mu.Lock()
	st := downloadState{SHA256: j.d.SHA256, Size: j.d.Size, PartSize: j.d.PartSize, Done: []int{}}
	for n, ok := range j.done {
		if ok {
			st.Done = append(st.Done, n)
		}
	}
	j.mu.Unlock()
	if st.SHA256 == "" {
		return
	}
	b, _ := json.Marshal(st)
	tmp := statePath(j.d.Dest) + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		os.Rename(tmp, statePath(j.d.Dest))
	}
}

func (j *job) markDone(n int) {
	j.mu.Lock()
	j.done[n] = true
	j.mu.Unlock()
	j.firstOnce.Do(func() { close(j.first) })
	select {
	case j.ready <- struct{}{}:
	default:
	}
}

func (j *job) isDone(n int) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.done[n]
}

// run fetches the missing parts (one stream when the file is small or
// one worker is asked for, several otherwise) while hash follows them.
func (j *job) run(ctx context.Context) (DownloadResult, error) {
	res := DownloadResult{Size: j.d.Size, Resumed: j.resume}
	if j.d.Progress != nil {
		j.d.Progress.Begin(j.d.Size, j.resume)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	var fetchErr error
	var once sync.Once
	fail := func(err error) {
		once.Do(func() { fetchErr = err })
		cancel(err)
	}
	j.startWorkers(ctx, &wg, fail)
	sum, hashErr := j.hash(ctx)
	wg.Wait()
	if fetchErr != nil {
		return res, fetchErr
	}
	if hashErr != nil {
		return res, hashErr
	}
	res.SHA256 = sum
	if j.d.SHA256 != "" && !strings.EqualFold(sum, j.d.SHA256) {
		return res, &HashMismatchError{Want: j.d.SHA256, Got: sum}
	}
	return res, nil
}

// errNoRange: the server answered a ranged request with something else.
var errNoRange = errors.New("the server does not honour Range requests")

// fetch GETs parts first..last in one ranged request and writes them in
// place, marking each part done as its last byte lands.
func (j *job) fetch(ctx context.Context, first, last int) error {
	start := int64(first) * j.d.PartSize
	end := int64(last)*j.d.PartSize + j.partLen(last) // exclusive
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.d.URL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", start, end-1))
	resp, err := j.d.Doer.Do(req)
	if err != nil {
		return fmt.Errorf("error downloading image: %w", err)
	}
	defer resp.Body.Close()
	if err := rangeAnswer(resp, start, end, j.d.Size); err != nil {
		return err
	}
	buf := make([]byte, copyBuffer)
	off, part := start, first
	for off < end {
		n, rerr := io.ReadFull(resp.Body, buf[:min(int64(len(buf)), end-off, int64(part+1)*j.d.PartSize-off)])
		if n > 0 {
			if _, err := j.f.WriteAt(buf[:n], off); err != nil {
				return &localError{err}
			}
			off += int64(n)
			if j.d.Progress != nil {
				j.d.Progress.Add(n)
			}
			if off == int64(part)*j.d.PartSize+j.partLen(part) {
				j.markDone(part)
				part++
			}
		}
		if rerr != nil && off < end {
			return fmt.Errorf("error downloading image: %w", unexpectedEOF(rerr))
		}
	}
	return nil
}

// rangeAnswer accepts 206 for exactly [start, end), or 200 with the whole
// file when that is what was asked; anything else is an error (the
// server's message when it sent one).
func rangeAnswer(resp *http.Response, start, end, size int64) error {
	switch resp.StatusCode {
	case http.StatusPartialContent:
		want := fmt.Sprintf("bytes %d-%d/%d", start, end-1, size)
		if cr := resp.Header.Get("Content-Range"); cr != want {
			return fmt.Errorf("server answered range %q to a request for %q: %w", cr, want, errNoRange)
		}
		return nil
	case http.StatusOK:
		if start == 0 && end == size && (resp.ContentLength < 0 || resp.ContentLength == size) {
			return nil
		}
		return errNoRange
	case http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("server has a different file than announced (416 for bytes %d-%d): %w", start, end-1, errNoRange)
	}
	return checkStatus(resp)
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// hash reads the file part by part, in order, as the parts complete, and
// returns its sha256 hex. It reads back from the page cache what the
// fetchers wrote, so it runs beside them.
func (j *job) hash(ctx context.Context) (string, error) {
	h := sha256.New()
	buf := make([]byte, copyBuffer)
	for n := 0; n < j.parts; n++ {
		for !j.isDone(n) {
			select {
			case <-j.ready:
			case <-ctx.Done():
				return "", context.Cause(ctx)
			}
		}
		r := io.NewSectionReader(j.f, int64(n)*j.d.PartSize, j.partLen(n))
		if _, err := io.CopyBuffer(h, r, buf); err != nil {
			return "", &localError{err}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// stream downloads a file of unknown size in one GET, hashing as it
// writes. It cannot resume: without a size there is no record to trust.
func (d Download) stream(ctx context.Context) (DownloadResult, error) {
	var res DownloadResult
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL, nil)
	if err != nil {
		return res, err
	}
	resp, err := d.Doer.Do(req)
	if err != nil {
		return res, fmt.Errorf("error downloading image: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return res, checkStatus(resp)
	}
	f, err := os.OpenFile(PartialPath(d.Dest), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return res, &localError{err}
	}
	if d.Progress != nil {
		d.Progress.Begin(resp.ContentLength, 0)
	}
	h := sha256.New()
	res.Size, err = copyHashed(f, h, resp.Body, d.Progress)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = &localError{cerr}
	}
	if err == nil && resp.ContentLength >= 0 && res.Size != resp.ContentLength {
		err = fmt.Errorf("image received is not the right size: %d bytes of %d", res.Size, resp.ContentLength)
	}
	res.SHA256 = hex.EncodeToString(h.Sum(nil))
	if err == nil && d.SHA256 != "" && !strings.EqualFold(res.SHA256, d.SHA256) {
		err = &HashMismatchError{Want: d.SHA256, Got: res.SHA256}
	}
	if err == nil {
		err = os.Rename(PartialPath(d.Dest), d.Dest)
	}
	if err != nil {
		d.discard()
	}
	return res, err
}

// copyHashed copies r to f and h, telling p.
func copyHashed(f io.Writer, h io.Writer, r io.Reader, p Progress) (int64, error) {
	buf := make([]byte, copyBuffer)
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return total, &localError{err}
			}
			h.Write(buf[:n])
			total += int64(n)
			if p != nil {
				p.Add(n)
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, fmt.Errorf("error downloading image: %w", rerr)
		}
	}
}
