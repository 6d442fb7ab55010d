// Package folder is the shared folder and the private spaces of pairs
// of people (see Space): every file operation the file server makes on
// them goes through an os.Root, so that no path a client sends, and no
// symbolic link inside, can reach a file outside. It also keeps the staging area where uploads are written before
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
	// ErrNotCreator means someone other than a folder's creator tried to
	// delete it.
	ErrNotCreator = errors.New("only the person who created a folder may delete it")
	// ErrNotEmpty means a delete named a folder that has something in it.
	ErrNotEmpty = errors.New("that folder is not empty: delete what is in it first")
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

// FolderCost is what each folder counts against the quota, in bytes: a
// folder takes a block on most file systems, and a watch.
const FolderCost = 4096

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
	private  *os.Root   // PrivateDir inside state: the private spaces
	privMeta *metaStore // the private files' records
	shared   *Space
	log      *slog.Logger

	// wmu serializes the operations that change the folder (placing and
	// removing files), so that a check and the change it guards cannot
	// interleave with another.
	wmu sync.Mutex

	umu        sync.Mutex
	usage      int64
	usageValid bool
	// The private spaces' usage, cached apart: only uploads and deletes
	// change them, and the shared folder changes by other means too.
	privUsage      int64
	privUsageValid bool

	// dirReads counts the directory listings the folder has read.
	dirReads atomic.Int64

	// Limits on the folders uploads create, set before serving.
	maxDirs     int // per person; 0 for none
	maxDirDepth int // components of a new folder's path; 0 for none
}

// SetFolderLimits bounds the folders that uploads create: at most
// perPerson created by one person (in all spaces together), and none
// deeper than depth levels (a folder "a/b" is two deep). 0 means no
// bound. Call it before the folder is used.
func (f *Folder) SetFolderLimits(perPerson, depth int) {
	f.maxDirs, f.maxDirDepth = perPerson, depth
}

// dirsBy is how many folders that are still there the person whose
// name key is key created through the server.
func (f *Folder) dirsBy(key string) int {
	return f.meta.countDirs(key, f.root.Stat) + f.privMeta.countDirs(key, f.private.Stat)
}

// nameKey is a name's comparison key, or the name itself if it is not
// one the chat server accepts.
func nameKey(s string) string {
	if n, err := protocol.ParseName(s); err == nil {
		return n.Key
	}
	return s
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
	for _, sub := range []string{StagingDir, PrivateDir} {
		if err := os.MkdirAll(filepath.Join(state, sub), 0o700); err != nil {
			return nil, fmt.Errorf("create state folder: %w", err)
		}
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
	if f.private, err = f.state.OpenRoot(PrivateDir); err != nil {
		f.Close()
		return nil, err
	}
	if f.meta, err = openMeta(f.state, metaFile); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.meta.prune(f.root.Stat); err != nil {
		log.Warn("prune file metadata", "err", err)
	}
	if f.privMeta, err = openMeta(f.state, privateMetaFile); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.privMeta.prune(f.private.Stat); err != nil {
		log.Warn("prune private file metadata", "err", err)
	}
	f.shared = &Space{f: f, root: f.root, meta: f.meta}
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
	for _, r := range []*os.Root{f.private, f.staging, f.state, f.root} {
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

// Forget drops what is recorded about p and everything below it, after
// it was removed or renamed by other means. Records of files that are
// there again, put in place meanwhile, are kept.
func (f *Folder) Forget(p string) {
	if err := f.meta.forgetUnder(p, f.root.Lstat); err != nil {
		f.log.Warn("forget file metadata", "path", p, "err", err)
	}
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

func (f *Folder) invalidatePrivate() {
	f.umu.Lock()
	f.privUsageValid = false
	f.umu.Unlock()
}

// Usage is the total size of the files in the shared folder and in the
// private spaces, which the quota counts together, with FolderCost for
// each folder (a private space's own folder is not counted). Each is computed by
// walking it after a change, and cached until the next.
func (f *Folder) Usage() (int64, error) {
	f.umu.Lock()
	defer f.umu.Unlock()
	if !f.usageValid {
		n, err := f.walkSize(f.root, 0)
		if err != nil {
			return 0, err
		}
		f.usage, f.usageValid = n, true
	}
	if !f.privUsageValid {
		n, err := f.walkSize(f.private, 1)
		if err != nil {
			return 0, err
		}
		f.privUsage, f.privUsageValid = n, true
	}
	return f.usage + f.privUsage, nil
}

// walkSize is the total size of the regular files under root, and
// FolderCost for each folder more than skip levels below it.
func (f *Folder) walkSize(root *os.Root, skip int) (int64, error) {
	var total int64
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			return nil // vanished meanwhile
		}
		if d.IsDir() {
			f.dirReads.Add(1)
			if p != "." && strings.Count(p, "/") >= skip {
				total += FolderCost
			}
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
	return total, nil
}
