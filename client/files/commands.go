package files

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"

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
	// Transfers runs /upload, /download, /sticker and /screenshot; nil
	// makes one from Client and Runner (see NewTransfers).
	Transfers *Transfers
	// Sink shows the transfers' progress; nil is Printer.
	Sink Sink

	once sync.Once
}

// service is the transfer service the commands use.
func (c *Commands) service() *Transfers {
	c.once.Do(func() {
		if c.Transfers == nil {
			c.Transfers = NewTransfers(c.Client, c.Runner)
		}
	})
	return c.Transfers
}

func (c *Commands) sink() Sink {
	if c.Sink != nil {
		return c.Sink
	}
	return c.Printer
}

// Specs returns the commands, to add to the runner's Extra.
func (c *Commands) Specs() []command.Spec {
	return []command.Spec{
		command.NewSpec("files", "[FOLDER]", "list the shared folder, or one of its folders; in a private conversation, the private space you share with that person, which only you two can see", c.files),
		command.NewSpec("upload", "[-f] PATH [NAME]", "upload a file (as NAME) and post it here: to the shared folder, or in a private conversation to the private space only you two can see; resumes by itself; a name another file has becomes NAME (1).ext; -f replaces your own file of that name", c.upload),
		command.NewSpec("download", "NAME|ID [DEST]", "download the file of message ID, or file NAME from the shared folder (in a private conversation: from your private space), into DEST (a new file, or a folder; default: ~/Downloads, or here if there is none), never over a file: a taken name becomes NAME (1).ext; resumes, and checks the SHA-256", c.download),
		command.NewSpec("rm", "NAME", "delete a file from the shared folder: one you uploaded, or one copied into the folder by hand (it has no uploader, so anyone may); in a private conversation, any file of your private space, which either of you may delete", c.rm),
	}
}

// in is the client for the files of conversation conv: the private
// space shared with the other person of a private conversation, the
// shared folder otherwise.
func (c *Commands) in(conv command.Conv) *Client {
	return c.Client.Private(conv.With)
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
	case errors.As(err, &fe) && fe.Code == CodeExists && fe.Status != 0:
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
	return nil, c.publish(ctx, Upload{Path: u.Path, Name: u.Name, Overwrite: u.Overwrite})
}

// Publish uploads bytes the client made, such as a sticker or a
// screenshot, under name, to the files of the current conversation (see
// /upload), and posts it there.
func (c *Commands) Publish(ctx context.Context, name string, data []byte) error {
	return c.publish(ctx, Upload{Name: name, Data: data})
}

// publish stores u for the current conversation, posts it there, and
// prints the notice.
func (c *Commands) publish(ctx context.Context, u Upload) error {
	conv := c.Runner.Current
	xf := c.service()
	f, err := xf.Store(ctx, conv, u, c.sink())
	if err != nil {
		return UserError(err)
	}
	err = xf.Announce(ctx, conv, f, "")
	n := Notice{Type: "uploaded", Path: f.Path, Size: f.Size, SHA256: f.SHA256}
	if f.Private {
		n.With = conv.With
	}
	if err == nil {
		n.Posted = conv.String()
	}
	c.Printer.Notice(n)
	return err
}

func (c *Commands) download(ctx context.Context, args string) (*command.Output, error) {
	a, err := ParseDownload(args, true)
	if err != nil {
		return nil, err
	}
	xf := c.service()
	var seen Messages
	if c.Index != nil {
		seen = c.Index
	}
	src, err := xf.Locate(ctx, c.Runner.Current, a.What, seen)
	if err != nil {
		return nil, UserError(err)
	}
	d, err := xf.Download(ctx, src, a.Dest, c.sink())
	if err != nil {
		return nil, UserError(err)
	}
	c.Printer.Notice(Notice{Type: "downloaded", Path: src.File.Path, With: src.With, Size: d.Size, SHA256: d.SHA256, Dest: d.Path, Verified: d.Verified})
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
