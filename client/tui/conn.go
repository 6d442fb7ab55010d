package tui

import (
	"context"
	"io"
	"sync"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/shared/protocol"
)

// Conn is the chat connection the interface drives. NewConn makes one
// from a chat.Session and its command.Runner; tests use fakes.
type Conn interface {
	// Me is the user's name as the server displays it.
	Me() string
	// Events delivers server events and connection state changes. It is
	// closed after the session ends.
	Events() <-chan chat.Event
	// Rooms are the rooms the login reply listed, the lobby first, with
	// their unread counts.
	Rooms() []protocol.RoomInfo
	// Nick is how the user is shown, if they chose a nick.
	Nick() string
	// Private are the private conversations the login reply listed,
	// the newest first, with their unread counts.
	Private() []protocol.PrivateInfo
	// Send sends text to a conversation, with :shortcodes: expanded.
	Send(ctx context.Context, to command.Conv, text string) error
	// SendFile posts a file message to a conversation.
	SendFile(ctx context.Context, to command.Conv, f protocol.File, caption string) error
	// Run runs a command line as if typed in conversation cur, and
	// returns what it shows and the conversation that is current after
	// it (a /join switches).
	Run(ctx context.Context, cur command.Conv, line string) (*command.Output, command.Conv, error)
	// Commands lists the commands Run knows, for help and completion.
	Commands() []command.Spec
	// TextLimit is the most bytes of text a message may have.
	TextLimit() int
	// Refresh reconnects now.
	Refresh()
	// Typing tells the others in a conversation that the user is typing.
	Typing(to command.Conv)
}

// Transfers moves files between this machine and the file server: its
// shared folder, or the private space the user shares with one other
// person. Both calls report progress as they go, may take long, and stop
// with ctx's error when ctx is cancelled.
type Transfers interface {
	// Upload stores a file and describes the stored file, whose name may
	// differ if the one asked for was taken; a file stored in a private
	// space is described as Private.
	Upload(ctx context.Context, u Upload, progress func(done, total int64)) (protocol.File, error)
	// Download copies a file to the local path, which must not exist
	// yet: from the shared folder, or, if f is Private, from the private
	// space shared with the person named with.
	Download(ctx context.Context, f protocol.File, with, path string, progress func(done, total int64)) error
}

// Upload is a file to upload.
type Upload struct {
	Name string // in the shared folder, or in the private space
	Body io.ReadSeeker
	Size int64
	// Overwrite replaces your own file of the same name.
	Overwrite bool
	// With, if set, names the other person of the private space the file
	// goes to, instead of the shared folder.
	With string
}

// NewConn wraps a session and its runner. Commands run one at a time, as
// in line mode, because the runner keeps state (the current conversation,
// where /history got to); sending text does not wait for them.
//
// printed, if not nil, returns and forgets what commands reported while
// they ran instead of returning it (the file commands' printer); it is
// shown as the command's output.
func NewConn(s *chat.Session, r *command.Runner, printed func() string) Conn {
	return &runnerConn{s: s, r: r, printed: printed}
}

type runnerConn struct {
	s       *chat.Session
	mu      sync.Mutex // serializes commands on r
	r       *command.Runner
	printed func() string
}

func (c *runnerConn) Me() string                { return c.s.Me() }
func (c *runnerConn) Events() <-chan chat.Event { return c.s.Events() }
func (c *runnerConn) Refresh()                  { c.s.Refresh() }
func (c *runnerConn) TextLimit() int            { return c.r.TextLimit() }

func (c *runnerConn) Rooms() []protocol.RoomInfo {
	if ok := c.s.LoginReply(); ok != nil {
		return ok.Rooms
	}
	return nil
}

func (c *runnerConn) Typing(to command.Conv) {
	c.s.Notify(&protocol.Frame{Type: protocol.TypeTyping, Room: to.Room, To: to.With})
}

func (c *runnerConn) Nick() string {
	if ok := c.s.LoginReply(); ok != nil {
		return ok.Nick
	}
	return ""
}

func (c *runnerConn) Private() []protocol.PrivateInfo {
	if ok := c.s.LoginReply(); ok != nil {
		return ok.Private
	}
	return nil
}

func (c *runnerConn) Send(ctx context.Context, to command.Conv, text string) error {
	_, err := c.r.Send(ctx, to, text)
	return err
}

func (c *runnerConn) SendFile(ctx context.Context, to command.Conv, f protocol.File, caption string) error {
	_, err := c.r.SendFile(ctx, to, f, caption)
	return err
}

func (c *runnerConn) Run(ctx context.Context, cur command.Conv, line string) (*command.Output, command.Conv, error) {
	out, now, err := c.run(ctx, cur, line)
	if err == nil && out != nil && out.Type == "search" {
		// The matches came as events before the reply: the screen has
		// them all once it has handled what came before the reply.
		select {
		case <-c.s.Barrier():
		case <-ctx.Done():
		}
	}
	return out, now, err
}

func (c *runnerConn) run(ctx context.Context, cur command.Conv, line string) (*command.Output, command.Conv, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.r.Current = cur
	out, err := c.r.Run(ctx, line)
	if c.printed != nil {
		if text := c.printed(); text != "" && out == nil {
			out = &command.Output{Type: "text", Text: text}
		}
	}
	return out, c.r.Current, err
}

func (c *runnerConn) Commands() []command.Spec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.r.Commands()
}
