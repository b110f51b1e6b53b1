package fsblob

import (
	"encoding"
	"hash"
	"os"
	"sync"
)

// bufSize is the chunk size: small writes (32 KiB from io.Copy) are
// gathered into 1 MiB chunks, so a gigabyte costs a thousand write and
// hash calls.
const bufSize = 1 << 20

// parallelHash is the chunk size from which hashing runs beside the
// write: below it, starting a goroutine costs more than it saves.
const parallelHash = 256 << 10

// sinkDepth is how many chunks one session may have in flight: the caller
// fills one while the worker writes and hashes the previous one.
const sinkDepth = 2

// chunks recycles chunk buffers across sessions: allocating (and zeroing)
// fresh megabytes for every upload dominated the cost of small blobs.
var chunks = sync.Pool{New: func() any { b := make([]byte, 0, bufSize); return &b }}

// sink gathers bytes into chunks and writes and hashes each chunk off the
// caller's goroutine: the disk write and the hash run in parallel, and
// both overlap with the caller reading the next chunk from the network.
//
// It hashes exactly the bytes that reached the file, so after any error the
// hash state still matches the file and the session can resume.
type sink struct {
	f *os.File
	h hash.Hash
	n int64 // bytes written to f and hashed; read only after wait()

	cur     *[]byte       // the chunk being filled, or nil
	slots   chan struct{} // limits chunks in flight to sinkDepth
	work    chan *[]byte
	pending sync.WaitGroup
	mu      sync.Mutex
	err     error
	stopped chan struct{}
}

func newSink(f *os.File, h hash.Hash, offset int64) *sink {
	s := &sink{f: f, h: h, n: offset, slots: make(chan struct{}, sinkDepth),
		work: make(chan *[]byte, sinkDepth), stopped: make(chan struct{})}
	go s.run()
	return s
}

// Write gathers p into chunks; errors from earlier chunks are returned
// here or by wait.
func (s *sink) Write(p []byte) (int, error) {
	if err := s.failed(); err != nil {
		return 0, err
	}
	written := 0
	for len(p) > 0 {
		if s.cur == nil {
			s.cur = chunks.Get().(*[]byte)
			*s.cur = (*s.cur)[:0]
		}
		b := *s.cur
		n := copy(b[len(b):cap(b)], p)
		*s.cur = b[:len(b)+n]
		p, written = p[n:], written+n
		if len(*s.cur) == cap(*s.cur) {
			s.send()
		}
	}
	return written, nil
}

// buffered is the number of bytes gathered but not yet sent.
func (s *sink) buffered() int {
	if s.cur == nil {
		return 0
	}
	return len(*s.cur)
}

func (s *sink) send() {
	s.slots <- struct{}{}
	s.pending.Add(1)
	s.work <- s.cur
	s.cur = nil
}

// wait blocks until every chunk is on disk and hashed. The last, partial
// chunk is written and hashed on the caller's goroutine once the worker
// is done: a small blob (the common push) then never waits for a
// goroutine hand-off.
func (s *sink) wait() error {
	s.pending.Wait()
	if err := s.failed(); err != nil || s.buffered() == 0 {
		return err
	}
	err := s.chunk(*s.cur)
	chunks.Put(s.cur)
	s.cur = nil
	if err != nil {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
	}
	return err
}

// stop ends the worker; the sink must not be used afterwards. Bytes not
// yet sent are dropped.
func (s *sink) stop() {
	s.pending.Wait()
	close(s.work)
	<-s.stopped
	if s.cur != nil {
		chunks.Put(s.cur)
		s.cur = nil
	}
}

func (s *sink) failed() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *sink) run() {
	defer close(s.stopped)
	for buf := range s.work {
		if s.failed() == nil {
			if err := s.chunk(*buf); err != nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
			}
		}
		chunks.Put(buf)
		<-s.slots
		s.pending.Done()
	}
}

// chunk writes and hashes buf in parallel. If the write comes up short,
// the hash is rolled back to before buf and fed only what was written.
func (s *sink) chunk(buf []byte) error {
	before, err := s.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	var n int
	var werr error
	if len(buf) < parallelHash {
		s.h.Write(buf)
		n, werr = s.f.Write(buf)
	} else {
		hashed := make(chan struct{})
		go func() {
			s.h.Write(buf)
			close(hashed)
		}()
		n, werr = s.f.Write(buf)
		<-hashed
	}
	if werr != nil {
		if err := s.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(before); err != nil {
			return err
		}
		s.h.Write(buf[:n])
	}
	s.n += int64(n)
	return werr
}
