package folder

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// metaFile is where what the server knows about files beyond the file
// system (who uploaded them, their SHA-256) is kept, in the state folder.
const metaFile = "meta.json"

// maxMetaBytes bounds the metadata file the server will read back.
const maxMetaBytes = 256 << 20

// metaRec is what is known about one file. It holds only while the file
// still has the size and modification time it had when it was recorded;
// a file changed by other means loses its record.
type metaRec struct {
	Uploader string `json:"uploader,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Size     int64  `json:"size"`
	MtimeNs  int64  `json:"mtime_ns"`
}

func (m metaRec) matches(fi os.FileInfo) bool {
	return m.Size == fi.Size() && m.MtimeNs == fi.ModTime().UnixNano()
}

type metaDoc struct {
	Version int                `json:"version"`
	Files   map[string]metaRec `json:"files"`
}

// metaStore keeps the records in memory and writes the whole file,
// atomically, after each change. Changes come from uploads and deletes,
// which are rare next to the reads that listings make.
type metaStore struct {
	state *os.Root

	mu    sync.Mutex
	files map[string]metaRec
}

func openMeta(state *os.Root) (*metaStore, error) {
	m := &metaStore{state: state, files: map[string]metaRec{}}
	f, err := state.Open(metaFile)
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open file metadata: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read file metadata: %w", err)
	}
	if len(b) > maxMetaBytes {
		return nil, fmt.Errorf("file metadata %s is larger than %d bytes", metaFile, maxMetaBytes)
	}
	var doc metaDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("file metadata %s is damaged: %w", metaFile, err)
	}
	for p, r := range doc.Files {
		if CheckPath(p) == nil {
			m.files[p] = r
		}
	}
	return m, nil
}

// get returns the record for p if it still describes fi.
func (m *metaStore) get(p string, fi os.FileInfo) (metaRec, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.files[p]
	if !ok || !r.matches(fi) {
		return metaRec{}, false
	}
	return r, true
}

// set records r for p, or forgets p if r is nil, and returns what was
// there before so that a failed operation can put it back.
func (m *metaStore) set(p string, r *metaRec) (old *metaRec, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o, ok := m.files[p]; ok {
		old = &o
	}
	if r == nil {
		if old == nil {
			return nil, nil
		}
		delete(m.files, p)
	} else {
		m.files[p] = *r
	}
	return old, m.saveLocked()
}

// forgetUnder drops the records of p and everything below it.
func (m *metaStore) forgetUnder(p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for k := range m.files {
		if k == p || strings.HasPrefix(k, p+"/") {
			delete(m.files, k)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return m.saveLocked()
}

// prune drops records whose files are gone or have changed.
func (m *metaStore) prune(stat func(string) (os.FileInfo, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for k, r := range m.files {
		fi, err := stat(k)
		if err != nil || !r.matches(fi) {
			delete(m.files, k)
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return m.saveLocked()
}

// saveLocked writes the records to a temporary file, syncs it and renames
// it over the old one, so a crash leaves either the old or the new file.
func (m *metaStore) saveLocked() error {
	b, err := json.Marshal(metaDoc{Version: 1, Files: m.files})
	if err != nil {
		return err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := ".meta-" + hex.EncodeToString(rnd[:])
	f, err := m.state.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("save file metadata: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = m.state.Rename(tmp, metaFile)
	}
	if err != nil {
		m.state.Remove(tmp)
		return fmt.Errorf("save file metadata: %w", err)
	}
	return nil
}

func recFor(fi os.FileInfo, uploader, sha string) *metaRec {
	return &metaRec{Uploader: uploader, SHA256: sha, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano()}
}
