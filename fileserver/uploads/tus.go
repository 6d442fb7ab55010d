package uploads

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/tus/tusd/v2/pkg/handler"

	"github.com/parley-chat/parley/fileserver/auth"
	"github.com/parley-chat/parley/fileserver/folder"
	"github.com/parley-chat/parley/fileserver/httperr"
)

// Upload-Metadata keys a client sets when it creates a resumable upload.
const (
	// MetaPath is the file's path in the shared folder. tus clients that
	// only know "filename" may send that instead.
	MetaPath     = "path"
	MetaFilename = "filename"
	// MetaSHA256 is the optional hex SHA-256 the finished file must have.
	MetaSHA256 = "sha256"
	// MetaOverwrite set to "1" replaces an existing file of the uploader's.
	MetaOverwrite = "overwrite"
	// MetaWith names the other person of a private space: the file goes
	// to the private space of the uploader and that person, not to the
	// shared folder.
	MetaWith = "with"
)

// checkpointEvery is how much of a long PATCH body is written between
// syncs of the data and its offset, so that a crash loses at most this
// much of an upload.
const checkpointEvery = 64 << 20

// maxInfoBytes bounds the upload records the server reads back.
const maxInfoBytes = 64 << 10

// Files in the staging area: "tus-ID" holds an upload's data and
// "tus-ID.info" its record.
const (
	tusPrefix  = "tus-"
	infoSuffix = ".info"
)

// tusInfo is an upload's record, rewritten atomically at each checkpoint.
// The data file may be longer than Offset after a crash; the excess is
// cut off when the upload is next opened.
type tusInfo struct {
	ID        string `json:"id"`
	Path      string `json:"path"`
	User      string `json:"user"`
	Size      int64  `json:"size"`
	Offset    int64  `json:"offset"`
	Overwrite bool   `json:"overwrite,omitempty"`
	// Pair holds the name keys of a private space's two people; empty
	// for the shared folder.
	Pair      []string  `json:"pair,omitempty"`
	WantSHA   string    `json:"want_sha256,omitempty"`
	HashState []byte    `json:"hash_state"` // SHA-256 of the first Offset bytes, mid-computation
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil && strings.ToLower(id) == id
}

func dataName(id string) string { return tusPrefix + id }
func infoName(id string) string { return tusPrefix + id + infoSuffix }

// tusError turns an error into one tusd sends as is: our JSON error body
// with its status. Internal errors are logged and sent without detail.
func (m *Manager) tusError(err error) error {
	var te handler.Error
	if errors.As(err, &te) {
		return err
	}
	e, internal := httperr.From(err)
	if internal {
		m.log.Error("resumable upload", "err", err)
	}
	return handler.Error{
		ErrorCode: e.Code,
		Message:   e.Message,
		HTTPResponse: handler.HTTPResponse{
			StatusCode: e.Status,
			Body:       e.JSON(),
			Header:     handler.HTTPHeader{"Content-Type": "application/json; charset=utf-8"},
		},
	}
}

func (m *Manager) readInfo(id string) (*tusInfo, error) {
	if !validID(id) {
		return nil, handler.ErrNotFound
	}
	f, err := m.f.Staging().Open(infoName(id))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, handler.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxInfoBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInfoBytes {
		return nil, fmt.Errorf("upload record %s is too large", id)
	}
	var info tusInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("upload record %s is damaged: %w", id, err)
	}
	if info.ID != id {
		return nil, fmt.Errorf("upload record %s names upload %q", id, info.ID)
	}
	if len(info.Pair) != 0 && len(info.Pair) != 2 {
		// Never let a private upload fall back to the shared folder.
		return nil, fmt.Errorf("upload record %s is damaged: its private space has %d people", id, len(info.Pair))
	}
	return &info, nil
}

func (m *Manager) writeInfo(info *tusInfo) error {
	b, err := json.Marshal(info)
	if err != nil {
		return err
	}
	return folder.WriteFile(m.f.Staging(), infoName(info.ID), b, 0o600)
}

// remove deletes an upload's files and gives back its reservation.
func (m *Manager) remove(id string) {
	st := m.f.Staging()
	if err := st.Remove(dataName(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		m.log.Warn("remove upload data", "id", id, "err", err)
	}
	if err := st.Remove(infoName(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		m.log.Warn("remove upload record", "id", id, "err", err)
	}
	m.end(id)
}

// Owner returns the user who created upload id.
func (m *Manager) Owner(id string) (string, error) {
	info, err := m.readInfo(id)
	if err != nil {
		return "", err
	}
	return info.User, nil
}

// tusStore is the tusd data store: uploads live in the staging area.
type tusStore struct{ m *Manager }

func (s tusStore) NewUpload(ctx context.Context, fi handler.FileInfo) (handler.Upload, error) {
	m := s.m
	user := auth.User(ctx)
	if user == "" {
		return nil, m.tusError(httperr.New(http.StatusUnauthorized, httperr.CodeUnauthorized, "uploads need a file token"))
	}
	if fi.SizeIsDeferred {
		return nil, m.tusError(httperr.New(http.StatusBadRequest, httperr.CodeLengthRequired, "send Upload-Length: the size must be known to check it against the quota"))
	}
	p := fi.MetaData[MetaPath]
	if p == "" {
		p = fi.MetaData[MetaFilename]
	}
	if p == "" {
		return nil, m.tusError(httperr.New(http.StatusBadRequest, httperr.CodeBadPath, "name the file: Upload-Metadata needs %q (or %q)", MetaPath, MetaFilename))
	}
	want := strings.ToLower(fi.MetaData[MetaSHA256])
	if want != "" && !validSHA256(want) {
		return nil, m.tusError(httperr.New(http.StatusBadRequest, httperr.CodeBadRequest, "the %q metadata must be 64 hexadecimal digits", MetaSHA256))
	}
	overwrite := fi.MetaData[MetaOverwrite] == "1" || fi.MetaData[MetaOverwrite] == "true"
	sp := m.f.Shared()
	if with, ok := fi.MetaData[MetaWith]; ok {
		var err error
		if sp, err = m.f.PrivateFor(user, with); err != nil {
			return nil, m.tusError(err)
		}
	}
	plan, err := sp.CheckPlace(p, user, overwrite)
	if err != nil {
		return nil, m.tusError(err)
	}
	m.sweep()
	var rnd [16]byte
	rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	if err := m.begin(id, nameKey(user), fi.Size, 0, planCredit(plan), true); err != nil {
		return nil, m.tusError(err)
	}
	now := m.cfg.Now()
	h := sha256.New()
	state, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
	info := &tusInfo{ID: id, Path: p, User: user, Size: fi.Size, Overwrite: overwrite, Pair: sp.Keys(),
		WantSHA: want, HashState: state, Created: now, Updated: now}
	f, err := m.f.Staging().OpenFile(dataName(id), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		m.end(id)
		return nil, m.tusError(err)
	}
	f.Close()
	if err := m.writeInfo(info); err != nil {
		m.remove(id)
		return nil, m.tusError(err)
	}
	m.log.Info("resumable upload created", "id", id, "path", p, "user", user, "size", fi.Size)
	return &tusUpload{m: m, info: info}, nil
}

func validSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func (s tusStore) GetUpload(ctx context.Context, id string) (handler.Upload, error) {
	info, err := s.m.open(id)
	if err != nil {
		return nil, s.m.tusError(err)
	}
	return &tusUpload{m: s.m, info: info}, nil
}

// open reads an upload's record and makes its data agree with it.
func (m *Manager) open(id string) (*tusInfo, error) {
	info, err := m.readInfo(id)
	if err != nil {
		if errors.Is(err, handler.ErrNotFound) {
			return nil, httperr.New(http.StatusNotFound, httperr.CodeNotFound, "no such upload; it may have finished, been cancelled or expired")
		}
		return nil, err
	}
	fi, err := m.f.Staging().Stat(dataName(id))
	if err != nil {
		return nil, err
	}
	switch {
	case fi.Size() > info.Offset:
		// Written after the last checkpoint and not recorded: drop it.
		if err := truncate(m.f.Staging(), dataName(id), info.Offset); err != nil {
			return nil, err
		}
	case fi.Size() < info.Offset:
		m.remove(id)
		return nil, httperr.New(http.StatusGone, httperr.CodeNotFound, "the upload's data was lost; start it again")
	}
	return info, nil
}

func truncate(r *os.Root, name string, size int64) error {
	f, err := r.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s tusStore) AsTerminatableUpload(u handler.Upload) handler.TerminatableUpload {
	return u.(*tusUpload)
}

type tusUpload struct {
	m    *Manager
	info *tusInfo
}

func (u *tusUpload) GetInfo(ctx context.Context) (handler.FileInfo, error) {
	return handler.FileInfo{
		ID:     u.info.ID,
		Size:   u.info.Size,
		Offset: u.info.Offset,
		MetaData: handler.MetaData{
			MetaPath: u.info.Path,
		},
	}, nil
}

func (u *tusUpload) GetReader(ctx context.Context) (io.ReadCloser, error) {
	return nil, handler.ErrNotImplemented
}

// WriteChunk appends src at offset, hashing as it goes, and records its
// progress at checkpoints and at the end, also when the client goes away
// midway: what arrived is kept, and the client resumes from there. While
// it receives, another request for the upload may interrupt it (see
// uploadLocker); once the last byte is in, no longer.
func (u *tusUpload) WriteChunk(ctx context.Context, offset int64, src io.Reader) (int64, error) {
	m, info := u.m, u.info
	if offset != info.Offset {
		return 0, handler.ErrMismatchOffset
	}
	m.locks.receiving(info.ID, true)
	defer m.locks.receiving(info.ID, false)
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(info.HashState); err != nil {
		return 0, m.tusError(fmt.Errorf("upload %s: restore hash: %w", info.ID, err))
	}
	f, err := m.f.Staging().OpenFile(dataName(info.ID), os.O_WRONLY, 0)
	if err != nil {
		return 0, m.tusError(err)
	}
	defer f.Close()
	fw := newFileWriter(m.f.Staging(), dataName(info.ID), f)
	defer fw.Close()
	st := newStream(fw, offset, h, m.bufs)
	defer st.close()

	// pushed counts the bytes handed to st, written those it has written
	// and hashed; since is what was written after the last checkpoint.
	var pushed, written, since int64
	// settle waits for what was pushed and says how much of it is on
	// the file (and in h), and the error if a write failed.
	settle := func() error {
		n, err := st.wait()
		since += n - written
		written = n
		return err
	}
	// checkpoint syncs what is written and records it with the hash
	// state, so that a crash or a cut-off resumes from there. After a
	// failed write it still records what was written before, and then
	// returns the write's error.
	checkpoint := func() error {
		werr := settle()
		if since == 0 {
			return werr
		}
		if err := f.Sync(); err != nil {
			return err
		}
		state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return err
		}
		next := *info
		next.Offset, next.HashState, next.Updated = offset+written, state, m.cfg.Now()
		if err := m.writeInfo(&next); err != nil {
			return err
		}
		*info = next
		since = 0
		return werr
	}
	// stop keeps what was written before a failure, and says why.
	stop := func(err error) (int64, error) {
		if cerr := checkpoint(); cerr != nil && cerr != err {
			m.log.Warn("checkpoint upload", "id", info.ID, "err", cerr)
		}
		return written, m.tusError(err)
	}
	for {
		if st.failed() {
			return stop(settle())
		}
		b := st.buf()
		k, rerr := fill(src, st.room(b))
		if k > 0 {
			if offset+pushed+int64(k) > info.Size {
				k = int(info.Size - offset - pushed)
				rerr = handler.ErrSizeExceeded
			}
			if err := m.take(info.ID, int64(k)); err != nil {
				// No room for more: keep what came, and say why.
				st.release(b)
				return stop(err)
			}
			st.push(b, k)
			pushed += int64(k)
			if offset+pushed == info.Size {
				m.locks.receiving(info.ID, false)
			}
			if pushed-written >= checkpointEvery-since {
				if err := checkpoint(); err != nil {
					return written, m.tusError(err)
				}
			}
		} else {
			st.release(b)
		}
		if rerr != nil {
			if err := checkpoint(); err != nil {
				return written, m.tusError(err)
			}
			if rerr == io.EOF {
				return written, nil
			}
			return written, rerr
		}
	}
}

// FinishUpload checks the digest and renames the file into place. If
// either fails, the upload is removed: a finished upload that could not
// be placed has nowhere to go, and the client must start again.
func (u *tusUpload) FinishUpload(ctx context.Context) error {
	if err := u.m.finish(u.info); err != nil {
		return u.m.tusError(err)
	}
	return nil
}

func (m *Manager) finish(info *tusInfo) error {
	defer m.end(info.ID)
	h := sha256.New()
	if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(info.HashState); err != nil {
		m.remove(info.ID)
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if info.WantSHA != "" && info.WantSHA != sum {
		m.remove(info.ID)
		return checksumMismatch(info.WantSHA, sum)
	}
	sp := m.f.Shared()
	if len(info.Pair) == 2 {
		sp = m.f.Private(info.Pair[0], info.Pair[1])
	}
	e, replaced, err := sp.Place(dataName(info.ID), info.Path, info.User, sum, info.Overwrite)
	if err != nil {
		m.remove(info.ID)
		return err
	}
	m.f.Staging().Remove(infoName(info.ID))
	m.log.Info("uploaded", "path", e.Path, "user", info.User, "size", e.Size, "replaced", replaced, "resumable", true, "private", sp.IsPrivate())
	return nil
}

func (u *tusUpload) Terminate(ctx context.Context) error {
	u.m.remove(u.info.ID)
	u.m.log.Info("resumable upload cancelled", "id", u.info.ID, "path", u.info.Path)
	return nil
}

// sweep removes resumable uploads that have not been written to for the
// expiry time. It runs when uploads are created, so abandoned ones
// cannot pile up while new ones arrive.
func (m *Manager) sweep() {
	ids, _ := m.staged()
	now := m.cfg.Now()
	for _, id := range ids {
		info, err := m.readInfo(id)
		if err != nil {
			continue
		}
		if now.Sub(info.Updated) > m.cfg.Expiry {
			m.log.Info("resumable upload expired", "id", id, "path", info.Path, "user", info.User)
			m.remove(id)
		}
	}
}

// staged lists the resumable uploads in the staging area, and the other
// files there.
func (m *Manager) staged() (ids, others []string) {
	d, err := m.f.Staging().Open(".")
	if err != nil {
		return nil, nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	for _, n := range names {
		if id, ok := strings.CutPrefix(n, tusPrefix); ok {
			if id, ok := strings.CutSuffix(id, infoSuffix); ok && validID(id) {
				ids = append(ids, id)
				continue
			}
			if validID(id) {
				continue // data; kept with its record
			}
		}
		others = append(others, n)
	}
	return ids, others
}

// recoverStaged is run at start: it removes what interrupted streamed uploads
// and crashes left, finishes resumable uploads that completed but were
// not placed, and reserves space for the rest.
func (m *Manager) recoverStaged() {
	ids, others := m.staged()
	for _, n := range others {
		m.f.Staging().Remove(n)
	}
	has := map[string]bool{}
	for _, id := range ids {
		has[id] = true
	}
	// Data files whose record was never written.
	d, err := m.f.Staging().Open(".")
	if err == nil {
		names, _ := d.Readdirnames(-1)
		d.Close()
		for _, n := range names {
			if id, ok := strings.CutPrefix(n, tusPrefix); ok && validID(id) && !has[id] {
				m.f.Staging().Remove(n)
			}
		}
	}
	now := m.cfg.Now()
	for _, id := range ids {
		info, err := m.open(id)
		if err != nil {
			m.log.Warn("dropping damaged upload", "id", id, "err", err)
			m.remove(id)
			continue
		}
		if now.Sub(info.Updated) > m.cfg.Expiry {
			m.remove(id)
			continue
		}
		// Its data is charged; nothing more is promised until data
		// comes again.
		if err := m.begin(id, nameKey(info.User), info.Size, info.Offset, 0, false); err != nil {
			m.log.Warn("dropping upload", "id", id, "path", info.Path, "err", err)
			m.remove(id)
			continue
		}
		if info.Offset == info.Size {
			if err := m.finish(info); err != nil {
				m.log.Warn("could not place finished upload", "id", id, "path", info.Path, "err", err)
			}
		}
	}
}

// TusHandler returns the tus 1.0 handler (core, creation, termination),
// to be mounted at basePath with the prefix stripped. Every request must
// carry the user in its context (auth.Require); each upload can be
// resumed or cancelled by its creator only, which the caller checks with
// Owner.
func (m *Manager) TusHandler(basePath string) (http.Handler, error) {
	composer := handler.NewStoreComposer()
	store := tusStore{m: m}
	composer.UseCore(store)
	composer.UseTerminater(store)
	composer.UseLocker(m.locks)
	h, err := handler.NewHandler(handler.Config{
		StoreComposer:   composer,
		BasePath:        basePath,
		DisableDownload: true,
		Cors:            &handler.CorsConfig{Disable: true},
		Logger:          tusLogger(m.log),
		// Our store does not need time after a request ends: it records
		// progress before WriteChunk returns.
		GracefulRequestCompletionTimeout: 200 * time.Millisecond,
		NetworkTimeout:                   time.Minute,
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}
