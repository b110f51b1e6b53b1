package fsblob

import (
	"encoding"
	"hash"
	"os"
	"sync"
)

// sinkDepth is how many 1 MiB chunks may wait between the caller and the
// disk. With two, the caller fills one chunk while the worker writes and
// hashes the previous one.
const sinkDepth = 2

// sink writes chunks to the data file and hashes them off the caller's
// goroutine: the disk write and the hash of each chunk run in parallel, and
// both overlap with the caller reading the next chunk from the network. On
// two cores this is the difference between ~550 and ~900 MB/s.
//
// It hashes exactly the bytes that reached the file, so after any error the
// hash state still matches the file and the session can resume.
type sink struct {
	f *os.File
	h hash.Hash
	n int64 // bytes written to f and hashed; read only after wait()

	work    chan []byte
	free    chan []byte
	pending sync.WaitGroup
	mu      sync.Mutex
	err     error
	stopped chan struct{}
}

func newSink(f *os.File, h hash.Hash, offset int64) *sink {
	s := &sink{f: f, h: h, n: offset, work: make(chan []byte, sinkDepth),
		free: make(chan []byte, sinkDepth+1), stopped: make(chan struct{})}
	for range sinkDepth + 1 {
		s.free <- make([]byte, 0, bufSize)
	}
	go s.run()
	return s
}

// Write queues a copy of p; errors from earlier chunks are returned here
// or by wait.
func (s *sink) Write(p []byte) (int, error) {
	if err := s.failed(); err != nil {
		return 0, err
	}
	written := 0
	for len(p) > 0 {
		buf := <-s.free
		n := min(len(p), cap(buf))
		buf = append(buf[:0], p[:n]...)
		s.pending.Add(1)
		s.work <- buf
		p, written = p[n:], written+n
	}
	return written, nil
}

// wait blocks until every queued chunk is on disk and hashed.
func (s *sink) wait() error {
	s.pending.Wait()
	return s.failed()
}

// stop ends the worker; the sink must not be used afterwards.
func (s *sink) stop() {
	s.pending.Wait()
	close(s.work)
	<-s.stopped
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
			if err := s.chunk(buf); err != nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
			}
		}
		s.free <- buf[:0]
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
	hashed := make(chan struct{})
	go func() {
		s.h.Write(buf)
		close(hashed)
	}()
	n, werr := s.f.Write(buf)
	<-hashed
	if werr != nil {
		if err := s.h.(encoding.BinaryUnmarshaler).UnmarshalBinary(before); err != nil {
			return err
		}
		s.h.Write(buf[:n])
	}
	s.n += int64(n)
	return werr
}
