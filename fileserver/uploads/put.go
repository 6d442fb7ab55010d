package uploads

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/parley-chat/parley/fileserver/folder"
	"github.com/parley-chat/parley/fileserver/httperr"
	"github.com/parley-chat/parley/shared/protocol"
)

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
	credit := planCredit(plan)
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

	// The body may have at most its Content-Length, or the size limit.
	limit := p.Length
	if limit < 0 && m.cfg.MaxSize > 0 {
		limit = m.cfg.MaxSize
	}
	if err := m.begin(tmp.Name, nameKey(p.User), p.Length, 0, credit, true); err != nil {
		return folder.Entry{}, false, err
	}
	defer m.end(tmp.Name)

	h := sha256.New()
	fw := newFileWriter(m.f.Staging(), tmp.Name, tmp.File)
	defer fw.Close()
	st := newStream(fw, 0, h, m.bufs)
	n, rerr, err := copyLimited(ctx, st, p.Body, limit, func(k int) error { return m.take(tmp.Name, int64(k)) })
	if _, werr := st.wait(); err == nil {
		err = werr
	}
	st.close()
	switch {
	case rerr != nil:
		m.log.Info("upload cut off", "path", p.Path, "user", p.User, "received", n, "err", rerr)
		return folder.Entry{}, false, httperr.New(http.StatusBadRequest, httperr.CodeIncomplete,
			"the upload was cut off after %d bytes (%v); nothing was kept", n, rerr)
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

// planCredit is what placing an upload frees in the quota (the file it
// replaces) less what it costs besides its data (the folders it
// creates).
func planCredit(plan folder.Plan) int64 {
	credit := -plan.Cost()
	if plan.Existing != nil {
		credit += plan.Existing.Size
	}
	return credit
}

// nameKey is the comparison key of a user's name, so that one person's
// uploads are counted together however the name is written.
func nameKey(user string) string {
	if n, err := protocol.ParseName(user); err == nil {
		return n.Key
	}
	return user
}

var errOverLimit = errors.New("body over the limit")

// copyLimited reads src into s until EOF, with limit >= 0 the most it
// accepts, and take to call for room before each buffer is pushed. It
// returns the bytes pushed, the error reading src (the client's side) and
// the error ending early (ours). It stops early when a write fails, which
// s.wait then returns.
func copyLimited(ctx context.Context, s *stream, src io.Reader, limit int64, take func(int) error) (n int64, readErr, err error) {
	for !s.failed() {
		if err := ctx.Err(); err != nil {
			return n, err, nil
		}
		b := s.buf()
		k, rerr := fill(src, s.room(b))
		if k > 0 {
			if limit >= 0 && n+int64(k) > limit {
				s.release(b)
				return n, nil, errOverLimit
			}
			if err := take(k); err != nil {
				s.release(b)
				return n, nil, err
			}
			s.push(b, k)
			n += int64(k)
		} else {
			s.release(b)
		}
		if rerr == io.EOF {
			return n, nil, nil
		}
		if rerr != nil {
			return n, rerr, nil
		}
	}
	return n, nil, nil
}
