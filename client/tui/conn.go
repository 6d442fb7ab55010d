package tui

import (
	"context"
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
