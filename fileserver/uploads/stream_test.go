package uploads

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	"go.uber.org/goleak"
)

// Everything pushed reaches the file at its offset, in order, and the
// hash is of exactly those bytes; the goroutines stop at close. The
// stream starts at an offset that is not a whole block, as a resumed
// upload may: the first buffer takes it to one, and where the file
// system has direct I/O the whole blocks after it are written so.
func TestStreamWritesAndHashesInOrder(t *testing.T) {
	defer goleak.VerifyNone(t)
	data := make([]byte, 5*bufSize+12345)
	rand.Read(data)
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	f, err := root.Create("up")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	head := []byte("head:")
	f.Write(head)
	fw := newFileWriter(root, "up", f)
	direct := fw.direct != nil
	t.Logf("direct I/O: %v", direct)

	h := sha256.New()
	s := newStream(fw, int64(len(head)), h, newBufPool())
	var sizes []int
	// Odd-sized reads, so that buffers are filled from several.
	src := iotest.HalfReader(bytes.NewReader(data))
	var pushed int
	for {
		b := s.buf()
		k, err := fill(src, s.room(b))
		if k > 0 {
			s.push(b, k)
			pushed += k
			sizes = append(sizes, k)
		} else {
			s.release(b)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.wait()
	s.close()
	if err != nil || n != int64(len(data)) || pushed != len(data) {
		t.Fatalf("wait: %d bytes, %v; pushed %d of %d", n, err, pushed, len(data))
	}
	if got, want := h.Sum(nil), sha256.Sum256(data); !bytes.Equal(got, want[:]) {
		t.Error("the hash is not of the data")
	}
	if sizes[0] != blockSize-len(head) || sizes[1] != bufSize {
		t.Errorf("buffers of %v bytes; want the first to end on a block", sizes[:2])
	}
	if direct && fw.direct == nil {
		t.Error("the file system took a direct write, then refused one")
	}
	fw.Close()
	got, _ := root.ReadFile("up")
	if !bytes.Equal(got, append(head, data...)) {
		t.Error("the file is not the head and the data")
	}
}

// failAfter writes at most limit bytes in all, then fails.
type failAfter struct {
	w     io.WriterAt
	limit int64
	n     int64
}

var errDiskFull = errors.New("disk full")

func (f *failAfter) WriteAt(b []byte, off int64) (int, error) {
	if f.n+int64(len(b)) > f.limit {
		return 0, errDiskFull
	}
	f.n += int64(len(b))
	return f.w.WriteAt(b, off)
}

// After a failed write nothing more is written or hashed: the hash is
// of what the file holds, so that a resumed upload continues from a
// state that matches its data. wait reports the error, and failed tells
// the reader to stop.
func TestStreamStopsAtAFailedWrite(t *testing.T) {
	defer goleak.VerifyNone(t)
	f, err := os.Create(filepath.Join(t.TempDir(), "up"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := &failAfter{w: f, limit: 2 * bufSize}
	h := sha256.New()
	s := newStream(w, 0, h, newBufPool())
	chunk := bytes.Repeat([]byte("x"), bufSize)
	for i := 0; i < 6 && !s.failed(); i++ {
		b := s.buf()
		copy(*b, chunk)
		s.push(b, bufSize)
	}
	n, err := s.wait()
	if !errors.Is(err, errDiskFull) || n != 2*bufSize || !s.failed() {
		t.Fatalf("wait: %d, %v (failed %v); want %d and the write's error", n, err, s.failed(), 2*bufSize)
	}
	s.close()
	if got, want := h.Sum(nil), sha256.Sum256(bytes.Repeat(chunk, 2)); !bytes.Equal(got, want[:]) {
		t.Error("the hash covers more or less than was written")
	}
}
