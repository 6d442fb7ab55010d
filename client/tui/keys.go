package tui

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/compose"
	"github.com/parley-chat/parley/shared/protocol"
)

// localCommands are handled by the screen itself; the rest go to the
// command runner, exactly as in line mode.
var localCommands = []command.Spec{
	{Name: "emoji", Args: "[WORD]", Help: "open the emoji picker (F3), searching for WORD"},
	{Name: "sticker", Args: "NAME", Help: "send a sticker; /sticker alone lists them"},
	{Name: "screenshot", Help: "capture every screen, upload it and post it here (F4)"},
	{Name: "upload", Args: "[-f] PATH [NAME]", Help: "upload a file (as NAME) and post it here, with progress: to the shared folder, or in a private conversation to the private space only you two can see; a name another file has becomes NAME (1).ext; -f replaces your own file of that name"},
	{Name: "download", Args: "[ID|NAME] [DEST]", Help: "download the file of message ID, or NAME from the shared folder (in a private conversation: from your private space); by default the selected or newest file here; into DEST (a new file, or a folder) or your downloads folder, never over a file: a taken name becomes NAME (1).ext"},
	{Name: "cancel", Help: "cancel the newest file transfer (ctrl+x)"},
	{Name: "query", Args: "NAME", Help: "open a private conversation with NAME"},
	{Name: "users", Help: "show or hide the member list (F2)"},
	{Name: "clear", Help: "clear this conversation's screen"},
	{Name: "jump", Args: "ID", Help: "open the conversation of match ID of the last /search at that message"},
}

// keyHelp lists the key bindings for /help.
var keyHelp = [][2]string{
	{"Enter", "send the line; alt+Enter starts a new line in the message"},
	{"Tab", "complete a command, name, #room, @name or :emoji: (again: next)"},
	{"↑ / ↓", "recall earlier lines; ↑ on an empty line edits your last message here"},
	{"PgUp / PgDn, wheel", "scroll; End jumps to the newest"},
	{"ctrl+n / ctrl+p", "next / previous conversation (also alt+→ / alt+←)"},
	{"alt+1 … alt+9", "go to conversation 1 … 9"},
	{"shift+Tab / F6", "move between the panes: chats, messages, members"},
	{"F2 (alt+u)", "show or hide the members online"},
	{"F3 (alt+e)", "emoji picker"},
	{"F4 (alt+s)", "screenshot into this conversation"},
	{"ctrl+g", "download the selected (or newest) file"},
	{"ctrl+x", "cancel the newest transfer"},
	{"Esc", "back to typing"},
	{"ctrl+c", "quit"},
}

func (m *Model) handleKey(k tea.KeyPressMsg) tea.Cmd {
	m.status.link.note = ""
	if m.picker != nil {
		return m.pickerKey(k)
	}
	m.layout()
	if cmd, used := m.globalKey(k); used {
		return cmd
	}
	if m.focus != focusInput {
		if cmd, used := m.paneKey(k); used {
			return cmd
		}
		if k.Text == "" {
			return nil
		}
		m.focus = focusInput // typing goes to the input line
	}
	return m.inputKey(k)
}

// globalKey handles the keys that work whatever has the focus.
func (m *Model) globalKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	key := k.String()
	if m.msgs.scrollKey(key, m.cur) {
		return nil, true
	}
	switch key {
	case "ctrl+c":
		return m.quit(), true
	case "f1":
		m.showHelp()
	case "f2", "alt+u":
		if m.members.toggle() {
			return m.loadMembers(m.cur), true // if an earlier load failed
		}
		if m.focus == focusMembers {
			m.focus = focusInput
		}
	case "f3", "alt+e":
		m.openPicker("")
	case "f4", "alt+s":
		return m.screenshot(m.cur), true
	case "ctrl+n", "alt+right":
		m.switchBy(1)
		return m.opened(m.cur), true
	case "ctrl+p", "alt+left":
		m.switchBy(-1)
		return m.opened(m.cur), true
	case "alt+1", "alt+2", "alt+3", "alt+4", "alt+5", "alt+6", "alt+7", "alt+8", "alt+9":
		if i := int(key[4] - '1'); i < len(m.convs) {
			m.switchTo(m.convs[i])
		}
		return m.opened(m.cur), true
	case "shift+tab", "f6":
		m.cycleFocus()
	case "ctrl+g":
		return m.download(m.cur, ""), true
	case "ctrl+x":
		m.cancelTransfer("")
	case "esc":
		m.input.comp = nil
		m.focus = focusInput
		if m.cur.sel != nil {
			m.cur.sel = nil
			m.cur.dirty = true
		}
	default:
		return nil, false
	}
	return nil, true
}

// inputKey gives a key to the input line.
func (m *Model) inputKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "enter":
		return m.submit()
	case "up":
		if m.input.Empty() && !m.input.browsing() {
			// Like other chat programs: ↑ on an empty line edits your
			// last message here.
			if e := m.cur.lastOwn(); e != nil {
				m.startEdit(e)
				return nil
			}
		}
	case "end":
		if m.input.pos == len(m.input.text) {
			m.cur.scroll(len(m.cur.lines), m.msgs.innerH())
			return nil
		}
	}
	if m.input.Update(k, m.candidates) {
		return m.typedIn(m.cur)
	}
	return nil
}

// paneKey gives a key to the pane that has the focus, and reports
// whether the pane took it.
func (m *Model) paneKey(k tea.KeyPressMsg) (tea.Cmd, bool) {
	switch m.focus {
	case focusChats:
		i, used := m.chats.Update(k, len(m.convs))
		if i < 0 || i >= len(m.convs) {
			return nil, used
		}
		m.switchTo(m.convs[i])
		m.focus = focusInput
		return m.opened(m.cur), true
	case focusMembers:
		name, used := m.members.Update(k, m.memberList())
		if name != "" {
			return m.openPrivate(name), true
		}
		return nil, used
	case focusMessages:
		act, e, used := m.msgs.Update(k, m.cur, m.render)
		return m.messageAction(act, e), used
	}
	return nil, false
}

// messageAction does what the message pane asked for with message e.
func (m *Model) messageAction(act msgAction, e *entry) tea.Cmd {
	switch act {
	case actDownload:
		return m.download(m.cur, "")
	case actRecall:
		return m.runCmd(fmt.Sprintf("/recall %d", e.id))
	case actEdit:
		m.startEdit(e)
		m.focus = focusInput
	case actReply:
		m.input.SetValue(fmt.Sprintf("/reply %d ", e.id))
		m.focus = focusInput
	case actReact:
		m.input.SetValue(fmt.Sprintf("/react %d :", e.id))
		m.focus = focusInput
	}
	return nil
}

func (m *Model) cycleFocus() {
	order := []focusArea{focusInput}
	if m.layout().sideW > 0 {
		order = append(order, focusChats)
	}
	order = append(order, focusMessages)
	if m.layout().memW > 0 {
		order = append(order, focusMembers)
	}
	next := order[0]
	for i, f := range order {
		if f == m.focus {
			next = order[(i+1)%len(order)]
		}
	}
	m.focus = next
	switch next {
	case focusChats:
		m.chats.sel = m.convIndex(m.cur)
	case focusMessages:
		m.msgs.selectFirst(m.cur)
	}
}

func (m *Model) switchBy(d int) {
	i := (m.convIndex(m.cur) + d + len(m.convs)) % len(m.convs)
	m.switchTo(m.convs[i])
}

func (m *Model) openPrivate(name string) tea.Cmd {
	if name == "" || sameName(name, m.me) {
		return nil
	}
	c := m.ensureConv(command.Conv{With: name})
	m.switchTo(c)
	m.focus = focusInput
	return m.opened(c)
}

// startEdit puts "/edit ID TEXT" for e on the input line, to be changed
// and sent with Enter (or cleared with ctrl+u to keep the message).
func (m *Model) startEdit(e *entry) {
	m.input.SetValue(fmt.Sprintf("/edit %d %s", e.id, e.text))
}

func (m *Model) quit() tea.Cmd {
	m.xfers.cancelAll()
	return tea.Quit
}

// submit runs or sends what is on the input line.
func (m *Model) submit() tea.Cmd {
	line := m.input.Value()
	if strings.TrimSpace(line) == "" {
		return nil
	}
	if text, ok := plainText(line); ok {
		// Too long: say so, and keep the text on the input line to be
		// shortened.
		if err := command.CheckLength(compose.Expand(text), m.conn.TextLimit()); err != nil {
			m.addError(m.cur, err)
			m.cur.follow, m.cur.anchor = true, nil
			return nil
		}
	}
	return m.dispatch(m.input.take())
}

// dispatch runs one line: a command, or text for the current
// conversation.
func (m *Model) dispatch(line string) tea.Cmd {
	if text, ok := plainText(line); ok {
		return m.send(m.cur, text)
	}
	name, args, _ := strings.Cut(line[1:], " ")
	args = strings.TrimSpace(args)
	switch strings.ToLower(name) {
	case "help":
		m.showHelp()
	case "quit", "exit":
		return m.quit()
	case "emoji":
		m.openPicker(args)
	case "sticker":
		return m.sendSticker(m.cur, args)
	case "screenshot":
		return m.screenshot(m.cur)
	case "upload":
		return m.upload(m.cur, args)
	case "download":
		return m.download(m.cur, args)
	case "cancel":
		m.cancelTransfer(args)
	case "users", "members":
		m.members.toggle()
	case "clear":
		m.cur.entries = nil
		m.cur.sel = nil
		m.cur.dirty = true
		m.cur.recentAsked = true // cleared on purpose: not refilled on the next visit
		m.cur.noneYet = nil
	case "query":
		n, err := protocol.ParseName(strings.TrimPrefix(args, "@"))
		if err != nil {
			m.addError(m.cur, errors.New("/query NAME: "+errText(err)))
			return nil
		}
		return m.openPrivate(n.Display)
	case "switch":
		return m.switchCmd(args)
	case "refresh":
		m.refresh()
	case "jump":
		return m.jump(args)
	case "search":
		m.searchHits = nil
		return m.runCmd(line)
	default:
		return m.runCmd(line)
	}
	return nil
}

// jump shows a match of the last search where it was said: it opens
// its conversation, loads the messages before it, and selects it.
func (m *Model) jump(args string) tea.Cmd {
	id, err := strconv.ParseUint(strings.TrimPrefix(args, "#"), 10, 64)
	cv, ok := m.hits[id]
	if err != nil || !ok {
		m.addError(m.cur, errors.New("/jump ID, with ID a match of the last /search"))
		return nil
	}
	c := m.ensureConv(cv)
	m.switchTo(c)
	return tea.Batch(m.opened(c), m.runCmd(fmt.Sprintf("/context %d", id)))
}

// showHits lists the matches of a search in the current conversation.
func (m *Model) showHits(out *command.Output, c *conv) {
	hits := m.searchHits
	m.searchHits = nil
	if len(hits) == 0 {
		m.addInfo(c, "no message has "+clean(out.Text, false))
		return
	}
	m.hits = map[uint64]command.Conv{}
	var b strings.Builder
	fmt.Fprintf(&b, "%d matches of %s, newest first; /jump ID shows one where it was said:", len(hits), clean(out.Text, false))
	for _, f := range hits {
		cv := command.ConvOf(f, m.me)
		m.hits[f.ID] = cv
		from := f.From
		if f.Nick != "" {
			from = f.Nick
		}
		fmt.Fprintf(&b, "\n  [%d] %s %s %s: %s", f.ID, time.UnixMilli(f.Time).Format("2 Jan 15:04"), clean(cv.String(), false),
			clean(from, false), clean(protocol.FirstLine(f.Text), false))
	}
	m.addInfo(c, b.String())
	m.cur.follow, m.cur.anchor = true, nil
}

// refresh reconnects now, and says so in the status line and in the
// current conversation until the session is back.
func (m *Model) refresh() {
	if m.ended != nil {
		m.addError(m.cur, errors.New("the session has ended; /quit and start again"))
		return
	}
	m.conn.Refresh()
	m.refreshing = m.cur.key
	m.status.refreshing(m.cfg.Now())
	m.addInfo(m.cur, "reconnecting to "+clean(m.cfg.Server, false)+" now…")
}

// plainText is the text a line sends, if it is not a command: the line
// itself, or for "//text", "/text".
func plainText(line string) (string, bool) {
	if !strings.HasPrefix(line, "/") || strings.HasPrefix(line, "//") {
		return strings.TrimPrefix(line, "/"), true
	}
	return "", false
}

// restoreInput puts a line that was refused as too long back on the
// input line of conversation c, to be shortened, if c is still the
// current one and nothing has been typed since; ↑ finds it otherwise.
func (m *Model) restoreInput(c *conv, line string, err error) {
	if chat.IsCode(err, protocol.CodeTooLong) && c == m.cur && m.input.Empty() {
		m.input.SetValue(line)
	}
}

func (m *Model) switchCmd(arg string) tea.Cmd {
	if arg == "" {
		m.addError(m.cur, errors.New("/switch #ROOM or /switch @NAME"))
		return nil
	}
	if !strings.HasPrefix(arg, "@") && !strings.HasPrefix(arg, "#") {
		if _, ok := nameKey(arg); ok && m.findConv(command.Conv{Room: arg}) == nil {
			if c := m.findConv(command.Conv{With: arg}); c != nil {
				m.switchTo(c)
				return m.opened(c)
			}
		}
	}
	id, err := command.ParseConv(arg)
	if err != nil {
		m.addError(m.cur, err)
		return nil
	}
	c := m.findConv(id)
	if c == nil && id.Room != "" {
		m.addError(m.cur, fmt.Errorf("you are not in #%s; /join %s first", id.Room, id.Room))
		return nil
	}
	if c == nil {
		c = m.ensureConv(id)
	}
	m.switchTo(c)
	return m.opened(c)
}

// send posts text to a conversation. It shows at once, marked as
// pending, until the server has it; while the connection is down it
// waits and is sent after the reconnect.
func (m *Model) send(c *conv, text string) tea.Cmd {
	if m.ended != nil {
		m.addError(c, errors.New("not sent: the session has ended; /quit and start again"))
		return nil
	}
	m.pending++
	seq := m.pending
	c.add(&entry{kind: entPending, seq: seq, from: clean(m.me, false), at: m.cfg.Now(), text: clean(compose.Expand(text), true), own: true})
	c.follow, c.anchor, c.newBelow = true, nil, 0
	conn, ctx, id, key := m.conn, m.ctx, c.id, c.key
	return func() tea.Msg {
		return sentMsg{conv: key, pending: seq, text: text, err: conn.Send(ctx, id, text)}
	}
}

// runCmd runs a command line through the runner, in the current
// conversation.
func (m *Model) runCmd(line string) tea.Cmd {
	if m.ended != nil {
		m.addError(m.cur, errors.New("the session has ended; /quit and start again"))
		return nil
	}
	conn, ctx, c, since := m.conn, m.ctx, m.cur, m.seq
	return func() tea.Msg {
		out, now, err := conn.Run(ctx, c.id, line)
		return cmdDoneMsg{conv: c.key, line: line, out: out, now: now, err: err, since: since}
	}
}

func (m *Model) handleCmdDone(msg cmdDoneMsg) tea.Cmd {
	c := m.convByKey(msg.conv)
	if errors.Is(msg.err, command.ErrQuit) {
		return m.quit()
	}
	if msg.err != nil {
		m.addError(c, msg.err)
		m.restoreInput(c, msg.line, msg.err)
		return nil
	}
	name, args, _ := strings.Cut(strings.TrimPrefix(msg.line, "/"), " ")
	if strings.EqualFold(name, "leave") {
		room := strings.TrimSpace(args)
		if room == "" {
			room = c.id.Room
		}
		if left := m.findConv(command.Conv{Room: room}); left != nil && left.key != command.Lobby.Key() {
			m.removeConv(left)
		}
	}
	out := msg.out
	if out == nil {
		return nil
	}
	switch out.Type {
	case "switch":
		id := command.Conv{Room: out.Room, With: out.To}
		nc := m.ensureConv(id)
		if id.Room != "" {
			nc.joined = true
			nc.membersLoaded = false
			if strings.EqualFold(strings.SplitN(strings.TrimPrefix(msg.line, "/"), " ", 2)[0], "join") {
				nc.topic = out.Text // a join's reply carries the topic
			}
		}
		m.switchTo(nc)
		return m.opened(nc)
	case "rooms":
		var b strings.Builder
		b.WriteString("rooms:")
		for _, r := range out.Rooms {
			m.rooms[command.Conv{Room: r.Name}.Key()] = r.Name
			fmt.Fprintf(&b, "\n  #%s  %d members", clean(r.Name, false), r.Members)
			if r.Owner != "" {
				b.WriteString(", owner " + clean(r.Owner, false))
			}
			if r.Joined {
				b.WriteString(", joined")
			}
			if r.Topic != "" {
				b.WriteString(" · " + clean(r.Topic, false))
			}
			if c := m.findConv(command.Conv{Room: r.Name}); c != nil {
				c.topic = r.Topic
			}
		}
		if len(out.Rooms) == 0 {
			b.WriteString(" none")
		}
		m.addInfo(c, b.String())
	case "who":
		var parts []string
		for _, mi := range out.Members {
			s := clean(mi.Name, false)
			switch {
			case mi.Owner:
				s += " ★"
			case mi.Operator:
				s += " (op)"
			}
			if mi.Voice {
				s += " (voice)"
			}
			if mi.Online {
				s = "● " + s
			} else {
				s = "○ " + s
			}
			parts = append(parts, s)
		}
		text := fmt.Sprintf("in #%s: %s", clean(out.Room, false), strings.Join(parts, ", "))
		if out.More > 0 {
			text += fmt.Sprintf(" and %d more", out.More)
		}
		if len(out.Banned) > 0 {
			var banned []string
			for _, n := range out.Banned {
				banned = append(banned, clean(n, false))
			}
			text += "\nbanned from #" + clean(out.Room, false) + ": " + strings.Join(banned, ", ") + " (/unban NAME lets one back)"
		}
		m.addInfo(c, text)
		if rc := m.findConv(command.Conv{Room: out.Room}); rc != nil {
			m.setMembers(rc, out, msg.since)
		}
	case "help":
		m.showHelp()
	case "history":
		if out.Count != nil && *out.Count == 0 {
			m.addInfo(c, "no older messages")
		} else if out.Count != nil {
			m.addInfo(c, fmt.Sprintf("%d older messages loaded above; PgUp to read them", *out.Count))
		}
	case "refresh":
		m.refresh()
	case "edited", "reacted", "topic":
		// The edit, react or topic event shows it.
	case "search":
		m.showHits(out, c)
	case "context":
		cc := m.findConv(command.Conv{Room: out.Room, With: out.To})
		if cc == nil {
			break
		}
		if e := cc.message(out.ID); e != nil {
			cc.sel = e
			cc.dirty = true
			if cc == m.cur {
				m.focus = focusMessages
				m.layout()
				m.msgs.reveal(cc, e, m.render)
			}
		}
	default:
		if out.Text != "" {
			m.addInfo(c, clean(out.Text, true))
		}
	}
	return nil
}

// allCommands lists the runner's commands and the screen's own.
func (m *Model) allCommands() []command.Spec {
	seen := map[string]bool{}
	var out []command.Spec
	for _, s := range append(append([]command.Spec(nil), localCommands...), m.conn.Commands()...) {
		if !seen[s.Name] {
			seen[s.Name] = true
			out = append(out, s)
		}
	}
	return out
}

// showHelp puts the commands and keys into the current conversation.
func (m *Model) showHelp() {
	var b strings.Builder
	b.WriteString("Type to talk in " + m.cur.title() + ". :shortcode: becomes an emoji (:smile: → 😄). Commands:")
	specs := m.allCommands()
	sort.SliceStable(specs, func(i, j int) bool { return specs[i].Name < specs[j].Name })
	for _, s := range specs {
		usage := "/" + s.Name
		if s.Args != "" {
			usage += " " + s.Args
		}
		fmt.Fprintf(&b, "\n  %-24s %s", usage, s.Help)
	}
	b.WriteString("\nKeys:")
	for _, k := range keyHelp {
		fmt.Fprintf(&b, "\n  %-24s %s", k[0], k[1])
	}
	m.addInfo(m.cur, b.String())
	m.cur.follow, m.cur.anchor = true, nil
}

// Mouse.

func (m *Model) handleWheel(msg tea.MouseWheelMsg) tea.Cmd {
	g := m.layout()
	switch msg.Button {
	case tea.MouseWheelUp:
		m.cur.scroll(-3, g.innerH)
	case tea.MouseWheelDown:
		m.cur.scroll(3, g.innerH)
	}
	return nil
}

func (m *Model) handleClick(msg tea.MouseClickMsg) tea.Cmd {
	if msg.Button != tea.MouseLeft || m.picker != nil {
		return nil
	}
	// Draw once to learn where things are now.
	m.View()
	g := m.geo
	row := msg.Y - g.mainY - 1
	if msg.Y >= g.inputY {
		m.focus = focusInput
		return nil
	}
	if row < 0 || row >= g.innerH {
		return nil
	}
	switch {
	case msg.X < g.sideW:
		if c := m.chats.clicked(row); c != nil {
			m.switchTo(c)
			m.focus = focusInput
			return m.opened(m.cur)
		}
	case g.memW > 0 && msg.X >= g.memX:
		if name := m.members.clicked(row, m.memberList()); name != "" {
			return m.openPrivate(name)
		}
	default:
		e := m.msgs.clicked(row, m.cur)
		if e == nil {
			return nil
		}
		m.cur.sel = e
		m.cur.dirty = true
		if e.file != nil {
			return m.download(m.cur, strconv.FormatUint(e.id, 10))
		}
	}
	return nil
}
