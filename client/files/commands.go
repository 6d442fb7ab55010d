package files

import (
	"bytes"
	"context"
	"errors"

	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/shared/protocol"
)

// Commands are the file commands for a session: /files, /upload,
// /download and /rm. In a room they work on the shared folder; in a
// private conversation, on the private space the two people share.
type Commands struct {
	Client  *Client
	Runner  *command.Runner
	Index   *Index
	Printer Printer
}

// Specs returns the commands, to add to the runner's Extra.
func (c *Commands) Specs() []command.Spec {
	return []command.Spec{
		command.NewSpec("files", "[FOLDER]", "list the shared folder, or one of its folders; in a private conversation, the private space you share with that person, which only you two can see", c.files),
		command.NewSpec("upload", "[-f] PATH [NAME]", "upload a file (as NAME) and post it here: to the shared folder, or in a private conversation to the private space only you two can see; resumes by itself; -f replaces your own file of that name", c.upload),
		command.NewSpec("download", "NAME|ID [DEST]", "download the file of message ID, or file NAME from the shared folder (in a private conversation: from your private space), into DEST (a file or folder; default: here); resumes, and checks the SHA-256", c.download),
		command.NewSpec("rm", "NAME", "delete a file from the shared folder: one you uploaded, or one copied into the folder by hand (it has no uploader, so anyone may); in a private conversation, any file of your private space, which either of you may delete", c.rm),
	}
}

// in is the client for the files of conversation conv: the private
// space shared with the other person of a private conversation, the
// shared folder otherwise.
func (c *Commands) in(conv command.Conv) *Client {
	return c.Client.Private(conv.With)
}

// me is the user's name.
func (c *Commands) me() string {
	if c.Runner != nil && c.Runner.Session != nil {
		return c.Runner.Session.Me()
	}
	return c.Client.opts.User
}

func usage(format string, args ...any) error {
	return protocol.Errorf(command.CodeUsage, format, args...)
}

// UserError turns any failure of a file operation into a
// *protocol.Error, which line mode prints and survives. A refusal from the
// file server keeps its code and message.
func UserError(err error) error {
	var pe *protocol.Error
	var fe *Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &fe) && fe.Code == CodeExists:
		return protocol.Errorf(fe.Code, "a file of that name is already shared; /upload -f PATH replaces your own, or give another NAME")
	case errors.As(err, &fe):
		return protocol.Errorf(fe.Code, "%s", fe.Message)
	case errors.Is(err, context.Canceled):
		return protocol.Errorf("cancelled", "interrupted; the same command picks up where it stopped")
	}
	return protocol.Errorf("file_server", "%v", err)
}

func (c *Commands) files(ctx context.Context, args string) (*command.Output, error) {
	a, err := SplitArgs(args)
	if err != nil || len(a) > 1 {
		return nil, usage("/files [FOLDER]")
	}
	sub := ""
	if len(a) == 1 {
		sub = strings.Trim(a[0], "/")
	}
	l, err := c.in(c.Runner.Current).List(ctx, sub)
	if err != nil {
		return nil, UserError(err)
	}
	c.Printer.Listing(l)
	return nil, nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~"+string(os.PathSeparator)); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

func (c *Commands) upload(ctx context.Context, args string) (*command.Output, error) {
	u, err := ParseUpload(args)
	if err != nil {
		return nil, err
	}
	conv := c.Runner.Current
	cl := c.in(conv)
	e, err := cl.Upload(ctx, u.Path, u.Name, UploadOptions{Overwrite: u.Overwrite})
	if err != nil {
		return nil, UserError(err)
	}
	return nil, c.post(ctx, conv, cl, e)
}

// post announces an uploaded file in the conversation it was uploaded
// for; a file in a private space is posted as private.
func (c *Commands) post(ctx context.Context, conv command.Conv, cl *Client, e *Entry) error {
	_, err := c.Runner.SendFile(ctx, conv, protocol.File{Name: e.Name, Size: e.Size, Path: e.Path, SHA256: e.SHA256, Private: cl.With() != ""}, "")
	n := Notice{Type: "uploaded", Path: e.Path, Size: e.Size, SHA256: e.SHA256, With: cl.With()}
	if err == nil {
		n.Posted = conv.String()
	}
	c.Printer.Notice(n)
	if err != nil {
		return protocol.Errorf("not_posted", "%s was uploaded to %s, but the message about it could not be posted: %v", e.Path, Place(cl.With()), err)
	}
	return nil
}

// Publish uploads bytes the client made, such as a sticker or a
// screenshot, under name, to the files of the current conversation (see
// /upload), and posts it there.
func (c *Commands) Publish(ctx context.Context, name string, data []byte) error {
	conv := c.Runner.Current
	cl := c.in(conv)
	e, err := cl.Publish(ctx, name, bytes.NewReader(data), PublishOptions{})
	if err != nil {
		return UserError(err)
	}
	return c.post(ctx, conv, cl, e)
}

// messageSpace is the client for the space a file message's file is in:
// for a private file, the private space of the message's two people,
// named from here by the other one of them.
func (c *Commands) messageSpace(m FileMessage) (*Client, error) {
	if !m.File.Private {
		return c.Client, nil
	}
	conv := command.ConvOf(&protocol.Frame{Room: m.Room, From: m.From, To: m.To}, c.me())
	if conv.With == "" {
		return nil, protocol.Errorf("no_such_file", "message %d names a private file but is not a private message", m.ID)
	}
	return c.Client.Private(conv.With), nil
}

// resolve finds what /download's first argument names: a file message
// seen in chat, by its id, or a file in the current conversation's files
// (see in), by its path. It returns the client for the space the file is
// in.
func (c *Commands) resolve(ctx context.Context, arg string) (cl *Client, path, sha string, err error) {
	if id, perr := strconv.ParseUint(strings.TrimPrefix(arg, "#"), 10, 64); perr == nil && id > 0 {
		if m, ok := c.Index.Lookup(id); ok {
			cl, err := c.messageSpace(m)
			if err != nil {
				return nil, "", "", err
			}
			return cl, m.File.Path, m.File.SHA256, nil
		}
		if strings.HasPrefix(arg, "#") {
			return nil, "", "", protocol.Errorf("no_such_file", "message %d is not a file message seen in this session; /history shows older ones", id)
		}
	}
	cl = c.in(c.Runner.Current)
	name := strings.Trim(arg, "/")
	e, err := cl.Stat(ctx, name)
	if err != nil {
		var fe *Error
		if errors.As(err, &fe) && fe.Code == "not_found" {
			if _, perr := strconv.ParseUint(arg, 10, 64); perr == nil {
				return nil, "", "", protocol.Errorf("no_such_file", "%s is neither a file message seen in this session nor a file in %s", arg, Place(cl.With()))
			}
		}
		return nil, "", "", UserError(err)
	}
	if e.Dir {
		return nil, "", "", protocol.Errorf("is_dir", "%s is a folder; /files %s lists it", name, name)
	}
	return cl, e.Path, e.SHA256, nil
}

func (c *Commands) download(ctx context.Context, args string) (*command.Output, error) {
	a, err := ParseDownload(args, true)
	if err != nil {
		return nil, err
	}
	cl, path, sha, err := c.resolve(ctx, a.What)
	if err != nil {
		return nil, err
	}
	d, err := cl.Download(ctx, path, a.Dest, DownloadOptions{SHA256: sha})
	if err != nil {
		return nil, UserError(err)
	}
	c.Printer.Notice(Notice{Type: "downloaded", Path: path, With: cl.With(), Size: d.Size, SHA256: d.SHA256, Dest: d.Path, Verified: d.Verified})
	return nil, nil
}

func (c *Commands) rm(ctx context.Context, args string) (*command.Output, error) {
	a, err := SplitArgs(args)
	if err != nil || len(a) != 1 {
		return nil, usage("/rm NAME; put a name with spaces in quotes")
	}
	name := strings.Trim(a[0], "/")
	cl := c.in(c.Runner.Current)
	if err := cl.Delete(ctx, name); err != nil {
		return nil, UserError(err)
	}
	c.Printer.Notice(Notice{Type: "removed", Path: name, With: cl.With()})
	return nil, nil
}
