// Package lines is the client's line mode, for scripts, bots and tests. It
// reads one command per line, runs each only after the previous one has its
// reply, and prints one event per line: as text for people, or with JSON as
// one object per line.
package lines

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/shared/protocol"
)

// Config configures line mode.
type Config struct {
	In     io.Reader
	Out    io.Writer
	JSON   bool
	Runner *command.Runner
	// Err gets the text-mode report of message lines that were not
	// stored (standard error); nil means Out. With JSON the report is
	// printed on Out as not_stored objects.
	Err io.Writer
}

// CodeNotAcknowledged is the code of a message line that was sent but got
// no reply: the session ended, or line mode was stopped, first.
const CodeNotAcknowledged = "not_acknowledged"

// NotStored is an input line with a message that the server did not
// store.
type NotStored struct {
	Type    string `json:"type"` // "not_stored"
	Line    int    `json:"line"` // 1 for the first input line
	Text    string `json:"text"` // the line as read
	Code    string `json:"code"`
	Message string `json:"message"`
}

// NotStoredError is Run's error when some message lines were not stored.
// Err is why the session ended, if it did not end normally.
type NotStoredError struct {
	Lines []NotStored
	Err   error
}

func (e *NotStoredError) Error() string {
	msg := fmt.Sprintf("%d message line(s) not stored", len(e.Lines))
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *NotStoredError) Unwrap() error { return e.Err }

// Run reads commands until the end of input or /quit, then closes the
// session after the last command has its reply. Each input line that
// holds a message (text, or /msg) and was not stored is reported as it
// fails, and Run then returns a *NotStoredError listing them. Otherwise
// it returns chat.ErrReplaced if the session was replaced by a newer
// login, and the session's error if it ended for another reason.
func Run(ctx context.Context, cfg Config) error {
	p := &printer{out: cfg.Out, json: cfg.JSON, errOut: cfg.Err}
	if p.errOut == nil {
		p.errOut = cfg.Out
	}
	s := cfg.Runner.Session
	me := s.Me()
	p.connected(s, me)

	printed := make(chan struct{})
	go func() {
		defer close(printed)
		for ev := range s.Events() {
			if ev.Kind == chat.EvFrame && ev.Frame != nil && ev.Frame.Search {
				cfg.Runner.Found(ev.Frame)
			}
			p.event(ev, me)
		}
	}()

	type input struct {
		n    int
		text string
	}
	lines := make(chan input)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(cfg.In)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		n := 0
		for sc.Scan() {
			n++
			select {
			case lines <- input{n, sc.Text()}:
			case <-s.Done():
				return
			}
		}
		readErr <- sc.Err()
		close(lines)
	}()

	var err error
	var lost []NotStored
	notStored := func(in input, cerr error) {
		var pe *protocol.Error
		if !errors.As(cerr, &pe) {
			pe = &protocol.Error{Code: CodeNotAcknowledged, Message: cerr.Error()}
		}
		ns := NotStored{Type: "not_stored", Line: in.n, Text: in.text, Code: pe.Code, Message: pe.Message}
		lost = append(lost, ns)
		p.notStored(ns)
	}
loop:
	for {
		select {
		case in, ok := <-lines:
			if !ok {
				err = <-readErr
				break loop
			}
			out, cerr := cfg.Runner.Run(ctx, in.text)
			if errors.Is(cerr, command.ErrQuit) {
				break loop
			}
			// Print what came before the reply first.
			select {
			case <-s.Barrier():
			case <-s.Done():
			}
			if cerr != nil {
				ended := s.Err() != nil && !isProtocolErr(cerr)
				if !ended {
					p.err(cerr)
				}
				if isMessage(in.text) {
					notStored(in, cerr)
				}
				if ended {
					break loop // the session ended under the command
				}
				continue
			}
			if out != nil {
				p.output(out)
			}
		case <-s.Done():
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	endErr := s.Err()
	s.Close()
	<-printed
	if errors.Is(endErr, chat.ErrClosed) {
		endErr = nil
	}
	if len(lost) > 0 {
		p.lostSummary(len(lost))
		return &NotStoredError{Lines: lost, Err: endErr}
	}
	if endErr != nil {
		return endErr
	}
	return err
}

// isMessage reports whether an input line holds a message: text for the
// current conversation, or /msg.
func isMessage(line string) bool {
	line = strings.TrimRight(line, "\r\n")
	if strings.TrimSpace(line) == "" {
		return false
	}
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		return true
	}
	name, _, _ := strings.Cut(line[1:], " ")
	return strings.EqualFold(name, "msg")
}

func isProtocolErr(err error) bool {
	var pe *protocol.Error
	return errors.As(err, &pe)
}

// printer writes one line per event, whole lines only.
type printer struct {
	mu     sync.Mutex
	out    io.Writer
	errOut io.Writer // text-mode reports of lines not stored
	json   bool
}

// notStored reports a message line that was not stored.
func (p *printer) notStored(ns NotStored) {
	if p.json {
		p.writeJSON(ns)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.errOut, "client: line %d was not stored (%s: %s): %s\n", ns.Line, ns.Code, ns.Message, ns.Text)
}

// lostSummary says, in text mode, how many message lines were not stored.
func (p *printer) lostSummary(n int) {
	if p.json {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.errOut, "client: %d message line(s) were not stored; see above\n", n)
}

func (p *printer) writeJSON(v any) {
	b, _ := json.Marshal(v)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out.Write(append(b, '\n'))
}

func (p *printer) writeText(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	line = strings.ReplaceAll(line, "\n", "\n  ") // continuation lines stay with their event
	p.mu.Lock()
	defer p.mu.Unlock()
	io.WriteString(p.out, line+"\n")
}

func (p *printer) connected(s *chat.Session, me string) {
	w, ok := s.Welcome(), s.LoginReply()
	if p.json {
		c := map[string]any{"type": "connected", "name": me, "server": w.Server, "addr": s.Addr(), "rooms": ok.Rooms, "files_url": w.FilesURL}
		if len(ok.Private) > 0 {
			c["private"] = ok.Private
		}
		p.writeJSON(c)
		return
	}
	var rooms, private []string
	for _, r := range ok.Rooms {
		rooms = append(rooms, "#"+r.Name+unreadText(r.Unread, r.Mentions))
	}
	for _, c := range ok.Private {
		private = append(private, "@"+c.Name+unreadText(c.Unread, 0))
	}
	line := fmt.Sprintf("* connected as %s to %s; your rooms: %s", me, s.Addr(), strings.Join(rooms, ", "))
	if len(private) > 0 {
		line += "; private conversations: " + strings.Join(private, ", ")
	}
	p.writeText("%s. Type /help for commands.", line)
}

// unreadText is " (3 unread, 1 mentions you)", or "" when nothing is unread.
func unreadText(unread, mentions int) string {
	if unread == 0 {
		return ""
	}
	s := fmt.Sprintf(" (%d unread", unread)
	if unread >= protocol.MaxUnread {
		s = fmt.Sprintf(" (%d+ unread", unread)
	}
	if mentions > 0 {
		s += fmt.Sprintf(", %d mention you", mentions)
	}
	return s + ")"
}

func (p *printer) err(err error) {
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		pe = &protocol.Error{Code: "error", Message: err.Error()}
	}
	if p.json {
		p.writeJSON(map[string]any{"type": "error", "code": pe.Code, "message": pe.Message})
		return
	}
	p.writeText("! %s: %s", pe.Code, pe.Message)
}

func (p *printer) output(o *command.Output) {
	if o.Type == "sent" {
		return // the echo, printed as an event, is the acknowledgement
	}
	if !p.json && (o.Type == "edited" || o.Type == "reacted") {
		return // so are the edit and react events
	}
	if !p.json && (o.Type == "nick" || o.Type == "topic" || o.Type == "mode") {
		return // the nick, topic or mode event says it
	}
	if !p.json && o.Type == "search" && o.Count != nil {
		switch *o.Count {
		case 0:
			p.writeText("* no message has %s", o.Text)
		default:
			p.writeText("* %d matches of %s above, newest first; /context ID shows one where it was said", *o.Count, o.Text)
		}
		return
	}
	if !p.json && o.Type == "context" {
		return // the messages are printed
	}
	if !p.json && o.Type == "read" {
		p.writeText("* %s marked read up to message %d", command.Conv{Room: o.Room, With: o.To}, o.ID)
		return
	}
	if p.json {
		p.writeJSON(o)
		return
	}
	switch o.Type {
	case "switch":
		c := command.Conv{Room: o.Room, With: o.To}
		p.writeText("* now talking in %s", c)
	case "rooms":
		var parts []string
		for _, r := range o.Rooms {
			s := fmt.Sprintf("#%s (%d", r.Name, r.Members)
			if r.Owner != "" {
				s += ", owner " + r.Owner
			}
			if r.Joined {
				s += ", joined"
			}
			if r.Topic != "" {
				s += ", topic: " + r.Topic
			}
			parts = append(parts, s+")")
		}
		p.writeText("* rooms: %s", strings.Join(parts, ", "))
	case "who":
		var parts []string
		for _, m := range o.Members {
			var marks []string
			if m.Owner {
				marks = append(marks, "owner")
			} else if m.Operator {
				marks = append(marks, "operator")
			}
			if m.Voice {
				marks = append(marks, "voice")
			}
			if m.ServerOperator {
				marks = append(marks, "server operator")
			}
			if m.Online {
				marks = append(marks, "online")
			} else {
				marks = append(marks, "offline")
			}
			parts = append(parts, fmt.Sprintf("%s (%s)", m.Name, strings.Join(marks, ", ")))
		}
		more := ""
		if o.More > 0 {
			more = fmt.Sprintf(" and %d more", o.More)
		}
		banned := ""
		if len(o.Banned) > 0 {
			banned = fmt.Sprintf("; banned: %s (/unban NAME lets one back)", strings.Join(o.Banned, ", "))
		}
		p.writeText("* in #%s: %s%s%s", o.Room, strings.Join(parts, ", "), more, banned)
	case "history":
		if o.Count != nil && *o.Count == 0 {
			p.writeText("* no older messages")
		}
	case "refresh":
		p.writeText("* reconnecting now")
	default:
		if o.Text != "" {
			p.writeText("%s", o.Text)
		}
	}
}

func (p *printer) event(ev chat.Event, me string) {
	switch ev.Kind {
	case chat.EvMark:
		close(ev.Mark)
	case chat.EvReconnecting:
		cause := ""
		if ev.Err != nil {
			cause = ev.Err.Error()
		}
		if p.json {
			p.writeJSON(map[string]any{"type": "reconnecting", "attempt": ev.Attempt, "wait_ms": ev.Wait.Milliseconds(), "error": cause, "addr": ev.Addr})
			return
		}
		p.writeText("* connection lost (%s); reconnecting to %s in %s (attempt %d)", cause, ev.Addr, ev.Wait.Round(time.Millisecond), ev.Attempt)
	case chat.EvReconnected:
		if p.json {
			p.writeJSON(map[string]any{"type": "reconnected", "addr": ev.Addr})
			return
		}
		p.writeText("* reconnected; connected to %s", ev.Addr)
	case chat.EvClosed:
		if ev.Err == nil || errors.Is(ev.Err, chat.ErrClosed) || errors.Is(ev.Err, chat.ErrReplaced) {
			return
		}
		if p.json {
			p.writeJSON(map[string]any{"type": "disconnected", "error": ev.Err.Error()})
			return
		}
		p.writeText("! disconnected: %v", ev.Err)
	case chat.EvFrame:
		p.frame(ev.Frame, me)
	}
}

func (p *printer) frame(f *protocol.Frame, me string) {
	if p.json {
		p.writeJSON(f)
		return
	}
	switch f.Type {
	case protocol.TypeMessage:
		p.writeText("%s", FormatMessage(f, me))
	case protocol.TypeRecall:
		p.writeText("* %s recalled message %d in %s", f.From, f.Msg, command.ConvOf(f, me))
	case protocol.TypeTopic:
		if f.Text == "" {
			p.writeText("* %s cleared the topic of #%s", f.By, f.Room)
		} else {
			p.writeText("* %s set the topic of #%s: %s", f.By, f.Room, f.Text)
		}
	case protocol.TypeNick:
		if f.Nick == "" {
			p.writeText("* %s is shown by their login name again", f.Name)
		} else {
			p.writeText("* %s is now shown as %s", f.Name, f.Nick)
		}
	case protocol.TypeEdit:
		p.writeText("* %s edited message %d in %s: %s", f.From, f.Msg, command.ConvOf(f, me), f.Text)
	case protocol.TypeReact:
		if f.On {
			p.writeText("* %s reacted %s to message %d in %s", f.From, f.Emoji, f.Msg, command.ConvOf(f, me))
		} else {
			p.writeText("* %s took back %s from message %d in %s", f.From, f.Emoji, f.Msg, command.ConvOf(f, me))
		}
	case protocol.TypePresence:
		// The server tells every session of every change, its own
		// user's among them; that the user is online is no news to them.
		if command.SameName(f.Name, me) {
			return
		}
		if f.Status == protocol.StatusOnline {
			p.writeText("* %s is online", f.Name)
		} else {
			p.writeText("* %s went offline", f.Name)
		}
	case protocol.TypeMember:
		switch f.Action {
		case protocol.ActionJoin:
			p.writeText("* %s joined #%s", f.Name, f.Room)
		case protocol.ActionLeave:
			p.writeText("* %s left #%s", f.Name, f.Room)
		case protocol.ActionKick:
			p.writeText("* %s was removed from #%s by %s", f.Name, f.Room, f.By)
		}
	case protocol.TypeOwner:
		if f.Name == "" {
			p.writeText("* #%s has no owner now", f.Room)
		} else {
			p.writeText("* %s now owns #%s", f.Name, f.Room)
		}
	case protocol.TypeKicked:
		p.writeText("! %s removed you from #%s", f.By, f.Room)
	case protocol.TypeReplaced:
		p.writeText("! %s", f.Message)
	case protocol.TypeError:
		p.writeText("! %s: %s", f.Code, f.Message)
	case protocol.TypeMode:
		p.writeText("* %s", command.DescribeMode(f))
	case protocol.TypeTyping:
		// Shown by the full-screen and web clients while it lasts; as
		// lines, one every few seconds from each typist would bury the
		// conversation. -json prints them.
	default:
		b, _ := json.Marshal(f)
		p.writeText("* %s", b)
	}
}

// FormatMessage renders a message event as one line of text:
// "15:04 #room <alice> text [17]".
func FormatMessage(f *protocol.Frame, me string) string {
	t := time.UnixMilli(f.Time).Format("15:04")
	conv := command.ConvOf(f, me)
	body := f.Text
	switch {
	case f.Recalled:
		body = "(recalled)"
	case f.Kind == protocol.KindFile && f.File != nil:
		body = fmt.Sprintf("sent a file: %s (%s) — /download %d", f.File.Name, HumanSize(f.File.Size), f.ID)
		if f.Text != "" {
			body = f.Text + " — " + body
		}
	}
	if q := f.Quote; q != nil && f.ReplyTo != 0 {
		body = fmt.Sprintf("(re %s [%d]) %s", QuoteText(q), f.ReplyTo, body)
	}
	if f.Edited {
		body += " (edited)"
	}
	if len(f.Reactions) > 0 {
		body += " " + ReactionsText(f.Reactions)
	}
	hist := ""
	switch {
	case f.Search:
		hist = " (search)"
	case f.History:
		hist = " (history)"
	}
	from := f.From
	if f.Nick != "" {
		from = f.Nick + " (" + f.From + ")"
	}
	if f.Kind == protocol.KindAction && !f.Recalled {
		return fmt.Sprintf("%s %s * %s %s [%d]%s", t, conv, from, body, f.ID, hist)
	}
	return fmt.Sprintf("%s %s <%s> %s [%d]%s", t, conv, from, body, f.ID, hist)
}

// QuoteText is a reply's quote as text: "alice: first line".
func QuoteText(q *protocol.Quote) string {
	switch {
	case q.Recalled:
		return q.From + ": (recalled)"
	case q.Text == "" && q.Kind == protocol.KindFile:
		return q.From + ": (a file)"
	case q.Kind == protocol.KindAction:
		return "* " + q.From + " " + q.Text
	}
	return q.From + ": " + q.Text
}

// ReactionsText is a message's reactions as text: "{👍 2: bob, carol; 🎉 1: alice}".
func ReactionsText(rs []protocol.Reaction) string {
	var parts []string
	for _, r := range rs {
		names := strings.Join(r.Names, ", ")
		if more := r.Count - len(r.Names); more > 0 {
			names += fmt.Sprintf(" and %d more", more)
		}
		parts = append(parts, fmt.Sprintf("%s %d: %s", r.Emoji, r.Count, names))
	}
	return "{" + strings.Join(parts, "; ") + "}"
}

// HumanSize formats a byte count for people: 512 B, 1.5 KiB, 2.0 GiB.
func HumanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
