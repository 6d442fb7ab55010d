// Package command runs what a person types, the same way in the terminal
// UI and in line mode: plain text goes to the current conversation, and
// lines that start with '/' are commands.
package command

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/compose"
	"github.com/parley-chat/parley/shared/protocol"
)

// ErrQuit is returned by Run for /quit.
var ErrQuit = errors.New("quit")

// Client-side error codes, for mistakes caught before anything is sent.
const (
	CodeUnknownCommand = "unknown_command"
	CodeUsage          = "usage"
)

// Conv is a conversation: a room, or a private conversation with a person.
type Conv struct {
	Room string // room name, for a room
	With string // the other person's name, for a private conversation
}

// Lobby is the conversation a session starts in.
var Lobby = Conv{Room: protocol.Lobby}

// String is "#room" or "@name".
func (c Conv) String() string {
	if c.With != "" {
		return "@" + c.With
	}
	return "#" + c.Room
}

// Key is a comparison form of the conversation, equal for "#Go" and "#go".
func (c Conv) Key() string {
	if c.With != "" {
		if n, err := protocol.ParseName(c.With); err == nil {
			return "@" + n.Key
		}
		return "@" + c.With
	}
	if n, err := protocol.ParseRoom(c.Room); err == nil {
		return "#" + n.Key
	}
	return "#" + c.Room
}

// ConvOf returns the conversation a message or recall event belongs to,
// as seen by me.
func ConvOf(f *protocol.Frame, me string) Conv {
	if f.Room != "" {
		return Conv{Room: f.Room}
	}
	if sameName(f.From, me) {
		return Conv{With: f.To}
	}
	return Conv{With: f.From}
}

// SameName says whether a and b are the same user's name, written alike
// or not (in another case, say).
func SameName(a, b string) bool { return sameName(a, b) }

func sameName(a, b string) bool {
	na, err1 := protocol.ParseName(a)
	nb, err2 := protocol.ParseName(b)
	return err1 == nil && err2 == nil && na.Key == nb.Key
}

// ParseConv reads "#room", "room" or "@name".
func ParseConv(s string) (Conv, error) {
	if strings.HasPrefix(s, "@") {
		n, err := protocol.ParseName(s[1:])
		if err != nil {
			return Conv{}, err
		}
		return Conv{With: n.Display}, nil
	}
	n, err := protocol.ParseRoom(s)
	if err != nil {
		return Conv{}, err
	}
	return Conv{Room: n.Display}, nil
}

// Output is what a command shows, besides the events it causes.
type Output struct {
	Type    string                `json:"type"` // rooms, who, switch, help, refresh, sent, kick, unban, edited, reacted
	Room    string                `json:"room,omitempty"`
	To      string                `json:"to,omitempty"`
	Rooms   []protocol.RoomInfo   `json:"rooms,omitempty"`
	Members []protocol.MemberInfo `json:"members,omitempty"`
	More    int                   `json:"more,omitempty"`
	// Banned, in who's output for the room's owner, lists the people
	// kicked from the room who may not join it again until unbanned.
	Banned []string `json:"banned,omitempty"`
	// Name is the person a kick or an unban was about.
	Name  string `json:"name,omitempty"`
	Text  string `json:"text,omitempty"`
	ID    uint64 `json:"id,omitempty"`
	Count *int   `json:"count,omitempty"`
	// On, after /react, says whether the reaction is now on.
	On *bool `json:"on,omitempty"`
}

// Spec describes one command for help and completion.
type Spec struct {
	Name  string // without the slash
	Args  string
	Help  string
	run   func(r *Runner, ctx context.Context, args string) (*Output, error)
	hands bool // takes a name as its first argument (for completion)
}

// Runner runs commands for one session and keeps the current conversation.
type Runner struct {
	Session *chat.Session
	// Current is the conversation plain text goes to.
	Current Conv
	// Extra are commands added by the client around the runner, such as
	// the file commands. They are listed in /help.
	Extra []Spec
	// Pages, if set, knows the oldest message shown in each conversation,
	// so that /history pages back from there.
	Pages *Pages
	// pages is where /history got to in each conversation, by Conv.Key.
	pages map[string]uint64
	// found are the conversations of the last searches' matches, by id,
	// for /context; Found may write it from another goroutine.
	foundMu sync.Mutex
	found   map[uint64]Conv
}

// Found records the conversation of a search match, for /context. Feed
// it every message event with Search (chat.Options.Observe does not see
// them), from any goroutine.
func (r *Runner) Found(f *protocol.Frame) {
	r.foundMu.Lock()
	defer r.foundMu.Unlock()
	if r.found == nil || len(r.found) > 1000 {
		r.found = map[uint64]Conv{}
	}
	r.found[f.ID] = ConvOf(f, r.Session.Me())
}

func (r *Runner) oldest(c Conv) uint64 {
	id := r.pages[c.Key()]
	if r.Pages != nil {
		if seen := r.Pages.Oldest(c); seen != 0 && (id == 0 || seen < id) {
			id = seen
		}
	}
	return id
}

func (r *Runner) setOldest(c Conv, id uint64) {
	if r.pages == nil {
		r.pages = map[string]uint64{}
	}
	r.pages[c.Key()] = id
}

// Pages records the oldest message seen in each conversation. Feed it
// every message event (chat.Options.Observe does) from any goroutine.
type Pages struct {
	me     string
	mu     sync.Mutex
	oldest map[string]uint64
	newest map[string]uint64
}

// NewPages returns a Pages for the user named me.
func NewPages(me string) *Pages {
	return &Pages{me: me, oldest: map[string]uint64{}, newest: map[string]uint64{}}
}

// Observe records a message event.
func (p *Pages) Observe(f *protocol.Frame) {
	if f.Type != protocol.TypeMessage {
		return
	}
	k := ConvOf(f, p.me).Key()
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.oldest[k]; !ok || f.ID < old {
		p.oldest[k] = f.ID
	}
	p.newest[k] = max(p.newest[k], f.ID)
}

// Newest is the id of the newest message seen in c, or 0.
func (p *Pages) Newest(c Conv) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.newest[c.Key()]
}

// Oldest is the id of the oldest message seen in c, or 0.
func (p *Pages) Oldest(c Conv) uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.oldest[c.Key()]
}

// NewRunner returns a runner whose current conversation is the lobby.
func NewRunner(s *chat.Session) *Runner {
	return &Runner{Session: s, Current: Lobby}
}

// Commands lists every command, for /help and completion.
func (r *Runner) Commands() []Spec {
	return append(append([]Spec(nil), builtins...), r.Extra...)
}

// NewSpec makes a command spec for Extra.
func NewSpec(name, args, help string, run func(ctx context.Context, args string) (*Output, error)) Spec {
	return Spec{Name: name, Args: args, Help: help, run: func(_ *Runner, ctx context.Context, a string) (*Output, error) {
		return run(ctx, a)
	}}
}

// builtins is set once, in init, because /help refers back to it.
var builtins []Spec

func init() {
	builtins = []Spec{
		{Name: "join", Args: "ROOM", Help: "join ROOM, creating it if it is new (you then own it), and switch to it", run: (*Runner).join},
		{Name: "leave", Args: "[ROOM]", Help: "leave ROOM (default: the current room)", run: (*Runner).leave},
		{Name: "switch", Args: "#ROOM | @NAME", Help: "make a room or a private conversation the current one", run: (*Runner).switchTo},
		{Name: "msg", Args: "NAME TEXT", Help: "send TEXT to NAME only", run: (*Runner).msg, hands: true},
		{Name: "rooms", Help: "list rooms with their member counts", run: (*Runner).rooms},
		{Name: "who", Args: "[ROOM]", Help: "list the members of ROOM (default: the current room), online first", run: (*Runner).who},
		{Name: "history", Args: "[N]", Help: "show N older messages of the current conversation (default 20)", run: (*Runner).history},
		{Name: "recall", Args: "[ID]", Help: "recall your message ID (default: your last one) within the recall window", run: (*Runner).recall},
		{Name: "me", Args: "TEXT", Help: "send an action to the current conversation: /me waves shows as * you waves", run: (*Runner).me},
		{Name: "topic", Args: "[TEXT]", Help: "set the current room's topic to TEXT, shown to everyone in its header and in /rooms (owner only; without TEXT: clear it)", run: (*Runner).topic},
		{Name: "nick", Args: "[NAME]", Help: "be shown as NAME, keeping your login name (without NAME: shown by your login name again)", run: (*Runner).nick},
		{Name: "edit", Args: "ID TEXT", Help: "change the text of your message ID to TEXT; everyone sees it marked edited", run: (*Runner).edit},
		{Name: "reply", Args: "ID TEXT", Help: "send TEXT to the current conversation as a reply to message ID, which it quotes", run: (*Runner).reply},
		{Name: "react", Args: "ID EMOJI", Help: "put an emoji (:thumbsup: or 👍) on message ID; the same again takes it back", run: (*Runner).react},
		{Name: "search", Args: "WORDS [in #ROOM|@NAME]", Help: "find the newest 20 messages with all of WORDS in your conversations (or in one); /context ID shows one where it was said", run: (*Runner).search},
		{Name: "context", Args: "ID", Help: "show message ID (a search match, say) with the 20 messages before it in its conversation", run: (*Runner).context},
		{Name: "read", Args: "[ID]", Help: "mark the current conversation read up to message ID (default: the newest shown), on all your devices", run: (*Runner).read},
		{Name: "kick", Args: "NAME", Help: "remove NAME from the current room and ban them from it until /unban NAME (owner only)", run: (*Runner).kick, hands: true},
		{Name: "unban", Args: "NAME", Help: "let NAME, kicked from the current room, join it again (owner only; /who lists the banned)", run: (*Runner).unban, hands: true},
		{Name: "op", Args: "NAME", Help: "make NAME an operator of the current room: they may kick, unban, set the topic and change roles, as the owner may (owner and operators only)", run: roleCmd("op", "operator", true), hands: true},
		{Name: "deop", Args: "NAME", Help: "take operator from NAME in the current room (owner and operators only; the owner always is one)", run: roleCmd("deop", "operator", false), hands: true},
		{Name: "voice", Args: "NAME", Help: "give NAME voice in the current room: a mark beside their name, no right (owner and operators only)", run: roleCmd("voice", "voice", true), hands: true},
		{Name: "devoice", Args: "NAME", Help: "take voice from NAME in the current room (owner and operators only)", run: roleCmd("devoice", "voice", false), hands: true},
		{Name: "secret", Args: "on|off", Help: "on: list the current room in /rooms to its members only (anyone who knows its name may still join); off: list it to everyone (owner and operators only)", run: settingCmd("secret")},
		{Name: "topiclock", Args: "on|off", Help: "on: only the owner and operators set the current room's topic (as a new room has it); off: any member may (owner and operators only)", run: settingCmd("topiclock")},
		{Name: "refresh", Help: "reconnect now, keeping your rooms and unsent messages", run: (*Runner).refresh},
		{Name: "help", Help: "show this list", run: (*Runner).help},
		{Name: "quit", Help: "leave Parley", run: func(*Runner, context.Context, string) (*Output, error) { return nil, ErrQuit }},
	}
}

// TakesName reports whether a command's first argument is a person.
func TakesName(cmd string) bool {
	for _, s := range builtins {
		if s.Name == cmd {
			return s.hands
		}
	}
	return false
}

// Run executes one line. Text that does not start with '/' is sent to the
// current conversation; "//text" sends "/text". Errors from the server are
// *protocol.Error values with its code.
func (r *Runner) Run(ctx context.Context, line string) (*Output, error) {
	line = strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(line) == "" {
		return nil, nil
	}
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		return r.Send(ctx, r.Current, strings.TrimPrefix(line, "/"))
	}
	name, args, _ := strings.Cut(line[1:], " ")
	args = strings.TrimSpace(args)
	for _, s := range r.Commands() {
		if s.Name == strings.ToLower(name) {
			return s.run(r, ctx, args)
		}
	}
	return nil, protocol.Errorf(CodeUnknownCommand, "unknown command /%s; /help lists them", name)
}

// Send sends text to a conversation, with emoji shortcodes expanded. Text
// over the server's limit is refused here, before anything is sent.
func (r *Runner) Send(ctx context.Context, to Conv, text string) (*Output, error) {
	text = compose.Expand(text)
	if err := CheckLength(text, r.TextLimit()); err != nil {
		return nil, err
	}
	f := &protocol.Frame{Type: protocol.TypeSend, Text: text, Key: chat.NewKey()}
	if to.With != "" {
		f.To = to.With
	} else {
		f.Room = to.Room
	}
	return r.do(ctx, f)
}

// TextLimit is the most bytes of text a message may have: the limit the
// server announced in its welcome, or the protocol's default.
func (r *Runner) TextLimit() int {
	if r.Session != nil {
		if w := r.Session.Welcome(); w != nil && w.Limits != nil && w.Limits.Text > 0 {
			return w.Limits.Text
		}
	}
	return protocol.MaxTextBytes
}

// CheckLength refuses text of more than limit bytes with a too_long
// error that says how long the text is and how long it may be, and does
// not repeat it.
func CheckLength(text string, limit int) error {
	if len(text) <= limit {
		return nil
	}
	return protocol.Errorf(protocol.CodeTooLong,
		"the message is too long to send: %d bytes, and the server takes at most %d (a letter of most non-Latin scripts takes 2 or 3 bytes, an emoji 4); shorten it and send it again",
		len(text), limit)
}

// SendFile posts a file message to a conversation.
func (r *Runner) SendFile(ctx context.Context, to Conv, file protocol.File, caption string) (*Output, error) {
	f := &protocol.Frame{Type: protocol.TypeSend, Kind: protocol.KindFile, File: &file, Text: caption, Key: chat.NewKey()}
	if to.With != "" {
		f.To = to.With
	} else {
		f.Room = to.Room
	}
	return r.do(ctx, f)
}

// do sends a message and returns its stored id as a "sent" output.
func (r *Runner) do(ctx context.Context, f *protocol.Frame) (*Output, error) {
	reply, err := r.Session.Do(ctx, f)
	if err != nil {
		return nil, err
	}
	return &Output{Type: "sent", ID: reply.Msg, Room: f.Room, To: f.To}, nil
}

func usage(format string, args ...any) error {
	return protocol.Errorf(CodeUsage, format, args...)
}

func (r *Runner) join(ctx context.Context, args string) (*Output, error) {
	if args == "" {
		return nil, usage("/join ROOM")
	}
	reply, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeJoin, Room: args})
	if err != nil {
		return nil, err
	}
	r.Current = Conv{Room: reply.Room}
	return &Output{Type: "switch", Room: reply.Room, Text: reply.Topic}, nil
}

// topic sets or clears the current room's topic.
func (r *Runner) topic(ctx context.Context, args string) (*Output, error) {
	if r.Current.With != "" {
		return nil, usage("/topic TEXT: a private conversation has no topic")
	}
	if len(args) > protocol.MaxTopicBytes {
		return nil, usage("/topic: a topic is at most %d bytes; this one is %d", protocol.MaxTopicBytes, len(args))
	}
	reply, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeTopic, Room: r.Current.Room, Text: args})
	if err != nil {
		return nil, err
	}
	return &Output{Type: "topic", Room: reply.Room, Text: args}, nil
}

func (r *Runner) leave(ctx context.Context, args string) (*Output, error) {
	room := args
	if room == "" {
		if r.Current.With != "" {
			return nil, usage("/leave ROOM: the current conversation is not a room")
		}
		room = r.Current.Room
	}
	reply, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeLeave, Room: room})
	if err != nil {
		return nil, err
	}
	if r.Current.Key() == (Conv{Room: reply.Room}).Key() {
		r.Current = Lobby
		return &Output{Type: "switch", Room: protocol.Lobby}, nil
	}
	return nil, nil
}

func (r *Runner) switchTo(ctx context.Context, args string) (*Output, error) {
	if args == "" {
		return nil, usage("/switch #ROOM or /switch @NAME")
	}
	c, err := ParseConv(args)
	if err != nil {
		return nil, err
	}
	if c.Room != "" {
		// Only to a room one is in: messages to any other would be refused.
		reply, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeRooms})
		if err != nil {
			return nil, err
		}
		in := false
		for _, ri := range reply.Rooms {
			if ri.Joined && (Conv{Room: ri.Name}).Key() == c.Key() {
				c.Room, in = ri.Name, true
			}
		}
		if !in {
			return nil, protocol.Errorf(protocol.CodeNotMember, "you are not in #%s; /join it first", c.Room)
		}
	}
	r.Current = c
	return &Output{Type: "switch", Room: c.Room, To: c.With}, nil
}

func (r *Runner) msg(ctx context.Context, args string) (*Output, error) {
	name, text, _ := strings.Cut(args, " ")
	if name == "" || strings.TrimSpace(text) == "" {
		return nil, usage("/msg NAME TEXT")
	}
	return r.Send(ctx, Conv{With: strings.TrimPrefix(name, "@")}, text)
}

func (r *Runner) rooms(ctx context.Context, _ string) (*Output, error) {
	reply, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeRooms})
	if err != nil {
		return nil, err
	}
	return &Output{Type: "rooms", Rooms: reply.Rooms}, nil
}

func (r *Runner) who(ctx context.Context, args string) (*Output, error) {
	room := args
	if room == "" {
		room = r.Current.Room // empty for a private conversation: the lobby
	}
	reply, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeWho, Room: room})
	if err != nil {
		return nil, err
	}
	return &Output{Type: "who", Room: reply.Room, Members: reply.Members, More: reply.More, Banned: reply.Banned}, nil
}

// history asks for the page before the oldest message of the current
// conversation that an earlier /history returned; the first asks for the
// newest page.
func (r *Runner) history(ctx context.Context, args string) (*Output, error) {
	n := 20
	if args != "" {
		v, err := strconv.Atoi(args)
		if err != nil || v <= 0 {
			return nil, usage("/history [N], with N a positive number")
		}
		n = min(v, protocol.MaxHistory)
	}
	f := &protocol.Frame{Type: protocol.TypeHistory, Limit: n, Before: r.oldest(r.Current)}
	if r.Current.With != "" {
		f.To = r.Current.With
	} else {
		f.Room = r.Current.Room
	}
	reply, err := r.Session.Do(ctx, f)
	if err != nil {
		return nil, err
	}
	if reply.Before != 0 {
		r.setOldest(r.Current, reply.Before)
	}
	count := reply.Limit
	return &Output{Type: "history", Room: f.Room, To: f.To, Count: &count}, nil
}

func (r *Runner) recall(ctx context.Context, args string) (*Output, error) {
	var id uint64
	if args != "" {
		v, err := strconv.ParseUint(strings.TrimPrefix(args, "#"), 10, 64)
		if err != nil || v == 0 {
			return nil, usage("/recall [ID], with ID a message number")
		}
		id = v
	}
	_, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeRecall, Msg: id})
	return nil, err
}

// messageID reads a message id, with or without a leading '#'.
func messageID(s string) (uint64, bool) {
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "#"), 10, 64)
	return v, err == nil && v != 0
}

// edit changes the text of one of the user's messages.
func (r *Runner) edit(ctx context.Context, args string) (*Output, error) {
	idText, text, _ := strings.Cut(args, " ")
	id, ok := messageID(idText)
	if !ok || strings.TrimSpace(text) == "" {
		return nil, usage("/edit ID TEXT, with ID the number of your message (shown after it in [ ])")
	}
	text = compose.Expand(text)
	if err := CheckLength(text, r.TextLimit()); err != nil {
		return nil, err
	}
	if _, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeEdit, Msg: id, Text: text}); err != nil {
		return nil, err
	}
	return &Output{Type: "edited", ID: id}, nil
}

// nick changes how the user is shown.
func (r *Runner) nick(ctx context.Context, args string) (*Output, error) {
	if strings.Contains(args, " ") {
		return nil, usage("/nick NAME: a name has no spaces")
	}
	reply, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeNick, Nick: args})
	if err != nil {
		return nil, err
	}
	return &Output{Type: "nick", Name: reply.Name, Text: reply.Nick}, nil
}

// me sends an action to the current conversation.
func (r *Runner) me(ctx context.Context, args string) (*Output, error) {
	if strings.TrimSpace(args) == "" {
		return nil, usage("/me TEXT, such as /me waves")
	}
	text := compose.Expand(args)
	if err := CheckLength(text, r.TextLimit()); err != nil {
		return nil, err
	}
	f := &protocol.Frame{Type: protocol.TypeSend, Kind: protocol.KindAction, Text: text, Key: chat.NewKey()}
	if r.Current.With != "" {
		f.To = r.Current.With
	} else {
		f.Room = r.Current.Room
	}
	return r.do(ctx, f)
}

// reply sends text to the current conversation as a reply to a message.
func (r *Runner) reply(ctx context.Context, args string) (*Output, error) {
	idText, text, _ := strings.Cut(args, " ")
	id, ok := messageID(idText)
	if !ok || strings.TrimSpace(text) == "" {
		return nil, usage("/reply ID TEXT, with ID the number of a message (shown after it in [ ])")
	}
	return r.SendReply(ctx, r.Current, text, id)
}

// SendReply is Send of a reply to message id (none if 0).
func (r *Runner) SendReply(ctx context.Context, to Conv, text string, id uint64) (*Output, error) {
	text = compose.Expand(text)
	if err := CheckLength(text, r.TextLimit()); err != nil {
		return nil, err
	}
	f := &protocol.Frame{Type: protocol.TypeSend, Text: text, Key: chat.NewKey(), ReplyTo: id}
	if to.With != "" {
		f.To = to.With
	} else {
		f.Room = to.Room
	}
	return r.do(ctx, f)
}

// react puts an emoji on a message, or takes it back.
func (r *Runner) react(ctx context.Context, args string) (*Output, error) {
	idText, emoji, _ := strings.Cut(args, " ")
	id, ok := messageID(idText)
	emoji = strings.TrimSpace(emoji)
	if !ok || emoji == "" {
		return nil, usage("/react ID EMOJI, with ID the number of a message and EMOJI one emoji, such as :thumbsup: or 👍")
	}
	return r.React(ctx, id, emoji)
}

// React puts emoji (a :shortcode: or the emoji) on message id, or
// takes it back if the user's is there.
func (r *Runner) React(ctx context.Context, id uint64, emoji string) (*Output, error) {
	reply, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeReact, Msg: id, Emoji: compose.Expand(emoji)})
	if err != nil {
		return nil, err
	}
	on := reply.On
	return &Output{Type: "reacted", ID: id, Text: reply.Emoji, On: &on}, nil
}

// search finds messages by their words: "WORDS" or "WORDS in #room" or
// "WORDS in @name".
func (r *Runner) search(ctx context.Context, args string) (*Output, error) {
	words, in := args, ""
	if i := strings.LastIndex(args, " in "); i >= 0 {
		if rest := strings.TrimSpace(args[i+4:]); !strings.Contains(rest, " ") && (strings.HasPrefix(rest, "#") || strings.HasPrefix(rest, "@")) {
			words, in = args[:i], rest
		}
	}
	if strings.TrimSpace(words) == "" {
		return nil, usage("/search WORDS [in #ROOM|@NAME]")
	}
	f := &protocol.Frame{Type: protocol.TypeSearch, Text: words}
	if in != "" {
		c, err := ParseConv(in)
		if err != nil {
			return nil, err
		}
		f.Room, f.To = c.Room, c.With
	}
	reply, err := r.Session.Do(ctx, f)
	if err != nil {
		return nil, err
	}
	count := reply.Limit
	return &Output{Type: "search", Text: words, Room: f.Room, To: f.To, Count: &count}, nil
}

// context shows a message with what came before it in its
// conversation: the conversation of a search match, or the current one.
func (r *Runner) context(ctx context.Context, args string) (*Output, error) {
	id, ok := messageID(args)
	if !ok {
		return nil, usage("/context ID, with ID a message number (of a /search match, say)")
	}
	r.foundMu.Lock()
	c, known := r.found[id]
	r.foundMu.Unlock()
	if !known {
		c = r.Current
	}
	f := &protocol.Frame{Type: protocol.TypeHistory, Before: id + 1, Limit: 21}
	if c.With != "" {
		f.To = c.With
	} else {
		f.Room = c.Room
	}
	reply, err := r.Session.Do(ctx, f)
	if err != nil {
		return nil, err
	}
	count := reply.Limit
	return &Output{Type: "context", Room: f.Room, To: f.To, ID: id, Count: &count}, nil
}

// read moves the user's read position in the current conversation.
func (r *Runner) read(ctx context.Context, args string) (*Output, error) {
	var id uint64
	if args != "" {
		v, ok := messageID(args)
		if !ok {
			return nil, usage("/read [ID], with ID a message number")
		}
		id = v
	} else if r.Pages != nil {
		id = r.Pages.Newest(r.Current)
	}
	if id == 0 {
		return nil, usage("/read: no message of %s has been shown yet; /read ID names one", r.Current)
	}
	f := &protocol.Frame{Type: protocol.TypeRead, Msg: id}
	if r.Current.With != "" {
		f.To = r.Current.With
	} else {
		f.Room = r.Current.Room
	}
	reply, err := r.Session.Do(ctx, f)
	if err != nil {
		return nil, err
	}
	return &Output{Type: "read", Room: f.Room, To: f.To, ID: reply.Msg}, nil
}

// kick removes someone from the current room, which also bans them from
// it until the owner unbans them.
func (r *Runner) kick(ctx context.Context, args string) (*Output, error) {
	if args == "" || strings.Contains(args, " ") {
		return nil, usage("/kick NAME")
	}
	if r.Current.With != "" {
		return nil, usage("/kick works in a room; /switch to it first")
	}
	name := strings.TrimPrefix(args, "@")
	reply, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeKick, Room: r.Current.Room, Name: name})
	if err != nil {
		return nil, err
	}
	room := roomOf(reply, r.Current.Room)
	return &Output{Type: "kick", Room: room, Name: name,
		Text: fmt.Sprintf("%s was removed from #%s and is banned from it until /unban %s", name, room, name)}, nil
}

// unban lets someone kicked from the current room join it again.
func (r *Runner) unban(ctx context.Context, args string) (*Output, error) {
	if args == "" || strings.Contains(args, " ") {
		return nil, usage("/unban NAME")
	}
	if r.Current.With != "" {
		return nil, usage("/unban works in a room; /switch to it first")
	}
	name := strings.TrimPrefix(args, "@")
	reply, err := r.Session.Do(ctx, &protocol.Frame{Type: protocol.TypeUnban, Room: r.Current.Room, Name: name})
	if err != nil {
		return nil, err
	}
	room := roomOf(reply, r.Current.Room)
	return &Output{Type: "unban", Room: room, Name: name,
		Text: fmt.Sprintf("%s is no longer banned from #%s and may join it again", name, room)}, nil
}

// DescribeMode says in words what a mode event changed: "ann made bob an
// operator of #Go".
func DescribeMode(f *protocol.Frame) string {
	var parts []string
	onOff := func(v bool, on, off string) string {
		if v {
			return on
		}
		return off
	}
	if f.Secret != nil {
		parts = append(parts, onOff(*f.Secret, "made #"+f.Room+" secret (listed to its members only)", "made #"+f.Room+" listed to everyone"))
	}
	if f.TopicLock != nil {
		parts = append(parts, onOff(*f.TopicLock, "locked the topic of #"+f.Room+" (owner and operators only)", "let every member of #"+f.Room+" set its topic"))
	}
	if f.Operator != nil {
		parts = append(parts, onOff(*f.Operator, "made "+f.Name+" an operator of #"+f.Room, "took operator from "+f.Name+" in #"+f.Room))
	}
	if f.Voice != nil {
		parts = append(parts, onOff(*f.Voice, "gave "+f.Name+" voice in #"+f.Room, "took voice from "+f.Name+" in #"+f.Room))
	}
	if len(parts) == 0 {
		return f.By + " changed the settings of #" + f.Room
	}
	return f.By + " " + strings.Join(parts, "; ")
}

// roleCmd is /op, /deop, /voice or /devoice: it gives a member of the
// current room a role (operator or voice), or takes it.
func roleCmd(cmd, role string, on bool) func(*Runner, context.Context, string) (*Output, error) {
	return func(r *Runner, ctx context.Context, args string) (*Output, error) {
		if args == "" || strings.Contains(args, " ") {
			return nil, usage("/%s NAME", cmd)
		}
		name := strings.TrimPrefix(args, "@")
		f := &protocol.Frame{Name: name}
		if role == "operator" {
			f.Operator = &on
		} else {
			f.Voice = &on
		}
		room, err := r.mode(ctx, cmd, f)
		if err != nil {
			return nil, err
		}
		var text string
		switch {
		case role == "operator" && on:
			text = fmt.Sprintf("%s is an operator of #%s: they may kick, unban, set the topic and change roles", name, room)
		case role == "operator":
			text = fmt.Sprintf("%s is no longer an operator of #%s", name, room)
		case on:
			text = fmt.Sprintf("%s has voice in #%s", name, room)
		default:
			text = fmt.Sprintf("%s no longer has voice in #%s", name, room)
		}
		return &Output{Type: "mode", Room: room, Name: name, Text: text}, nil
	}
}

// mode sends f as a mode request for the current room, for command cmd,
// and returns the room as the server spells it.
func (r *Runner) mode(ctx context.Context, cmd string, f *protocol.Frame) (string, error) {
	if r.Current.With != "" || r.Current.Room == "" {
		return "", usage("/%s works in a room; /switch to it first", cmd)
	}
	f.Type, f.Room = protocol.TypeMode, r.Current.Room
	reply, err := r.Session.Do(ctx, f)
	if err != nil {
		return "", err
	}
	return roomOf(reply, r.Current.Room), nil
}

// settingCmd is /secret or /topiclock: it turns a setting of the current
// room on or off.
func settingCmd(cmd string) func(*Runner, context.Context, string) (*Output, error) {
	return func(r *Runner, ctx context.Context, args string) (*Output, error) {
		var on bool
		switch strings.ToLower(args) {
		case "on":
			on = true
		case "off":
		default:
			return nil, usage("/%s on|off", cmd)
		}
		f := &protocol.Frame{}
		if cmd == "secret" {
			f.Secret = &on
		} else {
			f.TopicLock = &on
		}
		room, err := r.mode(ctx, cmd, f)
		if err != nil {
			return nil, err
		}
		var text string
		switch {
		case cmd == "secret" && on:
			text = fmt.Sprintf("#%s is secret: /rooms lists it to its members only", room)
		case cmd == "secret":
			text = fmt.Sprintf("#%s is listed to everyone", room)
		case on:
			text = fmt.Sprintf("the topic of #%s is locked: only the owner and operators set it", room)
		default:
			text = fmt.Sprintf("any member of #%s may set its topic", room)
		}
		return &Output{Type: "mode", Room: room, Text: text}, nil
	}
}

// roomOf is the room a reply names, as the server spells it, or asked
// if it names none.
func roomOf(reply *protocol.Frame, asked string) string {
	if reply != nil && reply.Room != "" {
		return reply.Room
	}
	return asked
}

func (r *Runner) refresh(context.Context, string) (*Output, error) {
	r.Session.Refresh()
	return &Output{Type: "refresh"}, nil
}

func (r *Runner) help(context.Context, string) (*Output, error) {
	return &Output{Type: "help", Text: r.HelpText()}, nil
}

// HelpText lists every command with its arguments and purpose.
func (r *Runner) HelpText() string {
	var b strings.Builder
	b.WriteString("Type text to send it to the current conversation. :shortcode: becomes an emoji (:smile: → 😄).\n")
	for _, s := range r.Commands() {
		usage := "/" + s.Name
		if s.Args != "" {
			usage += " " + s.Args
		}
		fmt.Fprintf(&b, "  %-28s %s\n", usage, s.Help)
	}
	return strings.TrimRight(b.String(), "\n")
}
