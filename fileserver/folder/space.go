package folder

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/mtibben/confusables"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/parley-chat/parley/shared/protocol"
)

// PrivateDir is the subfolder of the state folder that holds the
// private spaces, one folder per pair of people.
const PrivateDir = "private"

// privateMetaFile records the uploaders and digests of private files,
// keyed by "ID/PATH", in the state folder.
const privateMetaFile = "private.json"

// Space is a place files live: the shared folder, or the private space
// of two people. Paths in a space follow the same rules everywhere, and
// every operation goes through an os.Root. A private space lives in the
// state folder, outside the watched shared folder, under a name derived
// from the two people's name keys (PrivateID), so a name never becomes
// a path; only a request from one of the two can name it, since the
// server derives it from the requester and the other person.
type Space struct {
	f    *Folder
	root *os.Root   // the shared folder, or the state folder's PrivateDir
	base string     // "" for the shared folder; the pair's ID for a private space
	meta *metaStore // records, keyed by at(path)
	keys []string   // a private space's two name keys, sorted
}

// PrivateID is the name of the folder that holds the private space of
// the people whose name keys (protocol.Name.Key) are a and b, in either
// order: the hex SHA-256 of the two keys, sorted, with a NUL between.
// a and b may be equal: a person's notes to self.
func PrivateID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	s := sha256.Sum256([]byte(a + "\x00" + b))
	return hex.EncodeToString(s[:])
}

// Shared is the shared folder as a space.
func (f *Folder) Shared() *Space { return f.shared }

// Private is the private space of the two people whose name keys are a
// and b. It is created when the first file is put in it.
func (f *Folder) Private(a, b string) *Space {
	if b < a {
		a, b = b, a
	}
	return &Space{f: f, root: f.private, base: PrivateID(a, b), meta: f.privMeta, keys: []string{a, b}}
}

// PrivateFor is the private space of user (a token's subject) and with,
// both names as people type them. A name that is not one the chat
// server accepts is refused with a *protocol.Error (bad_name).
func (f *Folder) PrivateFor(user, with string) (*Space, error) {
	u, err := protocol.ParseName(user)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeBadName, "your name (the token's) cannot have a private space: %s", reason(err))
	}
	w, err := protocol.ParseName(with)
	if err != nil {
		return nil, protocol.Errorf(protocol.CodeBadName, "with=%q does not name anyone: %s", clip(with), reason(err))
	}
	return f.Private(u.Key, w.Key), nil
}

func reason(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// clip shortens a name for quoting in an error.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}

// IsPrivate reports whether s is a private space.
func (s *Space) IsPrivate() bool { return s.base != "" }

// Keys are a private space's two name keys, sorted; nil for the shared
// folder.
func (s *Space) Keys() []string { return s.keys }

// at is p's path in the space's root.
func (s *Space) at(p string) string {
	switch {
	case s.base == "":
		return p
	case p == ".":
		return s.base
	}
	return s.base + "/" + p
}

func (s *Space) stat(p string) (os.FileInfo, error)  { return s.root.Stat(s.at(p)) }
func (s *Space) lstat(p string) (os.FileInfo, error) { return s.root.Lstat(s.at(p)) }

// invalidate marks the cached usage of the space's tree stale.
func (s *Space) invalidate() {
	if s.IsPrivate() {
		s.f.invalidatePrivate()
	} else {
		s.f.Invalidate()
	}
}

// entry builds an Entry for p from what stat said and what is recorded.
// stale reports that p has a record which does not describe fi: the file
// was changed by other means, or replaced by an upload since it was
// looked at.
func (s *Space) entry(p string, fi os.FileInfo) (e Entry, stale bool) {
	e = Entry{Name: Base(p), Path: p, Size: fi.Size(), Mtime: fi.ModTime(), Dir: fi.IsDir()}
	if e.Dir {
		e.Size = 0
		e.Uploader, _ = s.meta.dir(s.at(p), fi)
		return e, false
	}
	r, ok, stale := s.meta.get(s.at(p), fi)
	if ok {
		e.Uploader, e.SHA256 = r.Uploader, r.SHA256
	}
	return e, stale
}

// maxLooks bounds how often look tries again while p keeps being
// replaced.
const maxLooks = 8

// look stats p with stat (the space's stat or lstat) and describes it.
// An upload that replaces p replaces its record too, so a file looked at
// just before the rename finds the upload's record, not its own. When
// the record does not match, p is looked at again, until two looks find
// the same file: then the record truly is not that file's.
func (s *Space) look(p string, stat func(string) (os.FileInfo, error)) (os.FileInfo, Entry, error) {
	fi, err := stat(p)
	for range maxLooks {
		if err != nil {
			return nil, Entry{}, err
		}
		e, stale := s.entry(p, fi)
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
	e, _ := s.entry(p, fi)
	return fi, e, nil
}

// sameFile reports whether a and b describe the same file in the same
// state.
func sameFile(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// Stat describes p, following symbolic links that stay in the folder.
func (s *Space) Stat(p string) (Entry, error) {
	if err := CheckPath(p); err != nil {
		return Entry{}, err
	}
	fi, e, err := s.look(p, s.stat)
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
// file nor a folder, are left out. A private space that holds nothing
// yet lists as empty.
func (s *Space) List(sub string) ([]Entry, error) {
	dir := "."
	if sub != "" && sub != "." {
		if err := CheckPath(sub); err != nil {
			return nil, err
		}
		dir = sub
	}
	d, err := s.root.Open(s.at(dir))
	if err != nil {
		if dir == "." && s.IsPrivate() && errors.Is(err, fs.ErrNotExist) {
			return []Entry{}, nil
		}
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
	s.f.dirReads.Add(1)
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
		fi, e, err := s.look(p, s.stat) // follows links inside the root only
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
func (s *Space) Open(p string) (*os.File, Entry, error) {
	if err := CheckPath(p); err != nil {
		return nil, Entry{}, err
	}
	file, err := s.root.OpenFile(s.at(p), os.O_RDONLY|openNonBlock, 0)
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
	e, _ := s.entry(p, fi)
	return file, e, nil
}

// Remove deletes file p, or empty folder p, on behalf of user. In the
// shared folder, user must be the file's uploader or the folder's
// creator; one with no record (copied in or made by hand, or a file
// changed by hand since its upload) may be deleted by anyone signed in,
// or nobody could remove it through the server. In a private space
// either of the two may delete anything.
func (s *Space) Remove(p, user string) (Entry, error) {
	if err := CheckPath(p); err != nil {
		return Entry{}, err
	}
	s.f.wmu.Lock()
	defer s.f.wmu.Unlock()
	fi, e, err := s.look(p, s.lstat)
	if err != nil {
		return Entry{}, mapErr(err)
	}
	switch {
	case fi.IsDir():
		return s.removeDir(p, e, user)
	case fi.Mode()&fs.ModeSymlink != 0:
		// Links are made by hand, and have no uploader; they stay.
		if _, err := s.stat(p); isEscape(err) {
			return Entry{}, ErrOutside
		}
		return Entry{}, ErrLink
	case !fi.Mode().IsRegular():
		return Entry{}, ErrNotRegular
	}
	if user == "" || !s.IsPrivate() && e.Uploader != "" && !SameUser(e.Uploader, user) {
		return e, ErrNotUploader
	}
	if err := s.root.Remove(s.at(p)); err != nil {
		return e, mapErr(err)
	}
	if err := s.meta.remove(s.at(p)); err != nil {
		s.f.log.Warn("forget removed file", "path", p, "err", err)
	}
	s.invalidate()
	return e, nil
}

// removeDir deletes folder p, which e describes, if it is empty and
// user may. The caller holds wmu.
func (s *Space) removeDir(p string, e Entry, user string) (Entry, error) {
	if user == "" || !s.IsPrivate() && e.Uploader != "" && !SameUser(e.Uploader, user) {
		return e, ErrNotCreator
	}
	if err := s.root.Remove(s.at(p)); err != nil {
		if errors.Is(err, errNotEmptySys) || errors.Is(err, fs.ErrExist) {
			return e, ErrNotEmpty
		}
		return e, mapErr(err)
	}
	if err := s.meta.removeDir(s.at(p)); err != nil {
		s.f.log.Warn("forget removed folder", "path", p, "err", err)
	}
	s.invalidate()
	return e, nil
}

// Plan is what an upload will do, as CheckPlace found it.
type Plan struct {
	// Existing is the file the upload replaces, or nil.
	Existing *Entry
	// NewDirs are the folders the upload creates, shallowest first.
	NewDirs []string
}

// Cost is what the upload takes from the quota besides its file's own
// size: FolderCost for each folder it creates.
func (pl Plan) Cost() int64 { return int64(len(pl.NewDirs)) * FolderCost }

// CheckPlace reports whether user may upload to p: p is a good name for
// a new file (CheckNewPath), no folder is in the way, the folders it
// creates are within user's limits, and an existing file is replaced
// only when overwrite is set and user uploaded it. It is checked again
// when the upload is placed; checking first spares a doomed transfer.
func (s *Space) CheckPlace(p, user string, overwrite bool) (Plan, error) {
	if err := CheckNewPath(p); err != nil {
		return Plan{}, err
	}
	return s.checkPlace(p, user, overwrite)
}

func (s *Space) checkPlace(p, user string, overwrite bool) (Plan, error) {
	fi, e, err := s.look(p, s.lstat)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// The parent may still be a file or a link leading out, and the
		// new name, or the first folder that the upload creates, may look
		// like a name beside it.
		dirs, err := s.checkNewName(p)
		if err != nil {
			return Plan{}, err
		}
		if err := s.checkNewDirs(dirs, user); err != nil {
			return Plan{}, err
		}
		return Plan{NewDirs: dirs}, nil
	case err != nil:
		return Plan{}, mapErr(err)
	case fi.IsDir():
		return Plan{}, ErrIsDir
	}
	if !overwrite {
		return Plan{Existing: &e}, ErrExist
	}
	if e.Uploader == "" {
		return Plan{Existing: &e}, ErrNoUploader
	}
	if !SameUser(e.Uploader, user) {
		return Plan{Existing: &e}, ErrNotUploader
	}
	return Plan{Existing: &e}, nil
}

// checkNewDirs checks the folders dirs that user's upload would create
// against the limits on folders per person and on their depth.
func (s *Space) checkNewDirs(dirs []string, user string) error {
	if len(dirs) == 0 {
		return nil
	}
	if d := s.f.maxDirDepth; d > 0 {
		deepest := dirs[len(dirs)-1]
		if n := strings.Count(deepest, "/") + 1; n > d {
			return &FolderLimitError{Depth: n, MaxDepth: d, Path: deepest}
		}
	}
	if most := s.f.maxDirs; most > 0 {
		have := s.f.dirsBy(nameKey(user))
		if have+len(dirs) > most {
			return &FolderLimitError{Have: have, New: len(dirs), Max: most}
		}
	}
	return nil
}

// FolderLimitError refuses an upload whose new folders would be too
// deep, or would take their creator past the number of folders one
// person may create.
type FolderLimitError struct {
	Path            string // the deepest new folder, when too deep
	Depth, MaxDepth int
	Have, New, Max  int // folders the person created, would create, may have
}

// TooDeep reports whether the folders would be too deep (rather than
// too many).
func (e *FolderLimitError) TooDeep() bool { return e.MaxDepth > 0 }

func (e *FolderLimitError) Error() string {
	if e.TooDeep() {
		return fmt.Sprintf("the upload would create the folder %q, %d levels deep; new folders may be at most %d levels deep (upload into an existing folder, or closer to the top)",
			e.Path, e.Depth, e.MaxDepth)
	}
	return fmt.Sprintf("the upload would create %d folder(s), and you have created %d of the %d folders one person may; delete empty folders you no longer need, or upload into existing ones",
		e.New, e.Have, e.Max)
}

// checkNewName checks the names an upload to p, which does not exist,
// creates: the folders on the way must be folders, and the first name
// that is not there yet (the file, or the first folder to be made) must
// not be confusable with another name in its folder.
//
// It returns the folders the upload would create, shallowest first.
func (s *Space) checkNewName(p string) ([]string, error) {
	parent := "."
	for {
		rest := p
		if parent != "." {
			rest = p[len(parent)+1:]
		}
		name, _, more := strings.Cut(rest, "/")
		next := join(parent, name)
		if !more {
			return nil, s.checkConfusable(parent, name)
		}
		fi, err := s.stat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := s.checkConfusable(parent, name); err != nil {
				return nil, err
			}
			var dirs []string
			for d := next; ; {
				dirs = append(dirs, d)
				if d == Parent(p) {
					return dirs, nil
				}
				rest, _, _ := strings.Cut(p[len(d)+1:], "/")
				d = d + "/" + rest
			}
		case err != nil:
			return nil, mapErr(err)
		case !fi.IsDir():
			return nil, ErrNotDir
		}
		parent = next
	}
}

func join(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// ConfusableError refuses a new name that looks like another name
// already in its folder.
type ConfusableError struct {
	Name     string // the new name
	Existing string // the name in the folder it looks like
	Dir      bool   // Existing is a folder
}

func (e *ConfusableError) Error() string {
	what := "file"
	if e.Dir {
		what = "folder"
	}
	return fmt.Sprintf("the name %q looks like %q, a %s already in this folder (they differ only in letter case or in characters that look alike); use that %s, or choose a name that cannot be mistaken for it", e.Name, e.Existing, what, what)
}

// LookKey is the form in which names that people could mistake for each
// other are equal: the Unicode TR39 skeleton of the name, case-folded,
// in NFC. "Report.pdf", "report.pdf" and "rеport.pdf" (with a Cyrillic
// е) have the same key.
func LookKey(name string) string {
	return confusables.Skeleton(cases.Fold().String(norm.NFC.String(name)))
}

// checkConfusable refuses name, new in folder dir, if another name in
// dir has the same LookKey. A folder that does not exist yet has no
// names in it.
func (s *Space) checkConfusable(dir, name string) error {
	d, err := s.root.Open(s.at(dir))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return mapErr(err)
	}
	defer d.Close()
	fi, err := d.Stat()
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return ErrNotDir
	}
	s.f.dirReads.Add(1)
	des, err := d.ReadDir(-1)
	if err != nil {
		return err
	}
	key := LookKey(name)
	for _, de := range des {
		if de.Name() != name && LookKey(de.Name()) == key {
			return &ConfusableError{Name: name, Existing: de.Name(), Dir: de.IsDir()}
		}
	}
	return nil
}

// Place moves the finished staging file name to p in the space, in one
// rename, so that the file appears whole or not at all. The file must
// already be synced. user and sha256 are recorded for it. With
// overwrite, an existing file that user uploaded is replaced; without it,
// ErrExist is returned and the staging file is left alone for the caller
// to remove.
func (s *Space) Place(name, p, user, sha256 string, overwrite bool) (e Entry, replaced bool, err error) {
	if err := CheckNewPath(p); err != nil {
		return Entry{}, false, err
	}
	s.f.wmu.Lock()
	defer s.f.wmu.Unlock()
	plan, err := s.checkPlace(p, user, overwrite)
	if err != nil {
		return Entry{}, false, err
	}
	parent := Parent(p)
	if parent != "." || s.IsPrivate() {
		if err := s.root.MkdirAll(s.at(parent), 0o755); err != nil {
			return Entry{}, false, mapErr(err)
		}
	}
	// The folders made for the upload are recorded with it, as its
	// uploader's.
	var dirs map[string]dirRec
	for _, d := range plan.NewDirs {
		if fi, err := s.stat(d); err == nil && fi.IsDir() {
			if dirs == nil {
				dirs = map[string]dirRec{}
			}
			dirs[s.at(d)] = dirRec{Creator: user, Ino: fileID(fi)}
		}
	}
	fi, err := s.f.staging.Stat(name)
	if err != nil {
		return Entry{}, false, fmt.Errorf("staging file: %w", err)
	}
	// Record first, so that whoever sees the file appear sees its
	// uploader and checksum too, also after a crash. The record is staged
	// beside the replaced file's, which stays valid until the rename:
	// each matches only its own file, so at no moment does a file in
	// the folder lack its record.
	key := s.at(p)
	if err := s.meta.stage(key, recFor(fi, user, sha256), dirs); err != nil {
		return Entry{}, false, err
	}
	if err := s.rename(name, parent, Base(p), overwrite); err != nil {
		s.meta.unstage(key)
		return Entry{}, false, err
	}
	s.meta.commit(key)
	s.invalidate()
	e, _ = s.entry(p, fi)
	return e, plan.Existing != nil, nil
}

// rename moves staging file name into folder parent as base, and syncs
// the folder. The target folder is opened through the root, so a link
// cannot redirect it; base is a single component, and a rename never
// follows a link in its last component.
func (s *Space) rename(name, parent, base string, overwrite bool) error {
	src, err := s.f.staging.Open(".")
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := s.root.Open(s.at(parent))
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
		s.f.log.Warn("sync folder after rename", "folder", parent, "err", err)
	}
	return nil
}

// Stat describes p in the shared folder (see Space.Stat).
func (f *Folder) Stat(p string) (Entry, error) { return f.shared.Stat(p) }

// List lists folder sub of the shared folder (see Space.List).
func (f *Folder) List(sub string) ([]Entry, error) { return f.shared.List(sub) }

// Open opens file p of the shared folder (see Space.Open).
func (f *Folder) Open(p string) (*os.File, Entry, error) { return f.shared.Open(p) }

// Remove deletes file p of the shared folder (see Space.Remove).
func (f *Folder) Remove(p, user string) (Entry, error) { return f.shared.Remove(p, user) }

// CheckPlace checks an upload to p in the shared folder (see
// Space.CheckPlace).
func (f *Folder) CheckPlace(p, user string, overwrite bool) (Plan, error) {
	return f.shared.CheckPlace(p, user, overwrite)
}

// Place puts an upload in place in the shared folder (see Space.Place).
func (f *Folder) Place(name, p, user, sha256 string, overwrite bool) (Entry, bool, error) {
	return f.shared.Place(name, p, user, sha256, overwrite)
}
