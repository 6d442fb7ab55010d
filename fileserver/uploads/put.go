package uploads

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"sync"

	"github.com/parley-chat/parley/fileserver/folder"
	"github.com/parley-chat/parley/fileserver/httperr"
)

// bufSize is the size of the copy buffers. Every transfer streams through
// one, so memory does not grow with the size of a file.
const bufSize = 256 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Put is a streamed upload of a whole file.
type Put struct {
	// Space is where the file goes: the shared folder if nil.
	Space     *folder.Space
	Path      string
	User      string
	Overwrite bool
	// Length is the body's length, or -1 if it is not known in advance.
	Length int64
	// SHA256, if set, is the hex digest the body must have.
	SHA256 string
	Body   io.Reader
}

// Put streams p.Body into a staging file, syncs it, checks its size and
// digest, and renames it into place. Nothing is left behind if anything
// fails, including the client going away halfway.
func (m *Manager) Put(ctx context.Context, p Put) (e folder.Entry, replaced bool, err error) {
	sp := p.Space
	if sp == nil {
		sp = m.f.Shared()
	}
	plan, err := sp.CheckPlace(p.Path, p.User, p.Overwrite)
	if err != nil {
		return folder.Entry{}, false, err
	}
	// What the upload frees (the file it replaces) less what it takes
	// besides its data (the folders it creates).
	replacing := -plan.Cost()
	if plan.Existing != nil {
		replacing += plan.Existing.Size
	}
	tmp, err := m.f.CreateTemp("put-")
	if err != nil {
		return folder.Entry{}, false, err
	}
	placed := false
	defer func() {
		if !placed {
			tmp.Close()
			m.f.Staging().Remove(tmp.Name)
		}
	}()

	limit := int64(-1) // the most the body may have, or -1
	byQuota := false
	if p.Length >= 0 {
		if err := m.reserve(tmp.Name, p.Length, replacing); err != nil {
			return folder.Entry{}, false, err
		}
		defer m.release(tmp.Name)
		limit = p.Length
	} else {
		limit, byQuota, err = m.room(replacing)
		if err != nil {
			return folder.Entry{}, false, err
		}
	}

	h := sha256.New()
	n, rerr, err := copyLimited(ctx, tmp.File, h, p.Body, limit)
	switch {
	case rerr != nil:
		m.log.Info("upload cut off", "path", p.Path, "user", p.User, "received", n, "err", rerr)
		return folder.Entry{}, false, httperr.New(http.StatusBadRequest, httperr.CodeIncomplete,
			"the upload was cut off after %d bytes (%v); nothing was kept", n, rerr)
	case errors.Is(err, errOverLimit) && p.Length < 0 && byQuota:
		return folder.Entry{}, false, httperr.New(http.StatusInsufficientStorage, httperr.CodeQuota,
			"the shared folder is full: the upload was stopped after %s, all the room its %s quota has left", size(n), size(m.cfg.Quota))
	case errors.Is(err, errOverLimit) && p.Length < 0:
		return folder.Entry{}, false, m.tooLarge(-1)
	case errors.Is(err, errOverLimit):
		return folder.Entry{}, false, httperr.New(http.StatusBadRequest, httperr.CodeBadRequest, "the body is longer than its Content-Length")
	case err != nil:
		return folder.Entry{}, false, err
	case p.Length >= 0 && n != p.Length:
		return folder.Entry{}, false, httperr.New(http.StatusBadRequest, httperr.CodeIncomplete,
			"the body ended after %d of %d bytes; nothing was kept", n, p.Length)
	}
	if p.Length < 0 {
		// The size is known only now: check it against what is free now.
		if err := m.reserve(tmp.Name, n, replacing); err != nil {
			return folder.Entry{}, false, err
		}
		defer m.release(tmp.Name)
	}
	if err := tmp.Sync(); err != nil {
		return folder.Entry{}, false, fmt.Errorf("sync upload: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return folder.Entry{}, false, fmt.Errorf("close upload: %w", err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if p.SHA256 != "" && p.SHA256 != sum {
		return folder.Entry{}, false, checksumMismatch(p.SHA256, sum)
	}
	e, replaced, err = sp.Place(tmp.Name, p.Path, p.User, sum, p.Overwrite)
	if err != nil {
		return folder.Entry{}, false, err
	}
	placed = true
	m.log.Info("uploaded", "path", p.Path, "user", p.User, "size", e.Size, "replaced", replaced, "private", sp.IsPrivate())
	return e, replaced, nil
}

func checksumMismatch(want, got string) *httperr.Error {
	return httperr.New(http.StatusBadRequest, httperr.CodeChecksum,
		"the file's SHA-256 is %s, not the %s that was announced; nothing was kept", got, want)
}

// room is how many bytes an upload of unknown length may send, or -1 for
// no bound, and whether the quota rather than the size limit sets it.
func (m *Manager) room(replacing int64) (limit int64, byQuota bool, err error) {
	limit = -1
	if m.cfg.MaxSize > 0 {
		limit = m.cfg.MaxSize
	}
	if m.cfg.Quota > 0 {
		used, err := m.f.Usage()
		if err != nil {
			return 0, false, err
		}
		left := max(m.cfg.Quota-used-m.Reserved()+replacing, 0)
		if limit < 0 || left < limit {
			limit, byQuota = left, true
		}
	}
	return limit, byQuota, nil
}

var errOverLimit = errors.New("body over the limit")

// copyLimited copies src to dst and h until EOF, with limit >= 0 the most
// it accepts. It returns the bytes copied, the error reading src (the
// client's side) and the error writing dst or ending early (ours).
func copyLimited(ctx context.Context, dst io.Writer, h hash.Hash, src io.Reader, limit int64) (n int64, readErr, err error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	for {
		if err := ctx.Err(); err != nil {
			return n, err, nil
		}
		k, rerr := src.Read(buf)
		if k > 0 {
			if limit >= 0 && n+int64(k) > limit {
				return n, nil, errOverLimit
			}
			if _, err := dst.Write(buf[:k]); err != nil {
				return n, nil, err
			}
			h.Write(buf[:k])
			n += int64(k)
		}
		if rerr == io.EOF {
			return n, nil, nil
		}
		if rerr != nil {
			return n, rerr, nil
		}
	}
}
