package folder

import (
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
// is still the one recorded: the same size and modification time, and,
// where the system has inode numbers, the same inode. A file changed or
// replaced by other means loses its record.
type metaRec struct {
	Uploader string `json:"uploader,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Size     int64  `json:"size"`
	MtimeNs  int64  `json:"mtime_ns"`
	// Ino is the file's inode number, or 0 if not known (records from
	// older versions, and systems without inodes). It tells an upload
	// from the file it replaces even when both have the same size and
	// modification time.
	Ino uint64 `json:"ino,omitempty"`
}

// sameContent reports whether fi has the recorded size and modification
// time.
func (m metaRec) sameContent(fi os.FileInfo) bool {
	return m.Size == fi.Size() && m.MtimeNs == fi.ModTime().UnixNano()
}

// matches reports whether fi is the file recorded.
func (m metaRec) matches(fi os.FileInfo) bool {
	if !m.sameContent(fi) {
		return false
	}
	ino := fileID(fi)
	return m.Ino == 0 || ino == 0 || m.Ino == ino
}

// metaDoc is the metadata file. Pending holds the records of uploads
// being renamed into place: written before the rename, so that a crash
// right after it loses nothing, and kept apart from Files, so that the
// file being replaced keeps its record until the rename.
type metaDoc struct {
	Version int                `json:"version"`
	Files   map[string]metaRec `json:"files"`
	Pending map[string]metaRec `json:"pending,omitempty"`
	Dirs    map[string]dirRec  `json:"dirs,omitempty"`
}

// dirRec records who created a folder through the server. It holds
// while the folder is the one created: where the system has inode
// numbers, the same inode (a folder's size and time change with what is
// in it, so they tell nothing).
type dirRec struct {
	Creator string `json:"creator"`
	Ino     uint64 `json:"ino,omitempty"`
}

func (d dirRec) matches(fi os.FileInfo) bool {
	if !fi.IsDir() {
		return false
	}
	ino := fileID(fi)
	return d.Ino == 0 || ino == 0 || d.Ino == ino
}

// metaStore keeps the records in memory and writes the whole file,
// atomically, when a change must survive a crash. Changes come from
// uploads and deletes, which are rare next to the reads that listings
// make.
type metaStore struct {
	state *os.Root
	name  string // the file's name in state

	mu      sync.Mutex
	files   map[string]metaRec
	pending map[string]metaRec
	dirs    map[string]dirRec
}

func openMeta(state *os.Root, name string) (*metaStore, error) {
	m := &metaStore{state: state, name: name, files: map[string]metaRec{}, pending: map[string]metaRec{}, dirs: map[string]dirRec{}}
	f, err := state.Open(name)
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
		return nil, fmt.Errorf("file metadata %s is larger than %d bytes", name, maxMetaBytes)
	}
	var doc metaDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("file metadata %s is damaged: %w", name, err)
	}
	for p, r := range doc.Files {
		if CheckPath(p) == nil {
			m.files[p] = r
		}
	}
	for p, r := range doc.Pending {
		if CheckPath(p) == nil {
			m.pending[p] = r
		}
	}
	for p, r := range doc.Dirs {
		if CheckPath(p) == nil {
			m.dirs[p] = r
		}
	}
	return m, nil
}

// get returns the record for p if it describes fi. While an upload to p
// is being renamed into place, both the file it replaces and the upload
// have records, and each matches only its own file. stale reports that p
// has a record but none describes fi.
func (m *metaStore) get(p string, fi os.FileInfo) (r metaRec, ok, stale bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, hasCur := m.files[p]
	if hasCur && cur.matches(fi) {
		return cur, true, false
	}
	staged, hasStaged := m.pending[p]
	if hasStaged && staged.matches(fi) {
		return staged, true, false
	}
	return metaRec{}, false, hasCur || hasStaged
}

// stage records r for the file about to be renamed to p, and the
// creators of the folders just made for it, and saves them, before the
// rename. The current record for p stays until commit.
func (m *metaStore) stage(p string, r metaRec, dirs map[string]dirRec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending[p] = r
	for k, d := range dirs {
		m.dirs[k] = d
	}
	if err := m.saveLocked(); err != nil {
		delete(m.pending, p)
		return err
	}
	return nil
}

// dir returns the creator recorded for folder p, if the record
// describes fi.
func (m *metaStore) dir(p string, fi os.FileInfo) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.dirs[p]
	if !ok || !d.matches(fi) {
		return "", false
	}
	return d.Creator, true
}

// removeDir forgets folder p, after it was deleted.
func (m *metaStore) removeDir(p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.dirs[p]; !ok {
		return nil
	}
	delete(m.dirs, p)
	return m.saveLocked()
}

// countDirs is how many recorded folders the person whose name key is
// key created, with stat telling which are still there.
func (m *metaStore) countDirs(key string, stat func(string) (os.FileInfo, error)) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for p, d := range m.dirs {
		if nameKey(d.Creator) != key {
			continue
		}
		if fi, err := stat(p); err == nil && d.matches(fi) {
			n++
		}
	}
	return n
}

// commit makes the staged record for p its record, after the rename.
// What is saved holds the staged record already, and it becomes p's
// record when read back, so nothing needs to be written now.
func (m *metaStore) commit(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.pending[p]; ok {
		m.files[p] = r
		delete(m.pending, p)
	}
}

// unstage drops the staged record for p, after a failed rename. What is
// saved still holds it until the next save; it matches no file, and is
// dropped when the file is read back.
func (m *metaStore) unstage(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, p)
}

// remove forgets p, after it was deleted.
func (m *metaStore) remove(p string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, had := m.files[p]
	_, staged := m.pending[p]
	if !had && !staged {
		return nil
	}
	delete(m.files, p)
	delete(m.pending, p)
	return m.saveLocked()
}

// forgetUnder drops the records of p and everything below it, after they
// were removed or renamed by other means, except those whose files are
// still there: an upload may have put a new file in place meanwhile.
// Staged records belong to uploads being placed, which keep or drop them.
func (m *metaStore) forgetUnder(p string, stat func(string) (os.FileInfo, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for k, r := range m.files {
		if k != p && !strings.HasPrefix(k, p+"/") {
			continue
		}
		if fi, err := stat(k); err == nil && r.matches(fi) {
			continue
		}
		delete(m.files, k)
		changed = true
	}
	for k, d := range m.dirs {
		if k != p && !strings.HasPrefix(k, p+"/") {
			continue
		}
		if fi, err := stat(k); err == nil && d.matches(fi) {
			continue
		}
		delete(m.dirs, k)
		changed = true
	}
	if !changed {
		return nil
	}
	return m.saveLocked()
}

// prune keeps the records whose files are still there and unchanged, and
// drops the rest. It runs at start, when no upload is being placed: a
// staged record whose file is in place becomes the file's record. A
// file with the recorded size and modification time but another inode
// keeps its record, with the new inode, so that records survive the
// folder being copied to another disk.
func (m *metaStore) prune(stat func(string) (os.FileInfo, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	paths := map[string]bool{}
	for k := range m.files {
		paths[k] = true
	}
	for k := range m.pending {
		paths[k] = true
	}
	changed := len(m.pending) > 0
	files := make(map[string]metaRec, len(m.files))
	for k := range paths {
		fi, err := stat(k)
		if err != nil {
			changed = true
			continue
		}
		cur, hasCur := m.files[k]
		staged, hasStaged := m.pending[k]
		var r metaRec
		switch {
		case hasStaged && staged.matches(fi):
			r = staged
		case hasCur && cur.matches(fi):
			r = cur
		case hasStaged && staged.sameContent(fi):
			r = staged
		case hasCur && cur.sameContent(fi):
			r = cur
		default:
			changed = true
			continue
		}
		if hasStaged || r != cur {
			changed = true
		}
		if ino := fileID(fi); ino != r.Ino {
			r.Ino = ino
			changed = true
		}
		files[k] = r
	}
	m.files = files
	m.pending = map[string]metaRec{}
	// Folders keep their records while they are folders, with the inode
	// they have now (which a copy to another disk changes).
	for k, d := range m.dirs {
		fi, err := stat(k)
		if err != nil || !fi.IsDir() {
			delete(m.dirs, k)
			changed = true
			continue
		}
		if ino := fileID(fi); ino != d.Ino {
			d.Ino = ino
			m.dirs[k] = d
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
	b, err := json.Marshal(metaDoc{Version: 1, Files: m.files, Pending: m.pending, Dirs: m.dirs})
	if err != nil {
		return err
	}
	if err := WriteFile(m.state, m.name, b, 0o600); err != nil {
		return fmt.Errorf("save file metadata: %w", err)
	}
	return nil
}

func recFor(fi os.FileInfo, uploader, sha string) metaRec {
	return metaRec{Uploader: uploader, SHA256: sha, Size: fi.Size(), MtimeNs: fi.ModTime().UnixNano(), Ino: fileID(fi)}
}
