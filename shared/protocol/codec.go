package protocol

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"
)

// ErrFrameTooLarge is returned by Reader.ReadFrame when a line is longer
// than the reader's limit. The stream cannot be resynchronised after it.
var ErrFrameTooLarge = errors.New("frame too large")

// Reader reads newline-terminated frames from a stream with a hard limit
// on their size. One read from the network is not one frame: a frame may
// arrive in pieces, and one read may hold several frames.
type Reader struct {
	src  io.Reader
	br   *bufio.Reader // made at the first read, unless given with Use
	size int
	max  int
	buf  []byte // holds a frame that did not fit in br's buffer
	// more is set when a read failed partway through a frame (a deadline,
	// say): buf holds its start, and the next call continues it.
	more bool
}

// NewReader returns a Reader of frames of at most max bytes from r.
func NewReader(r io.Reader, max int) *Reader {
	size := 4096
	if max+1 < size {
		size = max + 1
	}
	if size < 16 {
		size = 16
	}
	return &Reader{src: r, size: size, max: max}
}

// Idle reports whether the reader holds nothing unread: no buffered bytes
// and no partial frame. Only then may its buffer be released.
func (r *Reader) Idle() bool {
	return !r.more && (r.br == nil || r.br.Buffered() == 0)
}

// Release takes the buffer away from an idle reader and returns it (nil
// if it has none), so that a connection waiting for its next frame holds
// no read buffer. The next read makes a new one unless Use gives one.
func (r *Reader) Release() *bufio.Reader {
	br := r.br
	r.br = nil
	if cap(r.buf) > 4096 {
		r.buf = nil // a large frame's buffer is not kept while idle
	}
	return br
}

// Use gives the reader a buffer to read with, such as one from Release.
func (r *Reader) Use(br *bufio.Reader) {
	br.Reset(r.src)
	r.br = br
}

// ReadFrame returns the next frame without its line terminator ("\n" or
// "\r\n"). Blank lines are skipped. The slice is valid until the next call.
// A last frame cut off by the end of the stream is returned as it is; the
// decoder will reject it if it is incomplete.
func (r *Reader) ReadFrame() ([]byte, error) {
	for {
		line, err := r.readLine()
		if err != nil && (err != io.EOF || len(line) == 0) {
			return nil, err
		}
		line = trimCR(line)
		if len(bytes.TrimSpace(line)) > 0 {
			return line, nil
		}
		if err != nil {
			return nil, err // a blank fragment before the end of the stream
		}
	}
}

func (r *Reader) readLine() ([]byte, error) {
	if r.br == nil {
		r.br = bufio.NewReaderSize(r.src, r.size)
	}
	if !r.more {
		r.buf = r.buf[:0]
	}
	r.more = false
	for {
		chunk, err := r.br.ReadSlice('\n')
		total := len(r.buf) + len(chunk)
		body := chunk
		if err == nil {
			total-- // the newline does not count
			body = chunk[:len(chunk)-1]
		}
		// Nor does a carriage return before it. Until the newline has
		// arrived, a trailing '\r' may turn out to be that one.
		tail := r.buf
		if len(body) > 0 {
			tail = body
		}
		if n := len(tail); n > 0 && tail[n-1] == '\r' {
			total--
		}
		if total > r.max {
			// Skip nothing more: the caller closes the stream.
			return nil, ErrFrameTooLarge
		}
		switch err {
		case nil:
			chunk = chunk[:len(chunk)-1]
			if len(r.buf) == 0 {
				return chunk, nil
			}
			r.buf = append(r.buf, chunk...)
			return r.buf, nil
		case bufio.ErrBufferFull:
			r.buf = append(r.buf, chunk...)
		default:
			r.buf = append(r.buf, chunk...)
			if err != io.EOF {
				r.more = true
				return nil, err
			}
			return r.buf, err
		}
	}
}

func trimCR(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return b[:n-1]
	}
	return b
}

// Decode parses one frame. It fails with an *Error of code CodeBadFrame if
// b is not a JSON object with a non-empty string "type", or is not valid
// UTF-8. If the object is well formed but a member has the wrong type, it
// fails with CodeBadRequest and also returns the frame as far as it could
// be read, so that the refusal can name the request's id.
func Decode(b []byte) (*Frame, error) {
	var f Frame
	err := json.Unmarshal(b, &f)
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && (te.Field == "" || te.Field == "type" || te.Field == "id" || f.Type == ""):
		// Not an object, or no readable type or id: nothing to answer.
		return nil, Errorf(CodeBadFrame, "not a frame: %v", err)
	case errors.As(err, &te):
		return &f, Errorf(CodeBadRequest, "%s has the wrong type: %s where %s belongs", te.Field, te.Value, te.Type)
	case err != nil:
		return nil, Errorf(CodeBadFrame, "not a JSON object: %v", err)
	case !utf8.Valid(b) && f.Type == "":
		return nil, Errorf(CodeBadFrame, "frame is not valid UTF-8")
	case !utf8.Valid(b):
		// encoding/json would have replaced the bad bytes silently.
		return &f, Errorf(CodeBadFrame, "frame is not valid UTF-8")
	case f.Type == "":
		return nil, Errorf(CodeBadFrame, "frame has no type")
	}
	return &f, nil
}

// Encode returns f as one line of JSON with its newline.
func Encode(f *Frame) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		// Frame has no field that can fail to encode.
		panic("protocol: encode frame: " + err.Error())
	}
	return buf.Bytes()
}
