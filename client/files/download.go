package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DownloadOptions modify a download.
type DownloadOptions struct {
	// SHA256 is the digest the file must have, from a file message or a
	// listing. If empty, the server's Repr-Digest is used, if it sends
	// one.
	SHA256 string
	// Size is the file's size if it is known beforehand, from a file
	// message or a listing: progress counts against it until the server
	// says.
	Size int64
	// Sink, if set, is told how this download advances (as well as the
	// client's Progress option).
	Sink Sink
}

// Downloaded describes a finished download.
type Downloaded struct {
	Path     string `json:"path"` // where it was saved
	Remote   string `json:"remote"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	Verified bool   `json:"verified"` // the digest matched an expected one
}

// partSuffix marks a download in progress; partInfo holds the validator
// it must still match to be resumed.
const (
	partSuffix = ".part"
	infoSuffix = ".part.json"
)

type partInfo struct {
	URL  string `json:"url"`
	ETag string `json:"etag"`
}

// Target is where a download of remote path p to dest goes: dest itself,
// or dest/NAME if dest is a folder, or NAME in the current folder if dest
// is empty.
func Target(p, dest string) string {
	name := baseName(p)
	if dest == "" {
		return name
	}
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		return filepath.Join(dest, name)
	}
	return dest
}

// Download fetches remote file p into dest (see Target), through
// dest.part, which it resumes with a Range request if an earlier run left
// one. After a dropped connection it goes on from what it has. The file
// is moved into place only once complete and its SHA-256 checked; it
// never replaces an existing file.
func (c *Client) Download(ctx context.Context, p, dest string, opts DownloadOptions) (d *Downloaded, err error) {
	target := Target(p, dest)
	if _, err := os.Lstat(target); err == nil {
		return nil, &Error{Code: CodeExists, Message: target + " already exists; name another destination"}
	}
	u, err := c.endpoint("/files/"+EscapePath(p), c.space(nil))
	if err != nil {
		return nil, err
	}
	part, infoPath := target+partSuffix, target+infoSuffix
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, &Error{Code: CodeLocal, Message: err.Error()}
	}
	defer f.Close()
	defer func() {
		// Keep a partial file only if it has something to resume.
		if err != nil {
			if fi, serr := os.Stat(part); serr == nil && fi.Size() == 0 {
				os.Remove(part)
				os.Remove(infoPath)
			}
		}
	}()

	// Resume what an earlier run left, if it was of the same file.
	var info partInfo
	h := sha256.New()
	var have int64
	if b, err := os.ReadFile(infoPath); err == nil && json.Unmarshal(b, &info) == nil && info.URL == u && info.ETag != "" {
		if have, err = io.Copy(h, f); err != nil {
			return nil, &Error{Code: CodeLocal, Message: err.Error()}
		}
	} else {
		info = partInfo{URL: u}
		if err := f.Truncate(0); err != nil {
			return nil, &Error{Code: CodeLocal, Message: err.Error()}
		}
		h.Reset()
	}

	total := int64(-1)
	if opts.Size > 0 {
		total = opts.Size
	}
	m := c.newMeter(c.reporter(opts.Sink), "download", p, total)
	var size int64 = -1
	var digest string
	failures := 0
	for {
		var n int64
		var st getState
		st, n, err = c.get(ctx, u, f, h, have, &info, m)
		if st.size >= 0 {
			size = st.size
		}
		if st.digest != "" {
			digest = st.digest
		}
		if st.restart {
			have = 0
		}
		if n > 0 {
			failures = 0
		}
		have += n
		if err == nil {
			break
		}
		if !retryable(ctx, err) {
			if errors.Is(err, errPartDamaged) {
				os.Remove(part)
				os.Remove(infoPath)
			}
			return nil, err
		}
		failures++
		if failures >= c.opts.Attempts {
			return nil, &Error{Code: CodeGaveUp, Message: fmt.Sprintf("download failed %d times in a row, the last time with: %v; run the same /download again to resume", failures, err)}
		}
		m.retry(failures, err)
		if serr := c.sleep(ctx, backoff(failures, c.opts.MaxBackoff)); serr != nil {
			return nil, serr
		}
	}
	if size >= 0 && have != size {
		return nil, &Error{Code: CodeBadServer, Message: fmt.Sprintf("the download ended at %d of %d bytes", have, size)}
	}
	sum := hex.EncodeToString(h.Sum(nil))
	want := strings.ToLower(opts.SHA256)
	if want == "" {
		want = digest
	}
	if want != "" && want != sum {
		f.Close()
		os.Remove(part)
		os.Remove(infoPath)
		return nil, &Error{Code: CodeChecksum, Message: fmt.Sprintf("the downloaded file's SHA-256 is %s, not %s; it was discarded", sum, want)}
	}
	if err := f.Sync(); err != nil {
		return nil, &Error{Code: CodeLocal, Message: err.Error()}
	}
	if err := f.Close(); err != nil {
		return nil, &Error{Code: CodeLocal, Message: err.Error()}
	}
	// Link, then remove the part: unlike a rename, the link never
	// replaces a file that appeared at the target meanwhile.
	if err := os.Link(part, target); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, &Error{Code: CodeExists, Message: target + " already exists; the download is kept in " + part}
		}
		if err := os.Rename(part, target); err != nil {
			return nil, &Error{Code: CodeLocal, Message: err.Error()}
		}
	}
	os.Remove(part)
	os.Remove(infoPath)
	m.done()
	return &Downloaded{Path: target, Remote: p, Size: have, SHA256: sum, Verified: want != ""}, nil
}

var errPartDamaged = &Error{Code: CodeBadServer, Message: "the server's reply does not continue the partial download; it was discarded"}

type getState struct {
	size    int64  // the file's full size, or -1
	digest  string // the server's SHA-256, if it sent one
	restart bool   // the part was discarded: the file changed
}

// get requests the file from byte have on and appends what comes to f
// and h. It returns how many bytes it appended.
func (c *Client) get(ctx context.Context, u string, f *os.File, h hash.Hash, have int64, info *partInfo, m *meter) (getState, int64, error) {
	st := getState{size: -1}
	g := newGuard(ctx, c.opts.Stall)
	defer g.stop()
	resp, err := c.do(g.ctx, func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		if have > 0 && info.ETag != "" {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
			req.Header.Set("If-Range", info.ETag)
		}
		return req, nil
	})
	if err != nil {
		return st, 0, g.err(err)
	}
	defer resp.Body.Close()
	if d, ok, _ := parseReprDigest(resp.Header.Get("Repr-Digest")); ok {
		st.digest = hex.EncodeToString(d)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		// The whole file: start over, whatever was kept.
		if have > 0 {
			st.restart = true
			have = 0
		}
		if err := f.Truncate(0); err != nil {
			return st, 0, &Error{Code: CodeLocal, Message: err.Error()}
		}
		h.Reset()
		st.size = resp.ContentLength
	case http.StatusPartialContent:
		start, total, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			return st, 0, errPartDamaged
		}
		st.size = total
	case http.StatusRequestedRangeNotSatisfiable:
		// Nothing after have: the part is complete if its size is the
		// file's.
		if _, total, ok := parseContentRange(resp.Header.Get("Content-Range")); ok && total == have {
			st.size = have
			m.p.Total = have
			m.at(have)
			return st, 0, nil
		}
		return st, 0, errPartDamaged
	default:
		return st, 0, replyError(resp)
	}
	info.ETag = resp.Header.Get("ETag")
	if b, err := json.Marshal(info); err == nil && info.ETag != "" {
		os.WriteFile(f.Name()[:len(f.Name())-len(partSuffix)]+infoSuffix, b, 0o644)
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return st, 0, &Error{Code: CodeLocal, Message: err.Error()}
	}
	if st.size >= 0 {
		m.p.Total = st.size
	}
	m.at(have)
	body := &countingReader{r: resp.Body, m: m, g: g}
	buf := make([]byte, 256<<10)
	var n int64
	for {
		k, rerr := body.Read(buf)
		if k > 0 {
			if _, err := f.Write(buf[:k]); err != nil {
				return st, n, &Error{Code: CodeLocal, Message: err.Error()}
			}
			h.Write(buf[:k])
			n += int64(k)
		}
		if rerr == io.EOF {
			if st.size >= 0 && have+n != st.size {
				return st, n, io.ErrUnexpectedEOF
			}
			return st, n, nil
		}
		if rerr != nil {
			return st, n, g.err(rerr)
		}
	}
}

// parseContentRange reads "bytes START-END/TOTAL" or "bytes */TOTAL".
func parseContentRange(v string) (start, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, false
	}
	total, err := strconv.ParseInt(tot, 10, 64)
	if err != nil || total < 0 {
		return 0, 0, false
	}
	if rng == "*" {
		return 0, total, true
	}
	s, e, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(s, 10, 64)
	end, err2 := strconv.ParseInt(e, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start || end >= total {
		return 0, 0, false
	}
	return start, total, true
}
