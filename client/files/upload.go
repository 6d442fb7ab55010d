package files

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"golang.org/x/text/unicode/norm"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// UploadOptions modify an upload.
type UploadOptions struct {
	// Overwrite replaces an existing file of the same name, if the user
	// uploaded it.
	Overwrite bool
	// Sink, if set, is told how this upload advances (as well as the
	// client's Progress option).
	Sink Sink
}

const tusVersion = "1.0.0"

// Upload sends local file src to remote path dst with the tus protocol.
// It checks the file's SHA-256 first, which the server verifies. If the
// connection drops, it asks the server how much arrived and goes on from
// there, with growing pauses, until the upload is done, ctx ends, or it
// has failed several times in a row without progress. An upload cut off
// by the end of the program resumes when the same file is uploaded to
// the same name again.
func (c *Client) Upload(ctx context.Context, src, dst string, opts UploadOptions) (*Entry, error) {
	if _, err := c.base(); err != nil {
		return nil, err
	}
	// The server takes names in NFC only; some systems (macOS) spell file
	// names decomposed.
	dst = norm.NFC.String(dst)
	f, err := os.Open(src)
	if err != nil {
		return nil, &Error{Code: CodeLocal, Message: err.Error()}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &Error{Code: CodeLocal, Message: err.Error()}
	}
	if !fi.Mode().IsRegular() {
		return nil, &Error{Code: CodeLocal, Message: src + " is not a regular file"}
	}
	size := fi.Size()
	sum, err := c.hashFile(ctx, f, dst, size, c.reporter(opts.Sink))
	if err != nil {
		return nil, err
	}
	return c.send(ctx, f, dst, sum, size, opts)
}

// send uploads f, of size bytes whose SHA-256 is sum, to dst (in NFC):
// the body of Upload.
func (c *Client) send(ctx context.Context, f *os.File, dst, sum string, size int64, opts UploadOptions) (*Entry, error) {
	var err error
	key := c.resumeKey(dst, sum, size, opts.Overwrite)
	m := c.newMeter(c.reporter(opts.Sink), "upload", dst, size)
	loc, offset := c.recall(ctx, key, size)
	if loc != "" {
		c.log.Info("resuming upload", "path", dst, "offset", offset)
	}
	failures := 0
	for {
		if loc == "" {
			loc, err = c.create(ctx, dst, sum, size, opts.Overwrite)
			if err != nil {
				// A refusal (conflict, quota, size, token) is final.
				if !retryable(ctx, err) {
					return nil, err
				}
			} else if size == 0 {
				// An empty upload is complete as soon as it exists.
				m.done()
				return &Entry{Name: baseName(dst), Path: dst, Size: 0, SHA256: sum, Uploader: c.opts.User}, nil
			} else {
				c.remember(key, loc)
				offset = 0
			}
		}
		if err == nil {
			var next int64
			next, err = c.patch(ctx, loc, f, offset, size, m)
			if next > offset {
				failures = 0
			}
			offset = next
			if err == nil && offset == size {
				c.forget(key)
				m.done()
				return &Entry{Name: baseName(dst), Path: dst, Size: size, SHA256: sum, Uploader: c.opts.User}, nil
			}
			if err == nil {
				err = &Error{Code: CodeBadServer, Message: fmt.Sprintf("the server stopped the upload at %d of %d bytes", offset, size)}
			}
			if !retryable(ctx, err) {
				var e *Error
				if errors.As(err, &e) {
					switch e.Status {
					case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound,
						http.StatusConflict, http.StatusGone, http.StatusRequestEntityTooLarge:
						c.forget(key) // the server discarded it
					}
				}
				return nil, err
			}
		}
		failures++
		if failures >= c.opts.Attempts {
			return nil, &Error{Code: CodeGaveUp, Message: fmt.Sprintf("upload failed %d times in a row, the last time with: %v; run the same /upload again to resume", failures, err)}
		}
		m.retry(failures, err)
		if serr := c.sleep(ctx, backoff(failures, c.opts.MaxBackoff)); serr != nil {
			return nil, serr
		}
		if loc == "" {
			continue
		}
		// Ask the server where to go on from.
		off, herr := c.head(ctx, loc, size)
		var e *Error
		switch {
		case herr == nil:
			offset, err = off, nil
		case errors.As(herr, &e) && (e.Status == http.StatusNotFound || e.Status == http.StatusGone || e.Status == http.StatusForbidden):
			// The upload is gone: finished by the last request (whose
			// reply was lost), or expired. A finished one is in the
			// folder with our checksum.
			c.forget(key)
			if ent, serr := c.Stat(ctx, dst); serr == nil && ent.SHA256 == sum {
				m.at(size)
				m.done()
				return ent, nil
			}
			loc, err = "", nil
		default:
			err = herr
		}
	}
}

func baseName(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// backoff is the pause before attempt n: growing, with jitter, capped.
func backoff(n int, max time.Duration) time.Duration {
	d := 500 * time.Millisecond << min(n-1, 10)
	d = min(d, max)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// hashFile computes the SHA-256 of f, reporting progress as a "check".
func (c *Client) hashFile(ctx context.Context, f *os.File, name string, size int64, report func(Progress)) (string, error) {
	// No report at the start: a small file is checked before anyone
	// would notice.
	m := c.newMeter(report, "check", name, size)
	m.last = time.Now()
	h := sha256.New()
	buf := make([]byte, 256<<10)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		if n > 0 {
			h.Write(buf[:n])
			m.add(n)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", &Error{Code: CodeLocal, Message: err.Error()}
		}
	}
	m.done()
	return hex.EncodeToString(h.Sum(nil)), nil
}

func tusMeta(kv ...string) string {
	var parts []string
	for i := 0; i+1 < len(kv); i += 2 {
		parts = append(parts, kv[i]+" "+base64.StdEncoding.EncodeToString([]byte(kv[i+1])))
	}
	return strings.Join(parts, ",")
}

// create starts an upload on the server and returns its URL.
func (c *Client) create(ctx context.Context, dst, sum string, size int64, overwrite bool) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	u, err := c.endpoint("/uploads/", nil)
	if err != nil {
		return "", err
	}
	meta := []string{"path", dst, "filename", baseName(dst), "sha256", sum}
	if overwrite {
		meta = append(meta, "overwrite", "1")
	}
	if c.with != "" {
		meta = append(meta, "with", c.with) // the private space shared with them
	}
	resp, err := c.do(ctx, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, u, nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Tus-Resumable", tusVersion)
		req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
		req.Header.Set("Upload-Metadata", tusMeta(meta...))
		return req, nil
	})
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", replyError(resp)
	}
	drain(resp)
	loc, err := resp.Location()
	if err != nil {
		return "", &Error{Code: CodeBadServer, Message: "the server did not say where the upload is"}
	}
	return loc.String(), nil
}

// head asks how much of an upload the server has.
func (c *Client) head(ctx context.Context, loc string, size int64) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	resp, err := c.do(ctx, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodHead, loc, nil)
		if err == nil {
			req.Header.Set("Tus-Resumable", tusVersion)
		}
		return req, err
	})
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return 0, replyError(resp)
	}
	drain(resp)
	off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || off < 0 || off > size {
		return 0, &Error{Code: CodeBadServer, Message: "the server reported a bad upload offset"}
	}
	if l := resp.Header.Get("Upload-Length"); l != "" && l != strconv.FormatInt(size, 10) {
		return 0, &Error{Status: http.StatusGone, Code: CodeBadServer, Message: "the server's upload has another size"}
	}
	return off, nil
}

// patch sends the file from offset to the end in one request and returns
// the offset the server confirms, or, after a failure, the one it had
// when the request started.
func (c *Client) patch(ctx context.Context, loc string, f *os.File, offset, size int64, m *meter) (int64, error) {
	g := newGuard(ctx, c.opts.Stall)
	defer g.stop()
	resp, err := c.do(g.ctx, func() (*http.Request, error) {
		m.at(offset)
		body := &countingReader{r: io.NewSectionReader(f, offset, size-offset), m: m, g: g}
		req, err := http.NewRequest(http.MethodPatch, loc, body)
		if err != nil {
			return nil, err
		}
		req.ContentLength = size - offset
		if size == offset {
			req.Body = http.NoBody
		}
		req.Header.Set("Tus-Resumable", tusVersion)
		req.Header.Set("Upload-Offset", strconv.FormatInt(offset, 10))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		return req, nil
	})
	if err != nil {
		return offset, g.err(err)
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return offset, replyError(resp)
	}
	drain(resp)
	off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil || off < offset || off > size {
		return offset, &Error{Code: CodeBadServer, Message: "the server reported a bad upload offset"}
	}
	return off, nil
}

// The remembered uploads: one small file per unfinished upload, named by
// a hash of what identifies it, holding the upload's URL.

func (c *Client) resumeKey(dst, sum string, size int64, overwrite bool) string {
	base := ""
	if u, err := c.base(); err == nil {
		base = u.String()
	}
	id := fmt.Appendf(nil, "%s\n%s\n%s\n%s\n%d\n%v", base, c.opts.User, dst, sum, size, overwrite)
	if c.with != "" {
		// Another space, another upload; the shared folder's keys stay
		// as they were, so uploads remembered before still resume.
		id = fmt.Appendf(id, "\nwith %s", c.with)
	}
	h := sha256.Sum256(id)
	return hex.EncodeToString(h[:16])
}

func (c *Client) stateFile(key string) string {
	if c.opts.StateDir == "" {
		return ""
	}
	return c.opts.StateDir + string(os.PathSeparator) + key + ".upload"
}

// recall returns a remembered upload's URL and how far the server has
// it, or "" if there is none the server still has.
func (c *Client) recall(ctx context.Context, key string, size int64) (string, int64) {
	p := c.stateFile(key)
	if p == "" {
		return "", 0
	}
	c.mu.Lock()
	b, err := os.ReadFile(p)
	c.mu.Unlock()
	if err != nil || len(b) > 4096 {
		return "", 0
	}
	loc := strings.TrimSpace(string(b))
	if u, err := url.Parse(loc); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		c.forget(key)
		return "", 0
	}
	off, err := c.head(ctx, loc, size)
	if err != nil {
		c.forget(key)
		return "", 0
	}
	return loc, off
}

func (c *Client) remember(key, loc string) {
	p := c.stateFile(key)
	if p == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.MkdirAll(c.opts.StateDir, 0o700); err != nil {
		c.log.Warn("cannot remember upload", "err", err)
		return
	}
	if err := os.WriteFile(p, []byte(loc+"\n"), 0o600); err != nil {
		c.log.Warn("cannot remember upload", "err", err)
	}
}

func (c *Client) forget(key string) {
	p := c.stateFile(key)
	if p == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	os.Remove(p)
}
