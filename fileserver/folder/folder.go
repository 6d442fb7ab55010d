// Package folder is the shared folder: every file operation the file
// server makes on it goes through an os.Root, so that no path a client
// sends, and no symbolic link inside the folder, can reach a file outside
// it. It also keeps the staging area where uploads are written before
// they are complete, and what is known about each file beyond the file
// system: its uploader and its SHA-256.
package folder

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/shared/protocol"
)

// Errors the folder's operations return, besides *PathError.
var (
	// ErrNotExist means there is nothing by that name in the folder.
	ErrNotExist = errors.New("no such file in the shared folder")
	// ErrExist means an upload would replace a file without being asked to.
	ErrExist = errors.New("a file of that name already exists")
	// ErrIsDir means a file operation named a directory.
	ErrIsDir = errors.New("that is a folder, not a file")
	// ErrNotDir means a listing named a file, or an upload's parent is a file.
	ErrNotDir = errors.New("that is a file, not a folder")
	// ErrNotRegular means the name is a device, socket or pipe.
	ErrNotRegular = errors.New("that is not a regular file")
	// ErrOutside means the name is a symbolic link that leads out of the
	// folder.
	ErrOutside = errors.New("that leads outside the shared folder")
	// ErrNotUploader means someone other than a file's uploader tried to
	// delete or replace it.
	ErrNotUploader = errors.New("only the person who uploaded a file may delete or replace it")
	// ErrLink means a delete named a symbolic link, which only the
	// folder's owner can have made.
	ErrLink = errors.New("that is a symbolic link made on the server; the file server does not delete links")
	// ErrNoUploader means an upload would replace a file that has no
	// recorded uploader (it was copied into the folder by hand).
	ErrNoUploader = errors.New("that file was copied into the folder by hand and has no uploader, so no upload replaces it; delete it first, then upload")
)

// Entry is one file or folder.
type Entry struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Size     int64     `json:"size"`
	Mtime    time.Time `json:"mtime"`
	Dir      bool      `json:"dir"`
	Uploader string    `json:"uploader,omitempty"`
	SHA256   string    `json:"sha256,omitempty"`
}

// StagingDir is the subfolder of the state folder that holds uploads in
// progress.
const StagingDir = "partial"

// Folder is an open shared folder.
type Folder struct {
	dir      string   // absolute path of the shared folder
	stateDir string   // absolute path of the state folder
	root     *os.Root // the shared folder
	state    *os.Root // the state folder
	staging  *os.Root // StagingDir inside state
	meta     *metaStore
	log      *slog.Logger

	// wmu serializes the operations that change the folder (placing and
	// removing files), so that a check and the change it guards cannot
	// interleave with another.
	wmu sync.Mutex

	umu        sync.Mutex
	usage      int64
	usageValid bool

	// dirReads counts the directory listings the folder has read.
	dirReads atomic.Int64
}

// Open opens the shared folder dir and the state folder state, creating
// both if needed. The state folder must be outside the shared folder (so
// nobody sees partial uploads) and on the same file system (so a finished
// upload is renamed into place, never copied).
func Open(dir, state string, log *slog.Logger) (*Folder, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create shared folder: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(state, StagingDir), 0o700); err != nil {
		return nil, fmt.Errorf("create state folder: %w", err)
	}
	absDir, err := realPath(dir)
	if err != nil {
		return nil, err
	}
	absState, err := realPath(state)
	if err != nil {
		return nil, err
	}
	if within(absState, absDir) || within(absDir, absState) {
		return nil, fmt.Errorf("the state folder %s and the shared folder %s must not contain each other: partial uploads would be visible", absState, absDir)
	}
	same, err := sameFileSystem(absDir, absState)
	if err != nil {
		return nil, err
	}
	if !same {
		return nil, fmt.Errorf("the state folder %s is on another file system than the shared folder %s: finished uploads could not be renamed into place", absState, absDir)
	}
	f := &Folder{dir: absDir, stateDir: absState, log: log}
	if f.root, err = os.OpenRoot(absDir); err != nil {
		return nil, err
	}
	if f.state, err = os.OpenRoot(absState); err != nil {
		f.root.Close()
		return nil, err
	}
	if f.staging, err = f.state.OpenRoot(StagingDir); err != nil {
		f.Close()
		return nil, err
	}
	if f.meta, err = openMeta(f.state); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.meta.prune(f.root.Stat); err != nil {
		log.Warn("prune file metadata", "err", err)
	}
	return f, nil
}

func realPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// within reports whether p is inside or equal to dir.
func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// Close closes the folder's roots.
func (f *Folder) Close() error {
	var errs []error
	for _, r := range []*os.Root{f.staging, f.state, f.root} {
		if r != nil {
			errs = append(errs, r.Close())
		}
	}
	return errors.Join(errs...)
}

// Dir is the shared folder's absolute path.
func (f *Folder) Dir() string { return f.dir }

// StateDir is the state folder's absolute path.
func (f *Folder) StateDir() string { return f.stateDir }

// Staging is the root of the staging area, where uploads in progress are
// written.
func (f *Folder) Staging() *os.Root { return f.staging }

// FS is the shared folder as a file system, confined like every other
// access.
func (f *Folder) FS() fs.FS { return f.root.FS() }

// mapErr turns an os.Root error into one of the package's errors.
func mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return ErrNotExist
	case isEscape(err):
		return ErrOutside
	case errors.Is(err, errNotDirSys):
		return ErrNotDir
	}
	return err
}

// isEscape reports whether err is os.Root's refusal to follow a path out
// of the root. The os package does not export that error, so its text,
// which is stable, is compared.
func isEscape(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err != nil && pe.Err.Error() == "path escapes from parent"
	}
	return false
}

// entry builds an Entry for p from what stat said and what is recorded.
// stale reports that p has a record which does not describe fi: the file
// was changed by other means, or replaced by an upload since it was
// looked at.
func (f *Folder) entry(p string, fi os.FileInfo) (e Entry, stale bool) {
	e = Entry{Name: Base(p), Path: p, Size: fi.Size(), Mtime: fi.ModTime(), Dir: fi.IsDir()}
	if e.Dir {
		e.Size = 0
		return e, false
	}
	r, ok, stale := f.meta.get(p, fi)
	if ok {
		e.Uploader, e.SHA256 = r.Uploader, r.SHA256
	}
	return e, stale
}

// maxLooks bounds how often look tries again while p keeps being
// replaced.
const maxLooks = 8

// look stats p with stat (the root's Stat or Lstat) and describes it.
// An upload that replaces p replaces its record too, so a file looked at
// just before the rename finds the upload's record, not its own. When
// the record does not match, p is looked at again, until two looks find
// the same file: then the record truly is not that file's.
func (f *Folder) look(p string, stat func(string) (os.FileInfo, error)) (os.FileInfo, Entry, error) {
	fi, err := stat(p)
	for range maxLooks {
		if err != nil {
			return nil, Entry{}, err
		}
		e, stale := f.entry(p, fi)
		if !stale {
			return fi, e, nil
		}
		again, err2 := stat(p)
		if err2 == nil && sameFile(fi, again) {
			return fi, e, nil
		}
		fi, err = again, err2
	}
	if err != nil {
		return nil, Entry{}, err
	}
	e, _ := f.entry(p, fi)
	return fi, e, nil
}

// sameFile reports whether a and b describe the same file in the same
// state.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Stat describes p, following symbolic links that stay in the folder.
func (f *Folder) Stat(p string) (Entry, error) {
	if err := CheckPath(p); err != nil {
		return Entry{}, err
	}
	fi, e, err := f.look(p, f.root.Stat)
	if err != nil {
		return Entry{}, mapErr(err)
	}
	if !fi.IsDir() && !fi.Mode().IsRegular() {
		return Entry{}, ErrNotRegular
	}
	return e, nil
}

// List returns the entries of folder sub ("" for the top), folders first,
// then by name. Symbolic links are listed as what they point to; links
// that lead out of the folder or nowhere, and anything that is neither a
// file nor a folder, are left out.
func (f *Folder) List(sub string) ([]Entry, error) {
	dir := "."
	if sub != "" && sub != "." {
		if err := CheckPath(sub); err != nil {
			return nil, err
		}
		dir = sub
	}
	d, err := f.root.Open(dir)
	if err != nil {
		return nil, mapErr(err)
	}
	defer d.Close()
	fi, err := d.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, ErrNotDir
	}
	f.dirReads.Add(1)
	des, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(des))
	for _, de := range des {
		p := de.Name()
		if dir != "." {
			p = dir + "/" + de.Name()
		}
		if CheckPath(p) != nil {
			continue // a name no client could ask for
		}
		fi, e, err := f.look(p, f.root.Stat) // follows links inside the root only
		if err != nil {
			continue
		}
		if !fi.IsDir() && !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// Open opens file p for reading. It refuses folders and anything that is
// not a regular file, and never blocks on a named pipe.
func (f *Folder) Open(p string) (*os.File, Entry, error) {
	if err := CheckPath(p); err != nil {
		return nil, Entry{}, err
	}
	file, err := f.root.OpenFile(p, os.O_RDONLY|openNonBlock, 0)
	if err != nil {
		return nil, Entry{}, mapErr(err)
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, Entry{}, err
	}
	switch {
	case fi.IsDir():
		file.Close()
		return nil, Entry{}, ErrIsDir
	case !fi.Mode().IsRegular():
		file.Close()
		return nil, Entry{}, ErrNotRegular
	}
	// The open file may have been replaced since, and lost its record
	// to the upload that replaced it; it is served all the same.
	e, _ := f.entry(p, fi)
	return file, e, nil
}

// SameUser compares names the way the chat server does: case-insensitively
// under the PRECIS rules. An empty name matches nobody.
func SameUser(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	na, err1 := protocol.ParseName(a)
	nb, err2 := protocol.ParseName(b)
	if err1 != nil || err2 != nil {
		return a == b
	}
	return na.Key == nb.Key
}

// Remove deletes file p on behalf of user, who must be its uploader. A
// file with no recorded uploader (copied in by hand, or changed by hand
// since its upload) may be deleted by anyone signed in: otherwise nobody
// could remove it through the server.
func (f *Folder) Remove(p, user string) (Entry, error) {
	if err := CheckPath(p); err != nil {
		return Entry{}, err
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	fi, e, err := f.look(p, f.root.Lstat)
	if err != nil {
		return Entry{}, mapErr(err)
	}
	switch {
	case fi.IsDir():
		return Entry{}, ErrIsDir
	case fi.Mode()&fs.ModeSymlink != 0:
		// Links are made by hand, and have no uploader; they stay.
		if _, err := f.root.Stat(p); isEscape(err) {
			return Entry{}, ErrOutside
		}
		return Entry{}, ErrLink
	case !fi.Mode().IsRegular():
		return Entry{}, ErrNotRegular
	}
	if user == "" || e.Uploader != "" && !SameUser(e.Uploader, user) {
		return e, ErrNotUploader
	}
	if err := f.root.Remove(p); err != nil {
		return e, mapErr(err)
	}
	if err := f.meta.remove(p); err != nil {
		f.log.Warn("forget removed file", "path", p, "err", err)
	}
	f.Invalidate()
	return e, nil
}

// Forget drops what is recorded about p and everything below it, after
// it was removed or renamed by other means. Records of files that are
// there again, put in place meanwhile, are kept.
func (f *Folder) Forget(p string) {
	if err := f.meta.forgetUnder(p, f.root.Lstat); err != nil {
		f.log.Warn("forget file metadata", "path", p, "err", err)
	}
}

// CheckPlace reports whether user may upload to p: p is a good name for
// a new file (CheckNewPath), no folder is in the way, and an existing
// file is replaced only when overwrite is set and user uploaded it. It
// is checked again when the upload is placed; checking first spares a
// doomed transfer.
func (f *Folder) CheckPlace(p, user string, overwrite bool) (existing *Entry, err error) {
	if err := CheckNewPath(p); err != nil {
		return nil, err
	}
	return f.checkPlace(p, user, overwrite)
}

func (f *Folder) checkPlace(p, user string, overwrite bool) (*Entry, error) {
	fi, e, err := f.look(p, f.root.Lstat)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// The parent may still be a file or a link leading out.
		if par := Parent(p); par != "." {
			pfi, err := f.root.Stat(par)
			switch {
			case err == nil && !pfi.IsDir():
				return nil, ErrNotDir
			case err != nil && !errors.Is(err, fs.ErrNotExist):
				return nil, mapErr(err)
			}
		}
		return nil, nil
	case err != nil:
		return nil, mapErr(err)
	case fi.IsDir():
		return nil, ErrIsDir
	}
	if !overwrite {
		return &e, ErrExist
	}
	if e.Uploader == "" {
		return &e, ErrNoUploader
	}
	if !SameUser(e.Uploader, user) {
		return &e, ErrNotUploader
	}
	return &e, nil
}

// Temp is a file being written in the staging area.
type Temp struct {
	*os.File
	Name string // its name in the staging area
}

// CreateTemp creates an empty file in the staging area.
func (f *Folder) CreateTemp(prefix string) (*Temp, error) {
	var rnd [12]byte
	rand.Read(rnd[:])
	name := prefix + hex.EncodeToString(rnd[:])
	file, err := f.staging.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create staging file: %w", err)
	}
	return &Temp{File: file, Name: name}, nil
}

// Place moves the finished staging file name to p in the shared folder,
// in one rename, so that the file appears whole or not at all. The file
// must already be synced. user and sha256 are recorded for it. With
// overwrite, an existing file that user uploaded is replaced; without it,
// ErrExist is returned and the staging file is left alone for the caller
// to remove.
func (f *Folder) Place(name, p, user, sha256 string, overwrite bool) (e Entry, replaced bool, err error) {
	if err := CheckNewPath(p); err != nil {
		return Entry{}, false, err
	}
	f.wmu.Lock()
	defer f.wmu.Unlock()
	old, err := f.checkPlace(p, user, overwrite)
	if err != nil {
		return Entry{}, false, err
	}
	parent := Parent(p)
	if parent != "." {
		if err := f.root.MkdirAll(parent, 0o755); err != nil {
			return Entry{}, false, mapErr(err)
		}
	}
	fi, err := f.staging.Stat(name)
	if err != nil {
		return Entry{}, false, fmt.Errorf("staging file: %w", err)
	}
	// Record first, so that whoever sees the file appear sees its
	// uploader and checksum too, also after a crash. The record is staged
	// beside the replaced file's, which stays valid until the rename:
	// each matches only its own file, so at no moment does a file in
	// the folder lack its record.
	if err := f.meta.stage(p, recFor(fi, user, sha256)); err != nil {
		return Entry{}, false, err
	}
	if err := f.rename(name, parent, Base(p), overwrite); err != nil {
		f.meta.unstage(p)
		return Entry{}, false, err
	}
	f.meta.commit(p)
	f.Invalidate()
	e, _ = f.entry(p, fi)
	return e, old != nil, nil
}

// rename moves staging file name into folder parent as base, and syncs
// the folder. The target folder is opened through the root, so a link
// cannot redirect it; base is a single component, and a rename never
// follows a link in its last component.
func (f *Folder) rename(name, parent, base string, overwrite bool) error {
	src, err := f.staging.Open(".")
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := f.root.Open(parent)
	if err != nil {
		return mapErr(err)
	}
	defer dst.Close()
	if fi, err := dst.Stat(); err != nil {
		return err
	} else if !fi.IsDir() {
		return ErrNotDir
	}
	if err := renameAt(src, name, dst, base, overwrite); err != nil {
		return err
	}
	if err := dst.Sync(); err != nil {
		f.log.Warn("sync folder after rename", "folder", parent, "err", err)
	}
	return nil
}

// DirReads is how many directory listings the folder has read for
// listings and usage, for tests and metrics that count the work done.
func (f *Folder) DirReads() int64 { return f.dirReads.Load() }

// Check is the health check: it costs the same whatever the folder
// holds. The shared folder and the state folder must still be the
// folders the server opened (not removed, renamed or hidden by a mount
// since) and readable, and the state folder and its staging area
// writable. It reads no directory and writes nothing.
func (f *Folder) Check() error {
	for _, c := range []struct {
		what string
		root *os.Root
		path string
	}{
		{"shared folder", f.root, f.dir},
		{"state folder", f.state, f.stateDir},
		{"staging area", f.staging, filepath.Join(f.stateDir, StagingDir)},
	} {
		open, err := c.root.Stat(".")
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.what, c.path, err)
		}
		now, err := os.Stat(c.path)
		if err != nil {
			return fmt.Errorf("%s %s: %w", c.what, c.path, err)
		}
		if !os.SameFile(open, now) {
			return fmt.Errorf("%s %s is no longer the folder the server opened (removed, moved or mounted over); restart the server", c.what, c.path)
		}
		mode := uint32(accessRead)
		if c.root != f.root {
			mode |= accessWrite
		}
		if err := access(c.path, mode); err != nil {
			return fmt.Errorf("%s %s: %w", c.what, c.path, err)
		}
	}
	return nil
}

// Invalidate marks the cached usage stale after a change to the folder.
func (f *Folder) Invalidate() {
	f.umu.Lock()
	f.usageValid = false
	f.umu.Unlock()
}

// Usage is the total size of the files in the folder. It is computed by
// walking the folder after a change, and cached until the next.
func (f *Folder) Usage() (int64, error) {
	f.umu.Lock()
	defer f.umu.Unlock()
	if f.usageValid {
		return f.usage, nil
	}
	var total int64
	err := fs.WalkDir(f.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // vanished meanwhile
		}
		if d.IsDir() {
			f.dirReads.Add(1)
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				total += fi.Size()
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	f.usage, f.usageValid = total, true
	return total, nil
}
