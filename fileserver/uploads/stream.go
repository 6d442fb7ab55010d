package uploads

import (
	"hash"
	"io"
	"os"
	"sync"
	"unsafe"
)

// Buffers of an upload's stream: bufCount of bufSize each, taken from a
// pool. An upload holds bufCount × bufSize (1 MiB) while it runs, however
// large the file, and none afterwards. Each starts at a multiple of
// blockSize in memory, as a direct write needs (see fileWriter).
const (
	bufSize   = 256 << 10
	bufCount  = 4
	blockSize = 4096
)

// newBufPool returns a pool of buffers for streams.
func newBufPool() *sync.Pool {
	return &sync.Pool{New: func() any {
		b := make([]byte, bufSize+blockSize)
		skip := 0
		if r := int(uintptr(unsafe.Pointer(&b[0])) % blockSize); r != 0 {
			skip = blockSize - r
		}
		b = b[skip : skip+bufSize : skip+bufSize]
		return &b
	}}
}

// A stream writes an upload's body to its file at increasing offsets and
// hashes it, with reading, writing and hashing overlapped: the caller's
// goroutine reads into a free buffer and pushes it; one goroutine writes
// the pushed buffers to the file in order, and another hashes each once
// it is written, then frees it. So the client's next bytes are read while
// the last ones go to the disk and the ones before are hashed, and the
// three take as long as the slowest of them, not their sum.
//
// The hash only ever covers bytes that were written, in order: after a
// write fails, the buffers after it are neither written nor hashed. wait
// is the barrier that a sync or a checkpoint needs.
type stream struct {
	w    io.WriterAt
	h    hash.Hash
	pool *sync.Pool
	off  int64 // where the next pushed buffer goes; only the writer uses it
	next int64 // where the buffer pushed next will go; only the reader uses it

	free   chan *[]byte
	writes chan chunk
	hashes chan chunk
	done   chan struct{} // closed when the hasher has stopped

	mu      sync.Mutex
	settled sync.Cond // signalled when a chunk is hashed or dropped
	pending int       // chunks pushed and not yet hashed or dropped
	hashed  int64     // bytes written and hashed
	err     error     // the first write error
}

// A chunk is one pushed buffer, b[:n] of its data.
type chunk struct {
	b *[]byte
	n int
}

// newStream starts a stream that writes to w from offset off and hashes
// into h, with buffers from pool. Its goroutines stop at close, which
// must be called.
func newStream(w io.WriterAt, off int64, h hash.Hash, pool *sync.Pool) *stream {
	s := &stream{
		w: w, h: h, pool: pool, off: off, next: off,
		free:   make(chan *[]byte, bufCount),
		writes: make(chan chunk, bufCount),
		hashes: make(chan chunk, bufCount),
		done:   make(chan struct{}),
	}
	s.settled.L = &s.mu
	for range bufCount {
		s.free <- pool.Get().(*[]byte)
	}
	go s.write()
	go s.hash()
	return s
}

// buf returns a free buffer for the caller to read into, waiting for one
// if all are in flight.
func (s *stream) buf() *[]byte { return <-s.free }

// room is the part of b to read into next: all of it, unless the stream
// is at an offset that is not a multiple of blockSize, and then as much
// as takes it to the next one, so that the buffers after it are written
// at whole blocks.
func (s *stream) room(b *[]byte) []byte {
	if r := int(s.next % blockSize); r != 0 {
		return (*b)[:blockSize-r]
	}
	return *b
}

// release gives back a buffer that was not pushed.
func (s *stream) release(b *[]byte) { s.free <- b }

// push queues (*b)[:n] to be written after what was pushed before, and
// hashed. The buffer is the stream's again until buf returns it.
func (s *stream) push(b *[]byte, n int) {
	s.mu.Lock()
	s.pending++
	s.mu.Unlock()
	s.next += int64(n)
	s.writes <- chunk{b, n}
}

// failed says whether a write has failed, so that the caller stops
// reading; wait returns the error.
func (s *stream) failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

// wait returns once every pushed buffer is written and hashed, or
// dropped after a failed write, with the bytes written and hashed so
// far and the first write error.
func (s *stream) wait() (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.pending > 0 {
		s.settled.Wait()
	}
	return s.hashed, s.err
}

// close waits for what was pushed, stops the goroutines and gives the
// buffers back to the pool. The stream is not used after it.
func (s *stream) close() {
	close(s.writes)
	<-s.done
	for range bufCount {
		s.pool.Put(<-s.free)
	}
}

func (s *stream) write() {
	defer close(s.hashes)
	for c := range s.writes {
		if s.failed() {
			s.drop(c)
			continue
		}
		if _, err := s.w.WriteAt((*c.b)[:c.n], s.off); err != nil {
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			s.drop(c)
			continue
		}
		s.off += int64(c.n)
		s.hashes <- c
	}
}

func (s *stream) hash() {
	defer close(s.done)
	for c := range s.hashes {
		s.h.Write((*c.b)[:c.n])
		s.mu.Lock()
		s.hashed += int64(c.n)
		s.mu.Unlock()
		s.drop(c)
	}
}

// drop settles a chunk and frees its buffer.
func (s *stream) drop(c chunk) {
	s.mu.Lock()
	s.pending--
	s.settled.Broadcast()
	s.mu.Unlock()
	s.free <- c.b
}

// fill reads from r into b until b is full, r ends or fails: a write or
// a hash of a full buffer costs less than of several small ones.
func fill(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		k, err := r.Read(b[n:])
		n += k
		if err != nil {
			return n, err
		}
		if k == 0 {
			// A reader that returns nothing and no error: hand over what
			// there is rather than spin.
			break
		}
	}
	return n, nil
}

// A fileWriter writes an upload's file. Where it can, it writes whole
// blocks through a second descriptor opened for direct I/O (O_DIRECT on
// Linux), from the stream's buffer straight to the disk: the data is not
// copied into the page cache, and the sync at the end has only the
// metadata left to do, where a file written through the cache has all of
// its pages still to write then, at the cost of the one who syncs. What
// is not whole blocks (the tail of a file, the start of a resumed chunk)
// goes through the ordinary descriptor, and so does everything if direct
// I/O is not to be had.
type fileWriter struct {
	f      *os.File
	direct *os.File // nil without direct I/O
}

// newFileWriter writes to f, the file name in root.
func newFileWriter(root *os.Root, name string, f *os.File) *fileWriter {
	return &fileWriter{f: f, direct: openDirect(root, name)}
}

func (w *fileWriter) WriteAt(b []byte, off int64) (int, error) {
	if w.direct != nil && len(b) > 0 && off%blockSize == 0 && len(b)%blockSize == 0 &&
		uintptr(unsafe.Pointer(&b[0]))%blockSize == 0 {
		n, err := w.direct.WriteAt(b, off)
		if err == nil || n > 0 || !refusedDirect(err) {
			return n, err
		}
		// The file system takes no direct writes after all (or not of
		// this size): write through the cache from now on.
		w.direct.Close()
		w.direct = nil
	}
	return w.f.WriteAt(b, off)
}

// Close closes the direct descriptor; the ordinary one is the caller's.
func (w *fileWriter) Close() error {
	if w.direct == nil {
		return nil
	}
	return w.direct.Close()
}
