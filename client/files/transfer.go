package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/shared/protocol"
)

// The transfer service: /upload, /download, /sticker and /screenshot for
// both faces of the client. Line mode runs it through Commands, the
// full-screen client from its transfers panel; both get the same name
// resolution, the same place for downloads, the same free names, the same
// posting of file messages, and progress through a Sink.

// Remote is the file server as the transfer service uses it. with names
// the other person of a private space; "" is the shared folder. A
// Client's Spaces is one.
type Remote interface {
	// Publish stores body under name (see Client.Publish).
	Publish(ctx context.Context, with, name string, body io.ReadSeeker, opts PublishOptions) (*Entry, error)
	// Download fetches remote path p to the local path target, which
	// must not exist (see Client.Download).
	Download(ctx context.Context, with, p, target string, opts DownloadOptions) (*Downloaded, error)
	// Stat describes the file at remote path p.
	Stat(ctx context.Context, with, p string) (*Entry, error)
}

// Spaces is c as a Remote: the shared folder and the private spaces,
// through the same connections and tokens.
func (c *Client) Spaces() Remote { return spaces{c} }

type spaces struct{ c *Client }

func (s spaces) Publish(ctx context.Context, with, name string, body io.ReadSeeker, opts PublishOptions) (*Entry, error) {
	return s.c.Private(with).Publish(ctx, name, body, opts)
}

func (s spaces) Download(ctx context.Context, with, p, target string, opts DownloadOptions) (*Downloaded, error) {
	return s.c.Private(with).Download(ctx, p, target, opts)
}

func (s spaces) Stat(ctx context.Context, with, p string) (*Entry, error) {
	return s.c.Private(with).Stat(ctx, p)
}

// Transfers moves files between this machine and the files of a
// conversation: the shared folder for a room, the private space of the
// two people for a private conversation. Each transfer runs under a
// context: cancelling it stops the transfer, and what was sent or
// received so far is kept, out of sight, for the same transfer to resume.
// It is safe for concurrent use.
type Transfers struct {
	// Remote is the file server.
	Remote Remote
	// Post posts a file message in a conversation.
	Post func(ctx context.Context, to command.Conv, f protocol.File, caption string) error
	// Me is the user's name, to tell which person of a private file
	// message is the other one.
	Me func() string
	// Downloads is the folder downloads go to when no destination is
	// named; "" is DownloadFolder(), looked up at each download.
	Downloads string

	mu      sync.Mutex
	writing map[string]bool // local paths that downloads in progress write to
}

// NewTransfers returns the transfer service of a chat session: files
// through c, file messages posted through r.
func NewTransfers(c *Client, r *command.Runner) *Transfers {
	return &Transfers{
		Remote: c.Spaces(),
		Post: func(ctx context.Context, to command.Conv, f protocol.File, caption string) error {
			_, err := r.SendFile(ctx, to, f, caption)
			return err
		},
		Me: func() string {
			if r.Session != nil {
				return r.Session.Me()
			}
			return c.opts.User
		},
	}
}

// Upload is a file to upload: a local file at Path, or bytes the client
// made (a sticker, a screenshot) in Data.
type Upload struct {
	Path string
	Data []byte
	// Name is the name to store it under. If that is taken by another
	// file, the first free one of "name (1).ext", "name (2).ext", … is
	// used, unless Overwrite.
	Name string
	// Overwrite replaces the user's own file of that name.
	Overwrite bool
}

// Store uploads u, resumably, to the files of conversation to, and
// returns the file as its file message describes it: Private for a
// private conversation's space. It does not post it; see Announce.
func (t *Transfers) Store(ctx context.Context, to command.Conv, u Upload, sink Sink) (protocol.File, error) {
	var body io.ReadSeeker
	sum := ""
	if u.Path != "" {
		f, err := os.Open(u.Path)
		if err != nil {
			return protocol.File{}, &Error{Code: CodeLocal, Message: err.Error()}
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return protocol.File{}, &Error{Code: CodeLocal, Message: err.Error()}
		}
		if !st.Mode().IsRegular() {
			return protocol.File{}, &Error{Code: CodeLocal, Message: u.Path + " is not a regular file"}
		}
		body = f
	} else {
		h := sha256.Sum256(u.Data)
		sum = hex.EncodeToString(h[:])
		body = bytes.NewReader(u.Data)
	}
	e, err := t.Remote.Publish(ctx, to.With, u.Name, body, PublishOptions{Overwrite: u.Overwrite, Sink: sink})
	if err != nil {
		return protocol.File{}, err
	}
	f := protocol.File{Name: e.Name, Size: e.Size, Path: e.Path, SHA256: e.SHA256, Private: to.With != ""}
	if f.SHA256 == "" {
		f.SHA256 = sum
	}
	return f, nil
}

// CodeNotPosted is the code of an upload whose file message could not be
// posted: the file is stored, and the error says where.
const CodeNotPosted = "not_posted"

// Announce posts file f, stored by Store, in conversation to.
func (t *Transfers) Announce(ctx context.Context, to command.Conv, f protocol.File, caption string) error {
	post := t.Post
	if post == nil {
		post = func(context.Context, command.Conv, protocol.File, string) error {
			return errors.New("there is no chat session to post it in")
		}
	}
	if err := post(ctx, to, f, caption); err != nil {
		where := ""
		if f.Private {
			where = to.With
		}
		return protocol.Errorf(CodeNotPosted, "%s was uploaded to %s, but the message about it could not be posted: %s", f.Path, Place(where), errMessage(err))
	}
	return nil
}

// Upload stores u and announces it in conversation to.
func (t *Transfers) Upload(ctx context.Context, to command.Conv, u Upload, sink Sink) (protocol.File, error) {
	f, err := t.Store(ctx, to, u, sink)
	if err != nil {
		return f, err
	}
	return f, t.Announce(ctx, to, f, "")
}

func errMessage(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// Source is a file to download and the space it is in.
type Source struct {
	File protocol.File
	// With is the other person of the private space the file is in; ""
	// for the shared folder.
	With string
	// Message is the id of the file message it came from, if any.
	Message uint64
}

// Messages finds the file messages the user has seen: an *Index, or
// what the full-screen client shows.
type Messages interface {
	Lookup(id uint64) (FileMessage, bool)
}

// FromMessage is the file of a file message. A private file is in the
// private space of the message's two people, named from here by the
// other one of them.
func (t *Transfers) FromMessage(m FileMessage) (Source, error) {
	src := Source{File: m.File, Message: m.ID}
	if !m.File.Private {
		return src, nil
	}
	me := ""
	if t.Me != nil {
		me = t.Me()
	}
	src.With = command.ConvOf(&protocol.Frame{Room: m.Room, From: m.From, To: m.To}, me).With
	if src.With == "" {
		return Source{}, protocol.Errorf("no_such_file", "message %d names a private file but is not a private message", m.ID)
	}
	return src, nil
}

// Locate finds what the user typed after /download in conversation in:
// the id of a file message in seen (12 or #12), or else the path of a
// file in the conversation's files (the shared folder, or in a private
// conversation the private space of the two), from the file server's
// listing. A number that is no file message seen may still be a file's
// name.
func (t *Transfers) Locate(ctx context.Context, in command.Conv, what string, seen Messages) (Source, error) {
	id, perr := strconv.ParseUint(strings.TrimPrefix(what, "#"), 10, 64)
	isID := perr == nil && id > 0
	if isID && seen != nil {
		if m, ok := seen.Lookup(id); ok {
			return t.FromMessage(m)
		}
	}
	if isID && strings.HasPrefix(what, "#") {
		return Source{}, protocol.Errorf("no_such_file", "message %d is not a file here: not a file message seen in this session; /history shows older ones", id)
	}
	name := strings.Trim(what, "/")
	if name == "" {
		return Source{}, usage("/download NAME|ID [DEST]; put a name with spaces in quotes")
	}
	e, err := t.Remote.Stat(ctx, in.With, name)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) && fe.Code == "not_found" && isID {
			return Source{}, protocol.Errorf("no_such_file", "message %d is not a file here: neither a file message seen in this session nor a file in %s", id, Place(in.With))
		}
		return Source{}, err
	}
	if e.Dir {
		return Source{}, protocol.Errorf("is_dir", "%s is a folder; /files %s lists it", name, name)
	}
	return Source{File: protocol.File{Name: e.Name, Size: e.Size, Path: e.Path, SHA256: e.SHA256, Private: in.With != ""}, With: in.With}, nil
}

// Download fetches src to where dest says (see Destination), resuming
// what an earlier attempt left and checking the file's SHA-256, and
// reports progress to sink.
func (t *Transfers) Download(ctx context.Context, src Source, dest string, sink Sink) (*Downloaded, error) {
	target, release, err := t.claim(dest, src.File.Name, src.File.Path)
	if err != nil {
		return nil, err
	}
	defer release()
	with := ""
	if src.File.Private {
		with = src.With
	}
	return t.Remote.Download(ctx, with, src.File.Path, target, DownloadOptions{SHA256: src.File.SHA256, Size: src.File.Size, Sink: sink})
}

// claim picks the local path of a download and keeps other downloads
// of this service from picking it until release.
func (t *Transfers) claim(dest, name, remote string) (target string, release func(), err error) {
	if name == "" {
		name = baseName(remote)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	target, err = Destination(dest, t.Downloads, name, func(p string) bool { return t.writing[p] })
	if err != nil {
		return "", nil, err
	}
	if t.writing == nil {
		t.writing = map[string]bool{}
	}
	t.writing[target] = true
	return target, func() {
		t.mu.Lock()
		delete(t.writing, target)
		t.mu.Unlock()
	}, nil
}

// Destination is the one rule for where a download of a file named name
// goes, given what the user named as dest:
//
//   - nothing: the downloads folder (folder, or DownloadFolder() if that
//     is ""), as for a folder below;
//   - an existing folder, or a path ending in a slash (the folder is
//     made): name in that folder. If a file of that name is there, the
//     first free one of "name (1).ext", "name (2).ext", … is used, so a
//     download never replaces a file nor fails because a name is taken.
//     An interrupted download's partial file (name.part) does not take
//     the name: the same download resumes it;
//   - anything else: that path itself, which must not exist yet: a name
//     the user chose is never changed, nor an existing file replaced.
//
// busy, if not nil, reports paths that other downloads are writing;
// they count as taken.
func Destination(dest, folder, name string, busy func(path string) bool) (string, error) {
	if dest == "" {
		dest = folder
		if dest == "" {
			dest = DownloadFolder()
		}
	} else if strings.HasSuffix(dest, "/") || strings.HasSuffix(dest, string(os.PathSeparator)) {
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return "", &Error{Code: CodeLocal, Message: err.Error()}
		}
	}
	st, err := os.Stat(dest)
	if err != nil || !st.IsDir() {
		if _, err := os.Lstat(dest); err == nil {
			return "", &Error{Code: CodeExists, Message: dest + " already exists; name a folder, or a file that does not exist yet"}
		}
		if busy != nil && busy(dest) {
			return "", &Error{Code: CodeExists, Message: "another download is writing " + dest}
		}
		return dest, nil
	}
	name = LocalName(name)
	for n := 0; n < 10000; n++ {
		p := filepath.Join(dest, NameVariant(name, n))
		if busy != nil && busy(p) {
			continue
		}
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p, nil
		}
	}
	return "", &Error{Code: CodeExists, Message: fmt.Sprintf("no free name for %s in %s", name, dest)}
}

// LocalName is a remote file name made safe as a local one: its last
// path element only, so that a download can never land outside its
// folder, and "download" if nothing is left.
func LocalName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = filepath.Base(filepath.Clean("/" + name))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if name == "/" || name == "." || name == ".." || name == "" {
		return "download"
	}
	return name
}

// NameVariant is the n-th name tried for name when it is taken: name
// itself for 0, else "stem (n).ext". The extension is the last one, or
// two for a compressed tar ("a (1).tar.gz"); a name that starts with a
// dot and has no other has none (".env (1)").
func NameVariant(name string, n int) string {
	if n == 0 {
		return name
	}
	stem, ext := splitExt(name)
	return fmt.Sprintf("%s (%d)%s", stem, n, ext)
}

func splitExt(name string) (stem, ext string) {
	lower := strings.ToLower(name)
	for _, double := range []string{".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst"} {
		if strings.HasSuffix(lower, double) && len(name) > len(double) {
			return name[:len(name)-len(double)], name[len(name)-len(double):]
		}
	}
	ext = filepath.Ext(name)
	if ext == name { // ".env"
		return name, ""
	}
	return strings.TrimSuffix(name, ext), ext
}

// DownloadFolder is where downloads go when no destination is named:
// $XDG_DOWNLOAD_DIR if it is a folder, else ~/Downloads if there is one,
// else the current folder.
func DownloadFolder() string {
	isDir := func(d string) bool {
		st, err := os.Stat(d)
		return err == nil && st.IsDir()
	}
	if d := os.Getenv("XDG_DOWNLOAD_DIR"); d != "" && isDir(d) {
		return d
	}
	if home, err := os.UserHomeDir(); err == nil {
		if d := filepath.Join(home, "Downloads"); isDir(d) {
			return d
		}
	}
	if wd, err := os.Getwd(); err == nil {
		return wd
	}
	return "."
}
