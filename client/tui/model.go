// Package tui is Parley's full-screen terminal interface, built with
// bubbletea. It shows a list of conversations with unread counts, the
// messages of the current one, an optional list of members, a status line
// and an input line with history and completion, plus an emoji picker,
// file transfers with progress and screenshots.
//
// Network events arrive as messages from a command that waits on the
// session's events; everything that talks to the network or the disk runs
// in commands, so the interface stays responsive while the connection is
// down.
package tui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client/capture"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/resources"
	"github.com/parley-chat/parley/shared/protocol"
)

// Config is what the chat screen needs.
type Config struct {
	Conn Conn
	// Server is the address shown in the status line; TLS says whether
	// the connection is encrypted.
	Server string
	TLS    bool
	// Node, if set, is the address of the node connected to when Server
	// lists a cluster's nodes: the status line shows it in place of
	// Server, and each reconnect changes it to the node it reached.
	Node string
	// Transfers moves files, as in line mode: uploads, downloads (to
	// its Downloads folder unless the user names another) and posting
	// file messages; nil when no file server is available.
	Transfers *files.Transfers
	// Capture takes a screenshot as PNG (default: capture.PNG).
	Capture func() ([]byte, error)
	// Sticker returns a sticker's PNG and StickerNames lists them
	// (default: the stickers in resources).
	Sticker      func(name string) ([]byte, error)
	StickerNames func() []string
	// Now and Location set the clock and the time zone of timestamps.
	Now      func() time.Time
	Location *time.Location
	// Context bounds every request the screen makes.
	Context context.Context
}

type focusArea int

const (
	focusInput focusArea = iota
	focusChats
	focusMessages
	focusMembers
)

// Model is the chat screen.
type Model struct {
	cfg  Config
	conn Conn
	ctx  context.Context
	me   string
	// myNick is how the user is shown, if they chose a nick.
	myNick string
	// alert says what calls for the user's attention (see notify), in
	// the window title until conversation alertConv is shown; bellAt is
	// when the bell last rang.
	alert, alertConv string
	bellAt           time.Time
	// typing shows who else is typing (see typists).
	typing typists
	// searchHits gathers the matches of a search until its reply;
	// hits are the conversations of the last search's, for /jump.
	searchHits []*protocol.Frame
	hits       map[uint64]command.Conv
	meN        protocol.Name

	width, height int
	geo           geometry // as last drawn

	convs []*conv
	cur   *conv

	input  inputLine
	picker *picker

	focus   focusArea
	chats   chatList
	msgs    messagePane
	members memberPane

	status statusBar
	// refreshing is the key of the conversation /refresh was typed in,
	// until the session is back; "" otherwise.
	refreshing string
	ended      error // why the session ended, once it has

	names  map[string]string // key → display, for completion
	online map[string]bool   // key → online
	rooms  map[string]string // key → display, every room seen

	// Presence and membership news counts up in seq. A member list
	// asked for at seq s is older than any change recorded after s,
	// so the list yields to those changes when it arrives.
	seq       uint64
	presentAt map[string]uint64 // key → seq of its last presence change

	xfers      transferList
	downloads  map[uint64]string // message id → where it was saved
	pending    int               // local id of the last pending send
	stickerSHA map[string]string // sha256 → sticker name
	artCache   map[string][]string

	exitErr error
}

// New returns the chat screen for a logged-in connection.
func New(cfg Config) *Model {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Location == nil {
		cfg.Location = time.Local
	}
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	if cfg.Capture == nil {
		cfg.Capture = capture.PNG
	}
	if cfg.Sticker == nil {
		cfg.Sticker = resources.Sticker
	}
	if cfg.StickerNames == nil {
		cfg.StickerNames = resources.StickerNames
	}
	m := &Model{
		cfg:        cfg,
		conn:       cfg.Conn,
		ctx:        cfg.Context,
		me:         cfg.Conn.Me(),
		names:      map[string]string{},
		online:     map[string]bool{},
		presentAt:  map[string]uint64{},
		rooms:      map[string]string{},
		downloads:  map[uint64]string{},
		artCache:   map[string][]string{},
		stickerSHA: map[string]string{},
		status:     statusBar{me: cfg.Conn.Me(), server: cmp.Or(cfg.Node, cfg.Server), tls: cfg.TLS, link: linkState{state: chat.Connected}},
		width:      80,
		height:     24,
	}
	m.meN, _ = protocol.ParseName(m.me)
	m.myNick = cfg.Conn.Nick()
	m.learnName(m.me)
	m.online[m.meN.Key] = true
	for _, r := range cfg.Conn.Rooms() {
		c := m.ensureConv(command.Conv{Room: r.Name})
		c.joined = true
		m.rooms[c.key] = r.Name
		c.unread, c.mention = r.Unread, r.Mentions > 0
		c.topic = r.Topic
	}
	// The server's list, so that a new device shows them at once.
	for _, p := range cfg.Conn.Private() {
		if sameName(p.Name, m.me) {
			continue
		}
		m.learnName(p.Name)
		c := m.ensureConv(command.Conv{With: p.Name})
		c.unread, c.mention = p.Unread, p.Unread > 0
		if n, err := protocol.ParseName(p.Name); err == nil {
			m.online[n.Key] = p.Online
		}
	}
	if len(m.convs) == 0 {
		m.ensureConv(command.Lobby).joined = true
	}
	m.cur = m.convs[0]
	m.addInfo(m.cur, "connected as "+clean(m.me, false)+" to "+clean(m.status.server, false)+". /help lists the commands and keys; F1 does too.")
	m.indexStickers()
	m.layout()
	return m
}

// Messages the screen gets from its commands.
type (
	eventMsg       struct{ ev chat.Event }
	eventsEndedMsg struct{}
	tickMsg        time.Time
	sentMsg        struct {
		conv    string // conversation key
		pending int
		text    string // as typed, shortcodes not expanded
		err     error
	}
	cmdDoneMsg struct {
		conv  string
		line  string
		out   *command.Output
		now   command.Conv
		err   error
		since uint64 // seq when it was started
	}
	recentMsg struct {
		conv command.Conv
		out  *command.Output
		err  error
	}
	whoMsg struct {
		conv  string
		out   *command.Output
		err   error
		since uint64 // seq when it was asked for
	}
	noteMsg struct {
		conv string
		text string
		err  error
	}
)

// Init starts waiting for events.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.waitEvent(), m.opened(m.cur))
}

// readDelay is how long a conversation stays on screen before its read
// position moves: flipping through conversations marks none of them
// read, and a busy one sends at most one read in that time.
const readDelay = time.Second

type readDueMsg struct{ conv string }

// readLater moves c's read position to its newest message once it has
// been shown for readDelay, if nothing of the kind waits already.
func (m *Model) readLater(c *conv) tea.Cmd {
	if c == nil || c.readWaits || m.ended != nil || c.newest() <= c.readAt {
		return nil
	}
	c.readWaits = true
	key := c.key
	return tea.Tick(readDelay, func(time.Time) tea.Msg { return readDueMsg{conv: key} })
}

// readDue sends the read of a conversation that is still on screen.
func (m *Model) readDue(msg readDueMsg) tea.Cmd {
	c := m.convByKey(msg.conv)
	if c == nil {
		return nil
	}
	c.readWaits = false
	id := c.newest()
	if c != m.cur || id <= c.readAt || m.ended != nil {
		return nil
	}
	c.readAt = id
	conn, ctx, cv := m.conn, m.ctx, c.id
	return func() tea.Msg {
		_, _, err := conn.Run(ctx, cv, fmt.Sprintf("/read %d", id))
		return readDoneMsg{err: err}
	}
}

type readDoneMsg struct{ err error }

func (m *Model) waitEvent() tea.Cmd {
	ch := m.conn.Events()
	return func() tea.Msg {
		ev, ok := <-ch
		if !ok {
			return eventsEndedMsg{}
		}
		return eventMsg{ev}
	}
}

// Err says why the screen ended: chat.ErrReplaced after a takeover, the
// session's error if it was lost, or nil after /quit.
func (m *Model) Err() error { return m.exitErr }

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.layout()
		return m, nil
	case eventMsg:
		cmd := m.handleEvent(msg.ev)
		return m, tea.Batch(cmd, m.waitEvent())
	case readDueMsg:
		return m, m.readDue(msg)
	case typingExpiredMsg:
		m.typing.expire(m.cfg.Now())
		return m, nil
	case readDoneMsg:
		// A read that fails changes nothing but the next login's
		// counts; the next one sent covers it.
		return m, nil
	case eventsEndedMsg:
		if m.ended == nil {
			m.ended = chat.ErrClosed
		}
		m.status.link.state = chat.Closed
		return m, nil
	case tickMsg:
		return m, m.status.Update(msg)
	case sentMsg:
		m.handleSent(msg)
		return m, nil
	case cmdDoneMsg:
		return m, m.handleCmdDone(msg)
	case whoMsg:
		m.handleWho(msg)
		return m, nil
	case recentMsg:
		m.handleRecent(msg)
		return m, nil
	case noteMsg:
		c := m.convByKey(msg.conv)
		if msg.err != nil {
			m.addError(c, msg.err)
		} else if msg.text != "" {
			m.addInfo(c, msg.text)
		}
		return m, nil
	case captureMsg:
		return m, m.handleCapture(msg)
	case transferProgressMsg:
		_, cmd := m.xfers.Update(msg)
		return m, cmd
	case transferDoneMsg:
		return m, m.handleTransferDone(msg)
	case tea.PasteMsg:
		if m.picker != nil {
			m.picker.Update(msg)
			return m, nil
		}
		m.focus = focusInput
		m.input.Update(msg, m.candidates)
		m.input.comp = nil
		return m, nil
	case tea.MouseWheelMsg:
		return m, m.handleWheel(msg)
	case tea.MouseClickMsg:
		return m, m.handleClick(msg)
	case tea.KeyPressMsg:
		return m, m.handleKey(msg)
	}
	return m, nil
}

// handleEvent applies one session event.
func (m *Model) handleEvent(ev chat.Event) tea.Cmd {
	switch ev.Kind {
	case chat.EvReconnecting:
		// A refresh's own first reconnect has the refresh as its cause.
		return m.status.reconnecting(ev, m.cfg.Now(), m.refreshing != "" && ev.Attempt <= 1)
	case chat.EvReconnected:
		m.status.reconnected()
		moved := ev.Addr != "" && ev.Addr != m.status.server
		if ev.Addr != "" {
			m.status.server = ev.Addr
		}
		switch {
		case m.refreshing != "":
			m.addInfo(m.convByKey(m.refreshing), "reconnected to "+clean(m.status.server, false))
			m.refreshing = ""
		case moved:
			m.addInfo(m.cur, "connected to "+clean(m.status.server, false))
		}
		for _, c := range m.convs {
			c.membersLoaded = false
		}
		return m.loadMembers(m.cur)
	case chat.EvClosed:
		m.refreshing = ""
		m.status.closed(ev.Err)
		m.ended = ev.Err
		if m.ended == nil {
			m.ended = chat.ErrClosed
		}
		switch {
		case errors.Is(ev.Err, chat.ErrReplaced):
			m.exitErr = chat.ErrReplaced
			m.addError(m.cur, errors.New("you logged in from somewhere else, so this session is closed; /quit to leave"))
		case ev.Err != nil && !errors.Is(ev.Err, chat.ErrClosed):
			m.exitErr = ev.Err
			m.addError(m.cur, errors.New("disconnected: "+ev.Err.Error()+"; /quit to leave"))
		}
	case chat.EvFrame:
		if ev.Frame != nil {
			return m.handleFrame(ev.Frame)
		}
	case chat.EvMark:
		close(ev.Mark) // everything before it is handled
	}
	return nil
}

func (m *Model) handleFrame(f *protocol.Frame) tea.Cmd {
	if f.Type == protocol.TypeTyping {
		return m.typing.typed(f, m.me, m.cfg.Now())
	}
	if f.Type == protocol.TypeMessage && !f.History {
		m.typing.stop(command.ConvOf(f, m.me).Key(), f.From)
	}
	if f.Type == protocol.TypeMessage && f.Search {
		m.searchHits = append(m.searchHits, f)
		return nil
	}
	switch f.Type {
	case protocol.TypeMessage:
		alert := m.addMessage(f)
		if c := m.findConv(command.ConvOf(f, m.me)); c == m.cur {
			return m.readLater(c)
		}
		if alert {
			return m.notify(f)
		}
	case protocol.TypeRecall:
		c := m.ensureConv(command.ConvOf(f, m.me))
		for _, e := range c.entries {
			if e.kind == entMessage && e.id == f.Msg {
				e.recalled = true
				e.rev++
				e.file, e.reactions = nil, nil
				c.dirty = true
			}
			if e.kind == entMessage && e.replyTo == f.Msg && e.quote != nil {
				e.quote = &protocol.Quote{From: e.quote.From, Recalled: true}
				e.rev++
				c.dirty = true
			}
		}
	case protocol.TypeEdit:
		c := m.ensureConv(command.ConvOf(f, m.me))
		if e := c.message(f.Msg); e != nil && !e.recalled {
			e.text, e.edited = clean(f.Text, true), true
			e.rev++
			c.dirty = true
		}
		for _, e := range c.entries {
			if e.kind == entMessage && e.replyTo == f.Msg && e.quote != nil && !e.quote.Recalled {
				e.quote = &protocol.Quote{From: e.quote.From, Kind: e.quote.Kind, Text: clean(protocol.FirstLine(f.Text), false)}
				e.rev++
				c.dirty = true
			}
		}
	case protocol.TypeReact:
		c := m.ensureConv(command.ConvOf(f, m.me))
		if e := c.message(f.Msg); e != nil && !e.recalled {
			e.react(f.Emoji, clean(f.From, false), f.On)
			c.dirty = true
		}
	case protocol.TypePresence:
		m.learnName(f.Name)
		n, err := protocol.ParseName(f.Name)
		if err != nil {
			break
		}
		on := f.Status == protocol.StatusOnline
		m.online[n.Key] = on
		m.seq++
		m.presentAt[n.Key] = m.seq
		// Everyone registered is in the lobby, and a new name says so
		// only by coming online.
		if lobby := m.findConv(command.Lobby); lobby != nil && lobby.membersLoaded && on && !lobby.hasMember(f.Name) {
			lobby.members = append(lobby.members, protocol.MemberInfo{Name: f.Name, Online: true})
		}
		for _, c := range m.convs {
			for i := range c.members {
				if sameKey(c.members[i].Name, n.Key) {
					c.members[i].Online = on
				}
			}
			sortMembers(c.members)
		}
		if c := m.findConv(command.Conv{With: f.Name}); c != nil {
			if on {
				m.addInfo(c, clean(f.Name, false)+" is online")
			} else {
				m.addInfo(c, clean(f.Name, false)+" went offline")
			}
		}
	case protocol.TypeTopic:
		c := m.findConv(command.Conv{Room: f.Room})
		if c == nil {
			break
		}
		c.topic = f.Text
		c.dirty = true
		if f.Text == "" {
			m.addInfo(c, clean(f.By, false)+" cleared the topic")
		} else {
			m.addInfo(c, clean(f.By, false)+" set the topic: "+clean(f.Text, false))
		}
	case protocol.TypeNick:
		if sameName(f.Name, m.me) {
			m.myNick = f.Nick
		}
		if f.Nick == "" {
			m.addInfo(m.cur, clean(f.Name, false)+" is shown by their login name again")
		} else {
			m.addInfo(m.cur, clean(f.Name, false)+" is now shown as "+clean(f.Nick, false))
		}
	case protocol.TypeMember:
		m.handleMember(f)
	case protocol.TypeMode:
		c := m.findConv(command.Conv{Room: f.Room})
		if c == nil {
			break
		}
		for i := range c.members {
			if f.Name == "" || !sameName(c.members[i].Name, f.Name) {
				continue
			}
			if f.Operator != nil {
				c.members[i].Operator = *f.Operator
			}
			if f.Voice != nil {
				c.members[i].Voice = *f.Voice
			}
		}
		m.addInfo(c, clean(command.DescribeMode(f), false))
	case protocol.TypeOwner:
		c := m.findConv(command.Conv{Room: f.Room})
		if c == nil {
			break
		}
		for i := range c.members {
			c.members[i].Owner = f.Name != "" && sameName(c.members[i].Name, f.Name)
		}
		if f.Name == "" {
			m.addInfo(c, "#"+clean(f.Room, false)+" has no owner now")
		} else {
			m.addInfo(c, clean(f.Name, false)+" now owns #"+clean(f.Room, false))
		}
	case protocol.TypeKicked:
		c := m.ensureConv(command.Conv{Room: f.Room})
		c.joined = false
		c.members = nil
		c.membersLoaded = false
		m.addError(c, errors.New(clean(f.By, false)+" removed you from #"+clean(f.Room, false)))
	case protocol.TypeReplaced:
		// The session ends next with ErrReplaced, which says so once
		// (see EvClosed).
	case protocol.TypeError:
		m.addError(m.cur, &protocol.Error{Code: f.Code, Message: clean(f.Message, false)})
	}
	return nil
}

func (m *Model) handleMember(f *protocol.Frame) {
	m.learnName(f.Name)
	c := m.findConv(command.Conv{Room: f.Room})
	if c == nil {
		return
	}
	who, room := clean(f.Name, false), "#"+clean(f.Room, false)
	isMe := sameName(f.Name, m.me)
	n, nameErr := protocol.ParseName(f.Name)
	if nameErr == nil {
		m.seq++
		if c.joinedAt == nil {
			c.joinedAt = map[string]uint64{}
		}
		c.joinedAt[n.Key] = m.seq
	}
	switch f.Action {
	case protocol.ActionJoin:
		m.addInfo(c, who+" joined "+room)
		if !c.hasMember(f.Name) {
			// Joining takes being online.
			if nameErr == nil {
				m.online[n.Key] = true
				m.presentAt[n.Key] = m.seq
			}
			c.members = append(c.members, protocol.MemberInfo{Name: f.Name, Online: true})
			sortMembers(c.members)
		}
	case protocol.ActionLeave, protocol.ActionKick:
		if f.Action == protocol.ActionKick {
			m.addInfo(c, who+" was removed from "+room+" by "+clean(f.By, false))
		} else {
			m.addInfo(c, who+" left "+room)
		}
		c.removeMember(f.Name)
		if isMe && f.Action == protocol.ActionLeave && c.key != command.Lobby.Key() {
			m.removeConv(c)
		}
	}
}

// addMessage files a message event under its conversation.
// bellEvery is the least time between two bells: a burst of mentions
// (a catch-up, say) rings once.
const bellEvery = 2 * time.Second

// notify calls the user's attention to f, a mention of them or a
// private message in a conversation not on screen: the window title
// says who and where until that conversation is shown, and the terminal
// bell rings.
func (m *Model) notify(f *protocol.Frame) tea.Cmd {
	from := f.From
	if f.Nick != "" {
		from = f.Nick
	}
	cv := command.ConvOf(f, m.me)
	if cv.With != "" {
		m.alert = clean(from, false) + " wrote to you"
	} else {
		m.alert = clean(from, false) + " mentioned you in #" + clean(cv.Room, false)
	}
	m.alertConv = cv.Key()
	now := m.cfg.Now()
	if now.Sub(m.bellAt) < bellEvery {
		return nil
	}
	m.bellAt = now
	return tea.Raw("\a")
}

// addMessage files a message event under its conversation, and reports
// whether it calls for the user's attention: a new mention or private
// message from someone else, in a conversation not on screen.
func (m *Model) addMessage(f *protocol.Frame) bool {
	cv := command.ConvOf(f, m.me)
	if cv.Room == "" && cv.With == "" {
		return false // names no conversation
	}
	c := m.ensureConv(cv)
	if cv.Room != "" {
		m.rooms[c.key] = cv.Room
	}
	m.learnName(f.From)
	from := f.From
	if f.Nick != "" {
		from = f.Nick
	}
	e := &entry{
		kind:     entMessage,
		id:       f.ID,
		from:     clean(from, false),
		at:       time.UnixMilli(f.Time),
		text:     clean(f.Text, true),
		recalled: f.Recalled,
		edited:   f.Edited,
		action:   f.Kind == protocol.KindAction,
		replyTo:  f.ReplyTo,
		own:      sameName(f.From, m.me),
		history:  f.History,
	}
	if q := f.Quote; q != nil {
		e.quote = &protocol.Quote{From: clean(q.From, false), Text: clean(q.Text, false), Kind: q.Kind, Recalled: q.Recalled}
	}
	for _, r := range f.Reactions {
		names := make([]string, len(r.Names))
		for i, n := range r.Names {
			names[i] = clean(n, false)
		}
		e.reactions = append(e.reactions, protocol.Reaction{Emoji: clean(r.Emoji, false), Count: r.Count, Names: names})
	}
	if f.Kind == protocol.KindFile && f.File != nil {
		file := *f.File
		file.Name = clean(file.Name, false)
		e.file = &file
	}
	if !e.own && (c.id.With != "" || m.mentions(e.text)) {
		e.mention = true
	}
	if !c.insert(e) {
		return false // already shown
	}
	if e.own || e.history {
		return false
	}
	if c != m.cur {
		c.unread++
		if e.mention {
			c.mention = true
		}
		return e.mention
	} else if !c.follow {
		c.newBelow++
	}
	return false
}

// mentions reports whether text names the user, by name or nick, as
// the server counts mentions (protocol.Mentions).
func (m *Model) mentions(text string) bool {
	return protocol.Mentions(text, m.me) || (m.myNick != "" && protocol.Mentions(text, m.myNick))
}

func (m *Model) handleSent(msg sentMsg) {
	c := m.convByKey(msg.conv)
	for i, e := range c.entries {
		if e.kind == entPending && e.seq == msg.pending {
			if chat.IsCode(msg.err, protocol.CodeTooLong) {
				// Refused for its length: the text goes back on the
				// input line, not into an error that would repeat it.
				c.entries = append(c.entries[:i], c.entries[i+1:]...)
				c.dirty = true
				m.addError(c, errors.New("not sent: "+errText(msg.err)))
				line := msg.text
				if strings.HasPrefix(line, "/") {
					line = "/" + line
				}
				m.restoreInput(c, line, msg.err)
				return
			}
			if msg.err != nil {
				e.kind = entError
				e.rev++
				e.text = "not sent: " + errText(msg.err) + " — " + e.text
				e.at = m.cfg.Now()
			} else {
				c.entries = append(c.entries[:i], c.entries[i+1:]...)
			}
			c.dirty = true
			return
		}
	}
	if msg.err != nil {
		m.addError(c, msg.err)
	}
}

func (m *Model) handleWho(msg whoMsg) {
	if msg.err != nil || msg.out == nil {
		// The member list stays as it was, and showing the room again
		// asks again.
		for _, c := range m.convs {
			if c.key == msg.conv {
				c.membersLoaded = false
			}
		}
		return
	}
	c := m.findConv(command.Conv{Room: msg.out.Room})
	if c == nil {
		c = m.convByKey(msg.conv)
		if c.id.Room == "" {
			return
		}
	}
	m.setMembers(c, msg.out, msg.since)
}

// setMembers puts in a member list the server sent in answer to a
// request made at seq since. Presence and joins or leaves that came
// after the request may be newer than the list, since they travel
// apart from the answer; for those names the screen keeps what it has.
func (m *Model) setMembers(c *conv, out *command.Output, since uint64) {
	newer := func(key string) bool { return m.presentAt[key] > since || c.joinedAt[key] > since }
	old := c.members
	c.members = make([]protocol.MemberInfo, 0, len(out.Members))
	listed := map[string]bool{}
	for _, mi := range out.Members {
		m.learnName(mi.Name)
		n, err := protocol.ParseName(mi.Name)
		if err != nil {
			continue
		}
		listed[n.Key] = true
		switch {
		case c.joinedAt[n.Key] > since && !memberIn(old, mi.Name):
			continue // left after the list was made
		case m.presentAt[n.Key] > since:
			mi.Online = m.online[n.Key]
		default:
			m.online[n.Key] = mi.Online
		}
		c.members = append(c.members, mi)
	}
	for _, mi := range old {
		if n, err := protocol.ParseName(mi.Name); err == nil && !listed[n.Key] && newer(n.Key) {
			c.members = append(c.members, mi) // came after the list was made
		}
	}
	c.membersMore = out.More
	c.membersLoaded = true
	sortMembers(c.members)
}

// opened loads what a conversation just made the current one lacks: a
// room's members, and a private conversation's newest messages if it shows
// none, as on a device that was not logged in when they were sent. (Rooms
// need no such request: the server sends their newest messages with each
// join and each login.)
func (m *Model) opened(c *conv) tea.Cmd {
	return tea.Batch(m.loadMembers(c), m.loadRecent(c), m.readLater(c))
}

// loadRecent asks, once, for the newest page of a private conversation
// opened with no messages in it. The messages come as history events, in
// order among any that arrive meanwhile. A conversation opened with
// messages, or cleared, never asks: /history pages back on request.
func (m *Model) loadRecent(c *conv) tea.Cmd {
	if c == nil || !c.private() || c.recentAsked || m.ended != nil {
		return nil
	}
	c.recentAsked = true
	if c.hasMessages() {
		return nil
	}
	conn, ctx, id := m.conn, m.ctx, c.id
	return func() tea.Msg {
		out, _, err := conn.Run(ctx, id, "/history")
		return recentMsg{conv: id, out: out, err: err}
	}
}

func (m *Model) handleRecent(msg recentMsg) {
	c := m.findConv(msg.conv)
	switch {
	case c == nil || m.ended != nil:
		// Closed meanwhile, or the session ended and says so itself.
	case msg.err != nil:
		// Not asked again by itself, so that a failure shows once;
		// /history asks on request.
		m.addError(c, errors.New("recent messages not loaded: "+errText(msg.err)))
	case msg.out != nil && msg.out.Count != nil && *msg.out.Count == 0 && !c.hasMessages():
		c.noneYet = &entry{kind: entInfo, at: m.cfg.Now(), text: "no messages here yet"}
		c.add(c.noneYet)
	}
}

// loadMembers asks for the member list of a room the first time it is
// shown.
func (m *Model) loadMembers(c *conv) tea.Cmd {
	if c == nil || c.id.Room == "" || c.membersLoaded || !c.joined || m.ended != nil {
		return nil
	}
	c.membersLoaded = true // one request at a time; a failure clears it
	conn, ctx, key, id, since := m.conn, m.ctx, c.key, c.id, m.seq
	return func() tea.Msg {
		out, _, err := conn.Run(ctx, id, "/who "+id.Room)
		return whoMsg{conv: key, out: out, err: err, since: since}
	}
}

func sortMembers(list []protocol.MemberInfo) {
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].Online != list[j].Online {
			return list[i].Online
		}
		return strings.ToLower(list[i].Name) < strings.ToLower(list[j].Name)
	})
}

func (m *Model) learnName(name string) {
	if name == "" {
		return
	}
	if n, err := protocol.ParseName(name); err == nil {
		m.names[n.Key] = clean(n.Display, false)
	}
}

func sameName(a, b string) bool {
	na, err1 := protocol.ParseName(a)
	nb, err2 := protocol.ParseName(b)
	return err1 == nil && err2 == nil && na.Key == nb.Key
}

func sameKey(name, key string) bool {
	n, err := protocol.ParseName(name)
	return err == nil && n.Key == key
}

// errText is an error as people read it.
func errText(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe.Message
	}
	var fe *files.Error
	if errors.As(err, &fe) {
		return fe.Message // the file server's, such as that the servers' secrets differ
	}
	if errors.Is(err, context.Canceled) {
		return "cancelled"
	}
	return err.Error()
}

// Server is the address of the chat server, as shown.
func (m *Model) Server() string { return m.cfg.Server }
