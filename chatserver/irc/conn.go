package irc

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/ergochat/irc-go/ircmsg"
	"github.com/ergochat/irc-go/ircreader"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/shared/protocol"
)

// caps are the IRCv3 capabilities a client enabled.
type caps struct {
	serverTime, messageTags, echo, batch, redaction, awayNotify, sasl, capNotify bool
	multiPrefix, userhostInNames, labeledResponse                                bool
}

// channel is a room the client has been shown as joined, with what the
// connection tracks of it to answer IRC's questions and to turn the
// hub's presence into JOIN and QUIT lines.
type channel struct {
	name      string // the room's display name, as the hub's events carry it
	topic     string
	topicBy   string
	topicTime int64
	owner     string
	// members maps display names to whether they are online; the hub's
	// events name users by display name, so no case folding is needed
	// per event.
	members map[string]bool
	// ops and voiced are the members with those roles (the owner is an
	// operator whether or not it is in ops), by display name; secret
	// and topicLock are the room's settings (+s, +t).
	ops, voiced       map[string]bool
	secret, topicLock bool
}

// isOp reports whether name is shown as one of ch's operators.
func (ch *channel) isOp(name string) bool { return name == ch.owner || ch.ops[name] }

// prefix is the membership prefix of name in ch: @ for an operator, +
// for voice, both with multi-prefix.
func (ch *channel) prefix(name string, multi bool) string {
	p := ""
	if ch.isOp(name) {
		p = "@"
	}
	if ch.voiced[name] && (p == "" || multi) {
		p += "+"
	}
	return p
}

// modes is ch's settings as a mode string: "+st", "+t", "+s" or "+".
func (ch *channel) modes() string {
	m := "+"
	if ch.secret {
		m += "s"
	}
	if ch.topicLock {
		m += "t"
	}
	return m
}

// newChannel is a channel for room, with its members and their roles
// from a who reply and the settings it carries.
func newChannel(room string, w *protocol.Frame) *channel {
	ch := &channel{name: room, members: map[string]bool{}, ops: map[string]bool{}, voiced: map[string]bool{}}
	if w == nil || w.Type != protocol.TypeOK {
		return ch
	}
	for _, mb := range w.Members {
		ch.members[mb.Name] = mb.Online
		if mb.Owner {
			ch.owner = mb.Name
		}
		if mb.Operator && !mb.Owner {
			ch.ops[mb.Name] = true
		}
		if mb.Voice {
			ch.voiced[mb.Name] = true
		}
	}
	if w.Secret != nil {
		ch.secret = *w.Secret
	}
	if w.TopicLock != nil {
		ch.topicLock = *w.TopicLock
	}
	return ch
}

// conn is one IRC connection. The reader goroutine (serve) owns the
// fields marked so; mu guards the rest, which the hub's goroutine
// touches through Queue.
type conn struct {
	srv       *Server
	nc        net.Conn
	id        uint64
	remote    netip.Addr
	host      string
	rd        ircreader.Reader // reader's
	s         *session.Session // reader's
	reg       registration     // reader's
	reqID     uint64           // reader's
	away      string           // reader's
	invisible bool             // reader's
	oper      bool             // reader's: a server operator (OPER)

	replyCh chan *protocol.Frame // the reply the reader waits for
	ended   chan struct{}        // closed once the socket is closed
	// readDone is closed when the reader has stopped reading.
	readDone chan struct{}

	mu         sync.Mutex
	nick       string // the account's login name once logged in; "*" before
	told       string // the nick the client was told it has: its Parley nick, or nick
	caps       caps
	registered bool           // the welcome was sent: events are shown
	preReg     []*event.Event // events that came before the welcome
	channels   map[string]*channel
	joining    string         // the room a join waits for, by display name
	joinHeld   []*event.Event // its events meanwhile
	waitID     uint64         // the request whose reply the reader waits for
	out        []byte
	spare      []byte
	// While a command with a label (IRCv3 labeled-response) is handled,
	// labeling is set: what is sent meanwhile collects in out, and
	// before holds what was queued until then, which the writer sends
	// meanwhile; then endLabel labels the response and queues it.
	labeling bool
	label    string
	before   []byte
	batches  uint64 // labeled-response batches sent, for their ids
	writing  bool
	closed   bool
	reason   string
	user     string
}

func newConn(s *Server, nc net.Conn, id uint64) *conn {
	c := &conn{srv: s, nc: nc, id: id, remote: remoteOf(nc), host: localHost(nc),
		replyCh: make(chan *protocol.Frame, 1), ended: make(chan struct{}), readDone: make(chan struct{}), nick: "*", told: "*"}
	if s.cfg.TLS != nil {
		c.nc = tls.Server(nc, s.cfg.TLS)
	}
	return c
}

func (c *conn) serve() {
	defer func() {
		close(c.readDone)
		c.Close("", "")
		<-c.ended
		c.mu.Lock()
		reason := c.reason
		c.mu.Unlock()
		if reason == "" {
			reason = "client_closed"
		}
		c.srv.countClose(reason)
		if c.s != nil {
			c.s.End()
		}
		if c.reg.welcomed {
			c.srv.dropIdent(c.loginName(), c)
		}
		c.srv.log.Info("connection closed", c.logAttrs("reason", reason)...)
	}()
	if tc, ok := c.nc.(*tls.Conn); ok {
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			c.srv.log.Debug("tls handshake failed", c.logAttrs("err", err)...)
			c.mu.Lock()
			c.reason = "tls_failed"
			c.mu.Unlock()
			return
		}
		tc.SetDeadline(time.Time{})
	}
	c.rd.Initialize(c.nc, 512, MaxLine+2)
	c.s = c.srv.cfg.Sessions.Accept(c)
	// The session's handshake; its welcome event has nothing to say to
	// an IRC client.
	if !c.s.Request(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version, Client: "irc"}) {
		return
	}
	for {
		line, err := c.rd.ReadLine()
		if err != nil {
			switch {
			case errors.Is(err, os.ErrDeadlineExceeded):
				next, goOn := c.s.Timeout()
				if !goOn {
					return
				}
				c.nc.SetReadDeadline(next)
				continue
			case errors.Is(err, ircreader.ErrReadQ):
				c.Close(protocol.CodeFrameTooLarge, "Line too long: at most 8191 bytes")
			case errors.Is(err, io.EOF):
				if c.s.LoggedIn() {
					c.s.InputEnded(c.ended)
				}
			}
			return
		}
		if len(line) > MaxLine {
			c.Close(protocol.CodeFrameTooLarge, "Line too long: at most 8191 bytes")
			return
		}
		if !c.line(line) {
			return
		}
	}
}

// line handles one line from the client. It reports false when the
// connection is to end.
func (c *conn) line(line []byte) bool {
	if len(line) == 0 {
		return true
	}
	if ok, goOn := c.s.Input(0); !goOn {
		return false
	} else if !ok {
		return true // refused; the session said why
	}
	msg, refusal, err := parse(line)
	switch {
	case refusal != "":
		c.numeric("417", refusal)
		return true
	case errors.Is(err, ircmsg.ErrorLineIsEmpty):
		return true
	case errors.Is(err, ircmsg.ErrorBadParam), errors.Is(err, ircmsg.ErrorLineContainsBadChar):
		c.numeric("421", "*", "Malformed line: "+err.Error())
		return true
	case err != nil:
		c.notice("Could not parse that line: " + err.Error())
		return true
	}
	if !c.startLabel(&msg) {
		return c.command(&msg)
	}
	goOn := c.command(&msg)
	c.endLabel()
	return goOn
}

// startLabel starts collecting the response to a command with a label
// tag, if the client enabled labeled-response and is registered. It
// reports whether it did.
func (c *conn) startLabel(m *ircmsg.Message) bool {
	ok, label := m.GetTag("label")
	if !ok || label == "" || !c.reg.welcomed {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.caps.labeledResponse || c.closed {
		return false
	}
	c.labeling, c.label = true, label
	c.before, c.out = c.out, nil
	return true
}

// endLabel sends the response collected since startLabel, labeled: no
// line becomes ACK, one line gets the label tag, and more lines go in a
// labeled-response batch (with the batch capability; without it, only
// the first line is labeled).
func (c *conn) endLabel() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.labeling {
		return // closed meanwhile: closeLocked sent it as it was
	}
	resp := c.out
	c.out = c.before
	c.labeling, c.before = false, nil
	batch := ""
	if c.caps.batch {
		c.batches++
		batch = "l" + strconv.FormatUint(c.batches, 36)
	}
	c.out = appendLabeled(c.out, resp, c.label, c.srv.cfg.ServerName, batch)
	c.flushLocked()
}

// request hands the session a request and waits for its reply. It
// reports false when the connection has ended or is to end.
func (c *conn) request(f *protocol.Frame) (*protocol.Frame, bool) {
	c.reqID++
	f.ID = c.reqID
	c.mu.Lock()
	c.waitID = f.ID
	c.mu.Unlock()
	if !c.s.Request(f) {
		return nil, false
	}
	select {
	case r := <-c.replyCh:
		return r, true
	case <-c.ended:
		return nil, false
	}
}

// SetReadDeadline is the session's: the reader's read deadline.
func (c *conn) SetReadDeadline(t time.Time) { c.nc.SetReadDeadline(t) }

func (c *conn) RemoteAddr() netip.Addr { return c.remote }
func (c *conn) Host() string           { return c.host }

func (c *conn) SetUser(name string) {
	c.mu.Lock()
	c.user = name
	c.mu.Unlock()
}

func (c *conn) logAttrs(args ...any) []any {
	c.mu.Lock()
	user := c.user
	c.mu.Unlock()
	a := []any{"conn", c.id, "transport", "irc", "remote", c.remote.String()}
	if user != "" {
		a = append(a, "user", user)
	}
	return append(a, args...)
}

// Queue takes an event from the hub or the session: a reply goes to the
// reader waiting for it; anything else is encoded as IRC lines and
// queued. It never blocks; a client whose queue would grow past the
// limit is disconnected as a slow consumer.
func (c *conn) Queue(ev *event.Event) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	if ev.Kind == event.Nick {
		// Encode it now, in the hub's order: the encoding reads and
		// updates the nick the door knows the user by.
		ev.Encoded(event.IRC, c.srv.encode)
	}
	if ev.Kind == event.Reply {
		f := ev.Frame
		if f.Re != 0 && f.Re == c.waitID {
			c.waitID = 0
			c.replyCh <- f
		} else if f.Type == protocol.TypeError {
			c.noticeLocked(f.Message)
		}
		return true
	}
	switch {
	case !c.registered:
		c.preReg = append(c.preReg, ev)
	case c.joining != "" && roomKey(eventRoom(ev)) == c.joining:
		c.joinHeld = append(c.joinHeld, ev)
	default:
		c.eventLocked(ev)
	}
	if len(c.out) > c.srv.cfg.MaxQueue || len(c.preReg)+len(c.joinHeld) > 100_000 {
		c.closeLocked(protocol.CodeSlowConsumer, "SendQ exceeded: you were not reading fast enough", true)
		return false
	}
	return true
}

// eventRoom is the room an event is about, if any.
func eventRoom(ev *event.Event) string {
	if ev.Frame == nil {
		return ""
	}
	switch ev.Kind {
	case event.Message, event.Recall, event.Edit, event.React, event.Member, event.Owner, event.Kicked, event.Topic:
		return ev.Frame.Room
	}
	return ""
}

// Flush starts the writer if something is queued.
func (c *conn) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.flushLocked()
}

func (c *conn) flushLocked() {
	if c.labeling {
		if !c.writing && len(c.before) > 0 {
			c.writing = true
			go c.writeLoop()
		}
		return
	}
	if !c.writing && len(c.out) > 0 {
		c.writing = true
		go c.writeLoop()
	}
}

// Close writes what is queued, then ERROR with the reason, then closes.
func (c *conn) Close(code, message string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(code, message, false)
}

func (c *conn) closeLocked(code, message string, drop bool) {
	if c.closed {
		return
	}
	c.closed, c.reason = true, code
	if c.labeling {
		// The response so far goes unlabeled, after what came before it.
		c.out = append(c.before, c.out...)
		c.labeling, c.before = false, nil
	}
	if drop {
		c.out = c.out[:0]
	}
	if code != "" {
		if message == "" {
			message = code
		}
		c.out = appendLine(c.out, "", "ERROR", "Closing link: "+message)
	}
	if !c.writing {
		c.writing = true
		go c.writeLoop()
	}
}

// writeLoop writes what is queued until the queue is empty; then it
// exits, or, if the connection is closing, closes it.
func (c *conn) writeLoop() {
	for {
		c.mu.Lock()
		var b []byte
		if c.labeling {
			// A labeled response is being collected in out: write only
			// what came before it.
			b, c.before = c.before, nil
		} else {
			b = c.out
			c.out = c.spare[:0]
			c.spare = nil
		}
		closed := c.closed
		if len(b) == 0 && !closed {
			c.writing = false
			c.spare = b[:0]
			if cap(c.spare) > 64<<10 {
				c.spare = nil // do not keep a burst's buffer
			}
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		if len(b) > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
			if _, err := c.nc.Write(b); err != nil {
				c.mu.Lock()
				if errors.Is(err, os.ErrDeadlineExceeded) {
					c.closeLocked(protocol.CodeSlowConsumer, "", true)
				} else {
					c.closeLocked("write_failed", "", true)
				}
				c.mu.Unlock()
				c.nc.Close()
				close(c.ended)
				return
			}
			c.mu.Lock()
			if c.spare == nil && cap(b) <= 64<<10 {
				c.spare = b[:0]
			}
			c.mu.Unlock()
			continue
		}
		// Closing, and everything queued is written. The client gets
		// the end of the stream and a moment to read it, and to close its
		// side, before the socket goes: closing it with unread input
		// would reset it and lose the ERROR line.
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
		t := time.NewTimer(time.Second)
		select {
		case <-c.readDone:
		case <-t.C:
		}
		t.Stop()
		c.nc.Close()
		close(c.ended)
		return
	}
}

// parse parses one line from a client (without its CRLF) with ircmsg.
// A line whose tags or body are over IRCv3's limits is refused with the
// text of ERR_INPUTTOOLONG, and is not parsed.
func parse(line []byte) (msg ircmsg.Message, refusal string, err error) {
	body := line
	if len(body) > 0 && body[0] == '@' {
		i := bytes.IndexByte(body, ' ')
		if i < 0 {
			i = len(body)
		}
		// message-tags: at most 4094 bytes of tags from a client.
		if i-1 > 4094 {
			return msg, "Input line was too long: at most 4094 bytes of tags", nil
		}
		body = body[min(i+1, len(body)):]
	}
	if len(body) > maxBody-2 {
		return msg, "Input line was too long: at most 512 bytes besides tags", nil
	}
	msg, err = ircmsg.ParseLineStrict(string(line), true, 0)
	return msg, "", err
}
