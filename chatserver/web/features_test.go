package web_test

// Browser tests of the messaging features of resources/web/features.js:
// edits, replies, reactions, read positions across two devices, search,
// nicks, actions and topics, against real servers with a terminal-client
// peer on the other side.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// waitFrame waits for an event of the given type that ok accepts.
func (p *peer) waitFrame(typ string, ok func(*protocol.Frame) bool) *protocol.Frame {
	p.t.Helper()
	timeout := time.After(waitLimit)
	for {
		select {
		case ev, open := <-p.s.Events():
			if !open {
				p.t.Fatal("peer session ended")
			}
			if ev.Kind == chat.EvFrame && ev.Frame.Type == typ && ok(ev.Frame) {
				return ev.Frame
			}
		case <-timeout:
			p.t.Fatalf("peer: no %s event arrived", typ)
		}
	}
}

func (p *peer) send(f *protocol.Frame) uint64 {
	p.t.Helper()
	f.Type, f.Key = protocol.TypeSend, chat.NewKey()
	return p.do(f).Msg
}

// row is a selector for the shown message with this id.
func row(id uint64) string { return fmt.Sprintf(`#messages .msg[data-id="%d"]`, id) }

// textOf is an expression for the text of the shown message id.
func textOf(id uint64) string {
	return `(document.querySelector('` + row(id) + ` .text') || {}).textContent`
}

// menuItem opens the menu of message id and clicks its item named name.
func menuItem(t *testing.T, ctx context.Context, id uint64, name string) {
	t.Helper()
	run(t, ctx, chromedp.Click(chromedp.CSS(row(id)+` button.actions`)))
	do(t, ctx, `[...document.querySelectorAll('`+row(id)+` .menu button')].find(b => b.textContent === `+js(name)+`).click()`)
}

// myNewest is the id of alice's newest message shown.
func myNewest(t *testing.T, ctx context.Context) uint64 {
	t.Helper()
	return eval[uint64](t, ctx, `Number([...document.querySelectorAll('#messages .msg.mine')].pop().dataset.id)`)
}

func TestEditReplyReact(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.peer("bob")
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "alice")

	// ↑ in the empty message box puts /edit of one's last message there.
	say(t, ctx, "lunch at noon?")
	mine := bob.waitMessage(func(f *protocol.Frame) bool { return f.From == "alice" }).ID
	waitJS(t, ctx, textOf(mine)+` === "lunch at noon?"`)
	run(t, ctx, chromedp.Focus(chromedp.ID("input")), chromedp.KeyEvent(kb.ArrowUp))
	want := fmt.Sprintf("/edit %d lunch at noon?", mine)
	waitJS(t, ctx, `document.getElementById('input').value === `+js(want))
	run(t, ctx, chromedp.SetValue(chromedp.ID("input"), fmt.Sprintf("/edit %d lunch at one?", mine)), chromedp.SendKeys(chromedp.ID("input"), "\r"))
	ed := bob.waitFrame(protocol.TypeEdit, func(f *protocol.Frame) bool { return f.Msg == mine })
	if ed.Text != "lunch at one?" {
		t.Fatalf("bob's edit event: %+v", ed)
	}
	waitJS(t, ctx, textOf(mine)+` === "lunch at one? (edited)"`)

	// The menu's Edit puts the same command in the box.
	menuItem(t, ctx, mine, "Edit")
	waitJS(t, ctx, `document.getElementById('input').value === `+js(fmt.Sprintf("/edit %d lunch at one?", mine)))
	do(t, ctx, `document.getElementById("input").value = ""`)

	// Someone else's edit shows live.
	theirs := bob.send(&protocol.Frame{Room: "lobby", Text: "first line of bob's\nsecond line"})
	waitJS(t, ctx, textOf(theirs)+` === "first line of bob's\nsecond line"`)
	bob.do(&protocol.Frame{Type: protocol.TypeEdit, Msg: theirs, Text: "bob's first line, edited\nsecond line"})
	waitJS(t, ctx, textOf(theirs)+` === "bob's first line, edited\nsecond line (edited)"`)

	// Reply from the menu: the box gets /reply ID, the message quotes the
	// first line of bob's.
	menuItem(t, ctx, theirs, "Reply")
	waitJS(t, ctx, `document.getElementById('input').value === `+js(fmt.Sprintf("/reply %d ", theirs)))
	run(t, ctx, chromedp.SendKeys(chromedp.ID("input"), "sounds good\r"))
	rep := bob.waitMessage(func(f *protocol.Frame) bool { return f.From == "alice" && f.Text == "sounds good" })
	if rep.ReplyTo != theirs || rep.Quote == nil || rep.Quote.Text != "bob's first line, edited…" || rep.Quote.From != "bob" {
		t.Fatalf("bob got the reply %+v (quote %+v)", rep, rep.Quote)
	}
	waitJS(t, ctx, `(document.querySelector('`+row(rep.ID)+` .quote') || {}).textContent === "↪ bob: bob's first line, edited…"`)
	// /reply ID TEXT typed.
	say(t, ctx, fmt.Sprintf("/reply %d typed reply", mine))
	rep2 := bob.waitMessage(func(f *protocol.Frame) bool { return f.Text == "typed reply" })
	if rep2.ReplyTo != mine || rep2.Quote == nil || rep2.Quote.Text != "lunch at one?" {
		t.Fatalf("typed reply %+v", rep2)
	}
	// A reply to what does not exist says why.
	say(t, ctx, "/reply 999999 to nothing")
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice')].some(n => n.textContent.includes('no_such_message'))`)

	// Reactions: /react with a shortcode, counts and names, a click on a
	// reaction toggles one's own.
	say(t, ctx, fmt.Sprintf("/react %d :thumbsup:", theirs))
	r := bob.waitFrame(protocol.TypeReact, func(f *protocol.Frame) bool { return f.Msg == theirs })
	if r.Emoji != "👍" || !r.On || r.From != "alice" {
		t.Fatalf("react event %+v", r)
	}
	reaction := `document.querySelector('` + row(theirs) + ` .reaction')`
	waitJS(t, ctx, reaction+` && `+reaction+`.textContent === '👍 1' && `+reaction+`.title === 'alice' && `+reaction+`.getAttribute('aria-pressed') === 'true'`)
	bob.do(&protocol.Frame{Type: protocol.TypeReact, Msg: theirs, Emoji: "👍"})
	waitJS(t, ctx, reaction+`.textContent === '👍 2' && `+reaction+`.title === 'alice, bob'`)
	run(t, ctx, chromedp.Click(chromedp.CSS(row(theirs)+` .reaction`)))
	r = bob.waitFrame(protocol.TypeReact, func(f *protocol.Frame) bool { return f.Msg == theirs && f.From == "alice" })
	if r.On {
		t.Fatalf("the click put the reaction on again: %+v", r)
	}
	waitJS(t, ctx, reaction+`.textContent === '👍 1' && `+reaction+`.title === 'bob' && `+reaction+`.getAttribute('aria-pressed') === 'false'`)

	// The menu's React opens the emoji picker; a pick reacts instead of
	// typing.
	menuItem(t, ctx, theirs, "React")
	waitJS(t, ctx, `!document.getElementById('emoji-picker').hidden`)
	run(t, ctx, chromedp.SendKeys(chromedp.ID("emoji-search"), "tada"))
	waitJS(t, ctx, `[...document.querySelectorAll('#emoji-grid button')].some(b => b.textContent === '🎉')`)
	do(t, ctx, `[...document.querySelectorAll('#emoji-grid button')].find(b => b.textContent === '🎉').click()`)
	r = bob.waitFrame(protocol.TypeReact, func(f *protocol.Frame) bool { return f.Msg == theirs && f.From == "alice" })
	if r.Emoji != "🎉" || !r.On {
		t.Fatalf("react from the picker: %+v", r)
	}
	waitJS(t, ctx, `[...document.querySelectorAll('`+row(theirs)+` .reaction')].map(b => b.textContent).join(' ') === '👍 1 🎉 1'`)
	if v := eval[string](t, ctx, `document.getElementById('input').value`); strings.Contains(v, "🎉") {
		t.Fatalf("the pick was typed too: %q", v)
	}
	// An unknown shortcode says so and sends nothing.
	say(t, ctx, fmt.Sprintf("/react %d :no_such_emoji_here:", theirs))
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice')].some(n => n.textContent.includes('no emoji is called :no_such_emoji_here:'))`)

	// After a reload, history shows the same: edited, quotes, reactions.
	run(t, ctx, chromedp.Reload())
	waitJS(t, ctx, `document.getElementById('conn-text').textContent === 'online'`)
	waitJS(t, ctx, textOf(mine)+` === "lunch at one? (edited)"`)
	waitJS(t, ctx, textOf(theirs)+` === "bob's first line, edited\nsecond line (edited)"`)
	waitJS(t, ctx, `(document.querySelector('`+row(rep.ID)+` .quote') || {}).textContent === "↪ bob: bob's first line, edited…"`)
	waitJS(t, ctx, `[...document.querySelectorAll('`+row(theirs)+` .reaction')].map(b => b.textContent + '/' + b.title).join(' ') === '👍 1/bob 🎉 1/alice'`)

	// A recall turns the quote of a reply to it into "message recalled".
	say(t, ctx, "to be recalled")
	gone := bob.waitMessage(func(f *protocol.Frame) bool { return f.Text == "to be recalled" }).ID
	reply := bob.send(&protocol.Frame{Room: "lobby", Text: "what?", ReplyTo: gone})
	waitJS(t, ctx, `(document.querySelector('`+row(reply)+` .quote') || {}).textContent === "↪ alice: to be recalled"`)
	say(t, ctx, fmt.Sprintf("/recall %d", gone))
	waitJS(t, ctx, `(document.querySelector('`+row(reply)+` .quote') || {}).textContent === "↪ alice: message recalled"`)
}

// A quote of a message that is not loaded loads history back to it and
// shows it.
func TestQuoteOpensOlderMessage(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Limits = protocol.Limits{RatePerSec: 1000, RateBurst: 1000} })
	bob := e.peer("bob")
	original := bob.send(&protocol.Frame{Room: "lobby", Text: "the original question"})
	for i := 0; i < 120; i++ {
		bob.send(&protocol.Frame{Room: "lobby", Text: fmt.Sprintf("chatter %d", i)})
	}
	reply := bob.send(&protocol.Frame{Room: "lobby", Text: "answering myself", ReplyTo: original})
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "alice")
	waitJS(t, ctx, messageShown("answering myself"))
	if eval[bool](t, ctx, `!!document.querySelector('`+row(original)+`')`) {
		t.Fatal("the original is shown already; the test needs it out of the first page")
	}
	run(t, ctx, chromedp.Click(chromedp.CSS(row(reply)+` .quote`)))
	waitJS(t, ctx, `!!document.querySelector('`+row(original)+`.found') && document.activeElement === document.querySelector('`+row(original)+`')`)
	// It is on screen, and the conversation is whole from it to the newest.
	waitJS(t, ctx, `(() => { const r = document.querySelector('`+row(original)+`').getBoundingClientRect(), b = document.getElementById('messages').getBoundingClientRect(); return r.top >= b.top && r.bottom <= b.bottom; })()`)
	for i := 0; i < 120; i++ {
		if n := countShown(t, ctx, fmt.Sprintf("chatter %d", i)); n != 1 {
			t.Fatalf("chatter %d shown %d times", i, n)
		}
	}
}

// badge is an expression for the badge of a conversation in the list
// (” for none).
func badge(label string) string {
	return `(() => { const b = [...document.querySelectorAll('#conv-list button.conv')].find(b => b.querySelector('.name').textContent === ` + js(label) + `); return b ? ((b.querySelector('.badge') || {}).textContent || '') : 'missing'; })()`
}

// Two devices of alice: the second gets the counts and the private
// conversations from its login reply; what it reads is read on the
// first when that one logs in again.
func TestReadPositionsTwoDevices(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.peer("bob")
	bob.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "ops"})
	first := tab(t, 1280, 800)
	login(t, first, e, "alice")
	say(t, first, "/join ops")
	waitJS(t, first, `document.getElementById('conv-title').textContent === '#ops'`)
	do(t, first, `document.querySelector('#conv-list button.conv').click()`) // the lobby
	waitJS(t, first, `document.getElementById('conv-title').textContent === '#lobby'`)

	bob.send(&protocol.Frame{Room: "ops", Text: "deploy at five, alice?"})
	bob.send(&protocol.Frame{Room: "ops", Text: "and the release notes"})
	bob.send(&protocol.Frame{To: "alice", Text: "are you there?"})
	bob.send(&protocol.Frame{Room: "lobby", Text: "hello lobby"})
	waitJS(t, first, badge("#ops")+` === '@2'`)
	waitJS(t, first, badge("@bob")+` === '@1'`)
	waitJS(t, first, messageShown("hello lobby"))
	waitJS(t, first, badge("#lobby")+` === ''`)

	// The second device: the counts come from the server. The lobby was
	// on screen on the first, so it has none.
	second := tab(t, 1280, 800)
	login(t, second, e, "alice")
	waitJS(t, first, `document.getElementById('reconnect-now').textContent === 'Log in here again'`)
	waitJS(t, second, badge("#ops")+` === '@2'`)
	waitJS(t, second, badge("@bob")+` === '@1'`)
	waitJS(t, second, badge("#lobby")+` === ''`)
	shot(t, second, "features-read-second-device")

	// Reading the private conversation there: it loads its messages and
	// marks them read at the server.
	do(t, second, `[...document.querySelectorAll('#conv-list button.conv')].find(b => b.querySelector('.name').textContent === '@bob').click()`)
	waitJS(t, second, messageShown("are you there?"))
	waitJS(t, second, badge("@bob")+` === ''`)
	waitJS(t, second, `(document.getElementById('messages').dataset.read || '').startsWith('@bob ')`)

	// The first device logs in again and takes the server's counts: the
	// private conversation is read, #ops is not.
	run(t, first, chromedp.Click(chromedp.ID("reconnect-now")))
	waitJS(t, first, `document.getElementById('conn-text').textContent === 'online'`)
	waitJS(t, first, badge("@bob")+` === ''`)
	waitJS(t, first, badge("#ops")+` === '@2'`)
	// Opening #ops there marks it read for the next device.
	do(t, first, `[...document.querySelectorAll('#conv-list button.conv')].find(b => b.querySelector('.name').textContent === '#ops').click()`)
	waitJS(t, first, badge("#ops")+` === ''`)
	waitJS(t, first, `(document.getElementById('messages').dataset.read || '').startsWith('#ops ')`)
	run(t, second, chromedp.Click(chromedp.ID("reconnect-now")))
	waitJS(t, second, `document.getElementById('conn-text').textContent === 'online'`)
	waitJS(t, second, badge("#ops")+` === ''`)

	// A new message in the conversation on screen is marked read too.
	before := eval[string](t, second, `document.getElementById('messages').dataset.read || ''`)
	id := bob.send(&protocol.Frame{To: "alice", Text: "one more"})
	waitJS(t, second, `document.getElementById('messages').dataset.read !== `+js(before))
	if got := eval[string](t, second, `document.getElementById('messages').dataset.read`); !strings.HasPrefix(got, "@bob ") && !strings.HasPrefix(got, "lobby ") {
		t.Fatalf("read position %q after message %d", got, id)
	}
}

func TestSearch(t *testing.T) {
	e := newEnv(t, func(c *server.Config) { c.Limits = protocol.Limits{RatePerSec: 1000, RateBurst: 1000} })
	bob := e.peer("bob")
	bob.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "ops"})
	old := bob.send(&protocol.Frame{Room: "ops", Text: "the deploy is done"})
	for i := 0; i < 80; i++ {
		bob.send(&protocol.Frame{Room: "ops", Text: fmt.Sprintf("noise %d", i)})
	}
	bob.send(&protocol.Frame{Room: "lobby", Text: "deploy tomorrow? <b>not bold</b>"})
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "alice")
	say(t, ctx, "/join ops")
	waitJS(t, ctx, messageShown("noise 79"))
	do(t, ctx, `document.querySelector('#conv-list button.conv').click()`)
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#lobby'`)

	// /search everywhere lists both, newest first, as text.
	say(t, ctx, "/search deploy")
	results := `[...document.querySelectorAll('#search-results .result-text')].map(e => e.textContent).join('|')`
	waitJS(t, ctx, results+` === "deploy tomorrow? <b>not bold</b>|the deploy is done"`)
	if eval[bool](t, ctx, `!!document.querySelector('#search-results b')`) {
		t.Fatal("a result was parsed as HTML")
	}
	shot(t, ctx, "features-search")
	// Search results do not join the conversations.
	if n := countShown(t, ctx, "deploy tomorrow? <b>not bold</b>"); n != 1 {
		t.Fatalf("the lobby shows the match %d times", n)
	}
	// Choosing the older one opens #ops at it, loading history back to it.
	do(t, ctx, `[...document.querySelectorAll('#search-results .result')].find(b => b.textContent.includes('the deploy is done')).click()`)
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#ops'`)
	waitJS(t, ctx, `!!document.querySelector('`+row(old)+`.found')`)
	waitJS(t, ctx, `document.getElementById('search-dialog').open === false`)

	// The search box, limited to one conversation.
	run(t, ctx, chromedp.Click(chromedp.ID("search-button")))
	waitJS(t, ctx, `document.getElementById('search-dialog').open`)
	do(t, ctx, `document.getElementById('search-where').value = '#lobby'`)
	run(t, ctx, chromedp.SetValue(chromedp.ID("search-text"), "DEPLOY"), chromedp.SendKeys(chromedp.ID("search-text"), "\r"))
	waitJS(t, ctx, results+` === "deploy tomorrow? <b>not bold</b>"`)
	run(t, ctx, chromedp.SetValue(chromedp.ID("search-text"), "zebra"), chromedp.SendKeys(chromedp.ID("search-text"), "\r"))
	waitJS(t, ctx, `document.getElementById('search-status').textContent === 'Nothing found.'`)
	do(t, ctx, `document.getElementById('search-dialog').close()`)
	// "in #room" on the command line.
	say(t, ctx, "/search deploy in #ops")
	waitJS(t, ctx, results+` === "the deploy is done"`)
	if where := eval[string](t, ctx, `document.getElementById('search-where').selectedOptions[0].textContent`); where != "in #ops" {
		t.Errorf("search place shown as %q", where)
	}
	do(t, ctx, `document.getElementById('search-dialog').close()`)
	say(t, ctx, "/search")
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice')].some(n => n.textContent.includes('usage: /search WORDS'))`)
}

func TestNickActionTopic(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.peer("bob")
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "alice")

	// /nick: everyone hears it, and messages carry it.
	say(t, ctx, "/nick Ally")
	n := bob.waitFrame(protocol.TypeNick, func(f *protocol.Frame) bool { return f.Name == "alice" })
	if n.Nick != "Ally" {
		t.Fatalf("nick event %+v", n)
	}
	say(t, ctx, "hi from Ally")
	got := bob.waitMessage(func(f *protocol.Frame) bool { return f.Text == "hi from Ally" })
	if got.Nick != "Ally" {
		t.Fatalf("message %+v", got)
	}
	waitJS(t, ctx, `document.querySelector('`+row(got.ID)+` .from')?.textContent === 'Ally'`)

	// Someone else's nick shows on their messages and in the member list,
	// live.
	old := bob.send(&protocol.Frame{Room: "lobby", Text: "before my nick"})
	waitJS(t, ctx, `document.querySelector('`+row(old)+` .from')?.textContent === 'bob'`)
	run(t, ctx, chromedp.Click(chromedp.ID("toggle-members")))
	waitJS(t, ctx, `[...document.querySelectorAll('#member-list button')].some(b => b.textContent === 'bob')`)
	bob.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "Bobby"})
	waitJS(t, ctx, `document.querySelector('`+row(old)+` .from')?.textContent === 'Bobby'`)
	waitJS(t, ctx, `[...document.querySelectorAll('#member-list button')].some(b => b.textContent === 'Bobby (bob)')`)
	waitJS(t, ctx, `[...document.querySelectorAll('#member-list span')].some(s => s.textContent === 'Ally (alice) (you)')`)
	// A private conversation is listed and titled by the nick, with the
	// login name, and follows a change of it.
	do(t, ctx, `[...document.querySelectorAll('#member-list button')].find(b => b.textContent === 'Bobby (bob)').click()`)
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '@Bobby (bob)'`)
	waitJS(t, ctx, `[...document.querySelectorAll('#conv-list .name')].some(s => s.textContent === '@Bobby (bob)')`)
	bob.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "Robert"})
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '@Robert (bob)'`)
	waitJS(t, ctx, `[...document.querySelectorAll('#conv-list .name')].some(s => s.textContent === '@Robert (bob)')`)
	bob.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "Bobby"})
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '@Bobby (bob)'`)
	do(t, ctx, `document.querySelector('#conv-list button.conv').click()`)
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#lobby'`)

	// Mentions count the nick and the login name.
	byNick := bob.send(&protocol.Frame{Room: "lobby", Text: "Ally: look at this"})
	byName := bob.send(&protocol.Frame{Room: "lobby", Text: "@alice too"})
	notMe := bob.send(&protocol.Frame{Room: "lobby", Text: "really, totally"})
	waitJS(t, ctx, `document.querySelector('`+row(byNick)+`')?.classList.contains('mention') && document.querySelector('`+row(byName)+`')?.classList.contains('mention')`)
	waitJS(t, ctx, `!!document.querySelector('`+row(notMe)+`') && !document.querySelector('`+row(notMe)+`').classList.contains('mention')`)

	// /me.
	say(t, ctx, "/me waves :wave:")
	act := bob.waitMessage(func(f *protocol.Frame) bool { return f.From == "alice" && f.Kind == protocol.KindAction })
	if act.Text != "waves 👋" {
		t.Fatalf("action %+v", act)
	}
	waitJS(t, ctx, textOf(act.ID)+` === '* Ally waves 👋'`)
	theirs := bob.send(&protocol.Frame{Room: "lobby", Kind: protocol.KindAction, Text: "dances <i>"})
	waitJS(t, ctx, textOf(theirs)+` === '* Bobby dances <i>'`)

	// Back to the login name.
	say(t, ctx, "/nick")
	n = bob.waitFrame(protocol.TypeNick, func(f *protocol.Frame) bool { return f.Name == "alice" })
	if n.Nick != "" {
		t.Fatalf("nick event %+v", n)
	}
	waitJS(t, ctx, `document.querySelector('`+row(got.ID)+` .from')?.textContent === 'alice'`)

	// Topics: the owner sets one with /topic; it shows in the header and
	// in /rooms, and a change from elsewhere shows live.
	say(t, ctx, "/join plans")
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#plans'`)
	say(t, ctx, "/topic Friday <script>party</script>")
	waitJS(t, ctx, `document.getElementById('conv-topic').textContent === 'Friday <script>party</script>'`)
	say(t, ctx, "/rooms")
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice')].some(n => n.textContent.includes('plans (1, owner alice, joined): Friday <script>party</script>'))`)
	bob.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "bobs"})
	bob.do(&protocol.Frame{Type: protocol.TypeTopic, Room: "bobs", Text: "bob's corner"})
	say(t, ctx, "/join bobs")
	waitJS(t, ctx, `document.getElementById('conv-topic').textContent === "bob's corner"`)
	bob.do(&protocol.Frame{Type: protocol.TypeTopic, Room: "bobs", Text: "bob's new corner"})
	waitJS(t, ctx, `document.getElementById('conv-topic').textContent === "bob's new corner"`)
	// Not the owner: the server's reason.
	say(t, ctx, "/topic mine now")
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice')].some(n => n.textContent.includes('not_owner: '))`)
	bob.do(&protocol.Frame{Type: protocol.TypeTopic, Room: "bobs"})
	waitJS(t, ctx, `document.getElementById('conv-topic').hidden`)
	// A reload learns the topics from the rooms list.
	run(t, ctx, chromedp.Reload())
	waitJS(t, ctx, `document.getElementById('conn-text').textContent === 'online'`)
	do(t, ctx, `[...document.querySelectorAll('#conv-list button.conv')].find(b => b.querySelector('.name').textContent === '#plans').click()`)
	waitJS(t, ctx, `document.getElementById('conv-topic').textContent === 'Friday <script>party</script>'`)
	if csp := eval[[]string](t, ctx, `window.__csp`); len(csp) != 0 {
		t.Fatalf("the Content-Security-Policy blocked %v", csp)
	}
}

// The features at the two sizes: a reply with its quote, reactions, an
// edited message, an action and a topic fit the page, nothing runs out
// of its message or of the screen. Set PARLEY_SCREENSHOTS to keep the
// pictures (features-1280x800.png, features-390x844.png).
func TestFeaturesLook(t *testing.T) {
	for _, size := range []struct{ w, h int64 }{{1280, 800}, {390, 844}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			e := newEnv(t, nil)
			bob, zoe := e.peer("bob"), e.peer("Zoë")
			bob.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "general"})
			zoe.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "general"})
			bob.do(&protocol.Frame{Type: protocol.TypeTopic, Room: "general", Text: "Release party on Friday at five, bring snacks and a long, long, long topic that has to be cut"})
			ctx := tab(t, size.w, size.h)
			login(t, ctx, e, "alice")
			say(t, ctx, "/join general")
			waitJS(t, ctx, `document.getElementById('conv-topic').textContent.startsWith('Release party')`)
			q := bob.send(&protocol.Frame{Room: "general", Text: "who is bringing the cake for the release party on Friday? someone said they would but I forget who it was, so please say"})
			zoe.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "Zoe_the_baker"})
			zoe.send(&protocol.Frame{Room: "general", Text: "me! chocolate 🎂", ReplyTo: q})
			zoe.do(&protocol.Frame{Type: protocol.TypeReact, Msg: q, Emoji: "👍"})
			bob.do(&protocol.Frame{Type: protocol.TypeReact, Msg: q, Emoji: "👍"})
			zoe.do(&protocol.Frame{Type: protocol.TypeReact, Msg: q, Emoji: "🎉"})
			say(t, ctx, "/me cheers")
			say(t, ctx, "count me in")
			mine := bob.waitMessage(func(f *protocol.Frame) bool { return f.Text == "count me in" }).ID
			say(t, ctx, fmt.Sprintf("/edit %d count me in, I bring plates", mine))
			waitJS(t, ctx, textOf(mine)+` === 'count me in, I bring plates (edited)'`)
			waitJS(t, ctx, `document.querySelectorAll('`+row(q)+` .reaction').length === 2`)
			do(t, ctx, `document.getElementById("input").value = ""`)
			overflow := eval[[]string](t, ctx, `(() => {
				const out = [], box = document.getElementById('messages').getBoundingClientRect();
				if (document.documentElement.scrollWidth > innerWidth) out.push('page ' + document.documentElement.scrollWidth);
				for (const e of document.querySelectorAll('#messages .quote, #messages .reactions, #messages .text, #conv-topic, #search-button')) {
					const r = e.getBoundingClientRect();
					if (r.width && (r.right > Math.min(box.right, innerWidth) + 1 || r.left < 0)) out.push(e.className || e.id);
				}
				return out; })()`)
			if len(overflow) != 0 {
				t.Errorf("out of bounds: %v", overflow)
			}
			save(t, ctx, fmt.Sprintf("features-%dx%d", size.w, size.h))
			// Quotes, reactions, ids and the topic meet WCAG AA in both themes.
			for _, scheme := range []string{"dark", "light"} {
				setScheme(t, ctx, scheme)
				if bad := eval[[]string](t, ctx, contrast); len(bad) > 0 {
					t.Errorf("text below 4.5:1 contrast in the %s theme: %q", scheme, bad)
				}
				if scheme == "dark" {
					save(t, ctx, fmt.Sprintf("features-%dx%d-dark", size.w, size.h))
				}
			}
			// The menu of someone else's message: Reply and React.
			run(t, ctx, chromedp.Click(chromedp.CSS(row(q)+` button.actions`)))
			if items := eval[string](t, ctx, `[...document.querySelectorAll('`+row(q)+` .menu button')].map(b => b.textContent).join(',')`); items != "Reply,React" {
				t.Errorf("menu of bob's message: %s", items)
			}
			save(t, ctx, fmt.Sprintf("features-menu-%dx%d", size.w, size.h))
			do(t, ctx, `document.querySelector('`+row(q)+` .menu').hidden = true`)
			// The search dialog fits the screen.
			say(t, ctx, "/search cake")
			waitJS(t, ctx, `document.querySelectorAll('#search-results .result').length === 1`)
			if where := eval[string](t, ctx, `document.getElementById('search-where').selectedOptions[0].textContent`); where != "everywhere" {
				t.Errorf("search place shown as %q", where)
			}
			if out := eval[bool](t, ctx, `(() => { const r = document.getElementById('search-dialog').getBoundingClientRect(); return r.left < 0 || r.right > innerWidth || r.top < 0 || r.bottom > innerHeight; })()`); out {
				t.Error("the search dialog is larger than the screen")
			}
			if bad := eval[[]string](t, ctx, contrastIn("#search-dialog *")); len(bad) > 0 {
				t.Errorf("text below 4.5:1 contrast in the search: %q", bad)
			}
			save(t, ctx, fmt.Sprintf("features-search-%dx%d", size.w, size.h))
		})
	}
}

// sentFrames is a script that records the frames the page sends from
// now on in window.__sent, for a test to read.
const sentFrames = `(() => {
	window.__sent = [];
	const send = WebSocket.prototype.send;
	WebSocket.prototype.send = function (d) { try { window.__sent.push(JSON.parse(d)); } catch (e) {} return send.call(this, d); };
})()`

// noFrame fails if an event of the given type reaches p within d.
func (p *peer) noFrame(typ string, d time.Duration) {
	p.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev, open := <-p.s.Events():
			if !open {
				p.t.Fatal("peer session ended")
			}
			if ev.Kind == chat.EvFrame && ev.Frame.Type == typ {
				p.t.Fatalf("peer: a %s event arrived: %+v", typ, ev.Frame)
			}
		case <-timeout:
			return
		}
	}
}

// Typing, both ways: a terminal-client peer's typing shows as "Bobby
// is typing…" (by nick) until the message comes or a few seconds pass,
// and the page's typing of text, not of commands, reaches the peer, at
// most every 3 seconds.
func TestTyping(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.peer("bob")
	bob.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "Bobby"})
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "alice")
	if live := eval[string](t, ctx, `document.getElementById('typing').getAttribute('aria-live')`); live != "polite" {
		t.Errorf("typing aria-live %q", live)
	}
	typing := `document.getElementById('typing').textContent`

	// bob types in the lobby; his message ends it.
	bob.s.Notify(&protocol.Frame{Type: protocol.TypeTyping})
	waitJS(t, ctx, typing+` === 'Bobby is typing…'`)
	if n := eval[int](t, ctx, `document.getElementById('typing').children.length`); n != 0 {
		t.Errorf("the typing line has %d elements; it is text", n)
	}
	shot(t, ctx, "typing")
	bob.send(&protocol.Frame{Text: "here it is"})
	waitJS(t, ctx, messageShown("here it is"))
	waitJS(t, ctx, typing+` === ''`)

	// Without a message it goes after about five seconds. (The server
	// passes one typing a session and conversation every 2 seconds.)
	time.Sleep(2100 * time.Millisecond)
	bob.s.Notify(&protocol.Frame{Type: protocol.TypeTyping})
	waitJS(t, ctx, typing+` === 'Bobby is typing…'`)
	start := time.Now()
	// Typing in another conversation does not show in this one.
	bob.s.Notify(&protocol.Frame{Type: protocol.TypeTyping, To: "alice"})
	waitJS(t, ctx, typing+` === ''`)
	if d := time.Since(start); d < 3500*time.Millisecond || d > 8*time.Second {
		t.Errorf("the typing line went after %v, want about 5s", d)
	}

	// alice types text: bob is told once, although she types on.
	do(t, ctx, sentFrames)
	run(t, ctx, chromedp.Focus(chromedp.ID("input")), chromedp.SendKeys(chromedp.ID("input"), "hello the"))
	if f := bob.waitFrame(protocol.TypeTyping, func(f *protocol.Frame) bool { return f.From == "alice" }); f.Room != "lobby" && f.Room != "" {
		t.Errorf("typing in %q", f.Room)
	}
	run(t, ctx, chromedp.SendKeys(chromedp.ID("input"), "re bob"))
	if n := eval[int](t, ctx, `window.__sent.filter(f => f.type === 'typing').length`); n != 1 {
		t.Errorf("%d typing frames sent for one burst of typing", n)
	}
	if f := eval[string](t, ctx, `JSON.stringify(window.__sent.find(f => f.type === 'typing'))`); strings.Contains(f, `"id"`) {
		t.Errorf("typing sent as %s; it has no id", f)
	}
	// A command is not text: nothing is sent for it, even later.
	time.Sleep(3100 * time.Millisecond)
	do(t, ctx, `document.getElementById('input').value = ''`)
	run(t, ctx, chromedp.SendKeys(chromedp.ID("input"), "/help"))
	bob.noFrame(protocol.TypeTyping, 700*time.Millisecond)
	if n := eval[int](t, ctx, `window.__sent.filter(f => f.type === 'typing').length`); n != 1 {
		t.Errorf("%d typing frames sent, a command among them", n)
	}
	// "//" starts text.
	do(t, ctx, `document.getElementById('input').value = ''`)
	run(t, ctx, chromedp.SendKeys(chromedp.ID("input"), "//etc is a path"))
	bob.waitFrame(protocol.TypeTyping, func(f *protocol.Frame) bool { return f.From == "alice" })
	run(t, ctx, pressEnter())
	bob.waitMessage(func(f *protocol.Frame) bool { return f.From == "alice" && f.Text == "/etc is a path" })
}

// /jump and /context open a conversation at a /search match, /context
// with the 20 messages before it loaded, and /read ID moves the read
// position to that message at the server.
func TestContextAndJump(t *testing.T) {
	e := newEnv(t, func(c *server.Config) {
		c.Limits = protocol.Limits{RatePerSec: 1000, RateBurst: 1000, History: 30}
		c.JoinHistory = 50
	})
	bob := e.peer("bob")
	bob.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "ops"})
	for i := 0; i < 40; i++ {
		bob.send(&protocol.Frame{Room: "ops", Text: fmt.Sprintf("before %d", i)})
	}
	target := bob.send(&protocol.Frame{Room: "ops", Text: "the deploy is done"})
	// With 79 after it, 50 of them shown at the join and pages of 30,
	// the page that brings it has it as its oldest: the 20 before it
	// take one more page.
	for i := 0; i < 79; i++ {
		bob.send(&protocol.Frame{Room: "ops", Text: fmt.Sprintf("after %d", i)})
	}
	lobbyHit := bob.send(&protocol.Frame{Text: "deploy tomorrow?"})
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "alice")
	say(t, ctx, "/join ops")
	waitJS(t, ctx, messageShown("after 78"))
	if eval[bool](t, ctx, `!!document.querySelector('`+row(target)+`')`) {
		t.Fatal("the match is shown already; the test needs it out of the first page")
	}
	lobby := func() {
		do(t, ctx, `document.querySelector('#conv-list button.conv').click()`)
		waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#lobby'`)
	}
	lobby()

	// The commands are listed for completion and help.
	run(t, ctx, chromedp.Focus(chromedp.ID("input")), chromedp.SetValue(chromedp.ID("input"), "/ju"), chromedp.SendKeys(chromedp.ID("input"), "m"))
	waitJS(t, ctx, `document.getElementById('completions').textContent.startsWith('/jump ID')`)
	do(t, ctx, `document.getElementById('input').value = ''`)

	say(t, ctx, "/search deploy")
	waitJS(t, ctx, `document.querySelectorAll('#search-results .result').length === 2`)
	do(t, ctx, `document.getElementById('search-dialog').close()`)

	// /context: #ops at the match, with the 20 before it.
	say(t, ctx, fmt.Sprintf("/context %d", target))
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#ops'`)
	waitJS(t, ctx, `!!document.querySelector('`+row(target)+`.found')`)
	for i := 20; i < 40; i++ {
		if n := countShown(t, ctx, fmt.Sprintf("before %d", i)); n != 1 {
			t.Errorf("before %d shown %d times", i, n)
		}
	}
	for i := 0; i < 79; i++ {
		if n := countShown(t, ctx, fmt.Sprintf("after %d", i)); n != 1 {
			t.Errorf("after %d shown %d times", i, n)
		}
	}
	waitJS(t, ctx, `(() => { const r = document.querySelector('`+row(target)+`').getBoundingClientRect(), b = document.getElementById('messages').getBoundingClientRect(); return r.top >= b.top && r.bottom <= b.bottom; })()`)
	shot(t, ctx, "features-context")

	// /jump: the lobby's match, from #ops; then the #ops one again.
	say(t, ctx, fmt.Sprintf("/jump #%d", lobbyHit))
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#lobby'`)
	waitJS(t, ctx, `!!document.querySelector('`+row(lobbyHit)+`.found')`)
	say(t, ctx, fmt.Sprintf("/jump %d", target))
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#ops'`)
	waitJS(t, ctx, `!!document.querySelector('`+row(target)+`.found')`)
	// Only a search match.
	say(t, ctx, "/jump 99999")
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice')].some(n => n.textContent.includes('usage: /jump ID, with ID a match of the last /search'))`)
	// /context of a message of the current conversation that no search
	// found.
	before3 := eval[uint64](t, ctx, `Number([...document.querySelectorAll('#messages .msg')].find(r => (r.querySelector('.text') || {}).textContent === 'before 30').dataset.id)`)
	say(t, ctx, fmt.Sprintf("/context %d", before3))
	waitJS(t, ctx, `!!document.querySelector('`+row(before3)+`.found')`)
	for i := 10; i < 30; i++ {
		if n := countShown(t, ctx, fmt.Sprintf("before %d", i)); n != 1 {
			t.Errorf("before %d shown %d times after the second /context", i, n)
		}
	}

	// /read ID. The page is made to look hidden, so that it marks
	// nothing read by itself; /read 1st marks the first of three read.
	do(t, ctx, `Object.defineProperty(document, 'hidden', { get: () => true, configurable: true })`)
	do(t, ctx, sentFrames)
	first := bob.send(&protocol.Frame{Room: "ops", Text: "unread one"})
	bob.send(&protocol.Frame{Room: "ops", Text: "unread two"})
	bob.send(&protocol.Frame{Room: "ops", Text: "unread three"})
	waitJS(t, ctx, messageShown("unread three"))
	say(t, ctx, fmt.Sprintf("/read %d", first))
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice .text')].some(n => n.textContent === `+js(fmt.Sprintf("Marked read up to #%d.", first))+`)`)
	if got := eval[string](t, ctx, `JSON.stringify(window.__sent.filter(f => f.type === 'read').map(f => [f.room, f.msg]))`); got != fmt.Sprintf(`[["ops",%d]]`, first) {
		t.Errorf("read frames %s, want one at %d", got, first)
	}
	// Another device of alice's counts from there: two unread in #ops.
	second := tab(t, 1280, 800)
	login(t, second, e, "alice")
	waitJS(t, second, badge("#ops")+` === '2'`)
}

// Roles and room settings from the page: the owner makes bob an
// operator and gives carol voice with /op and /voice, the member list
// marks them, live on every page; /secret and /topiclock change the
// room's settings; an operator gets the Kick buttons; a plain member who
// tries is told why.
func TestRolesAndSettings(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.peer("bob")
	carol := e.peer("carol")
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "alice")
	say(t, ctx, "/join crew")
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#crew'`)
	bob.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "crew"})
	carol.do(&protocol.Frame{Type: protocol.TypeJoin, Room: "crew"})
	run(t, ctx, chromedp.Click(chromedp.ID("toggle-members")))
	waitJS(t, ctx, `[...document.querySelectorAll('#member-list button')].some(b => b.textContent === 'carol')`)

	notice := func(ctx context.Context, text string) {
		t.Helper()
		waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice .text')].some(n => n.textContent === `+js(text)+`)`)
	}
	memberRow := func(name string) string {
		return `[...document.querySelectorAll('#member-list li')].find(l => (l.querySelector('button, span:not(.dot)') || {}).textContent === ` + js(name) + `)`
	}
	say(t, ctx, "/op bob")
	if f := bob.waitFrame(protocol.TypeMode, func(f *protocol.Frame) bool { return f.Name == "bob" }); f.Operator == nil || !*f.Operator || f.By != "alice" {
		t.Fatalf("bob got %+v", f)
	}
	notice(ctx, "alice made bob an operator of #crew")
	waitJS(t, ctx, memberRow("bob")+`?.textContent.includes('operator')`)
	say(t, ctx, "/voice @carol")
	notice(ctx, "alice gave carol voice in #crew")
	waitJS(t, ctx, memberRow("carol")+`?.textContent.includes('voice')`)
	say(t, ctx, "/topiclock off")
	notice(ctx, "alice let every member of #crew set its topic")
	say(t, ctx, "/secret on")
	notice(ctx, "alice made #crew secret (listed to its members only)")
	who := carol.do(&protocol.Frame{Type: protocol.TypeWho, Room: "crew"})
	if who.Secret == nil || !*who.Secret || (who.TopicLock != nil && *who.TopicLock) {
		t.Fatalf("the room's settings: %+v", who)
	}
	roles := map[string]protocol.MemberInfo{}
	for _, m := range who.Members {
		roles[m.Name] = m
	}
	if !roles["bob"].Operator || !roles["carol"].Voice || roles["carol"].Operator {
		t.Fatalf("roles %+v", who.Members)
	}
	say(t, ctx, "/secret maybe")
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .notice')].some(n => n.textContent.includes('usage: /secret on|off'))`)

	// bob's page: an operator has the Kick buttons, and sees alice take
	// the role back live.
	bctx := tab(t, 1280, 800)
	login(t, bctx, e, "bob")
	do(t, bctx, `[...document.querySelectorAll('#conv-list button.conv')].find(b => b.querySelector('.name').textContent === '#crew').click()`)
	waitJS(t, bctx, `document.getElementById('conv-title').textContent === '#crew'`)
	run(t, bctx, chromedp.Click(chromedp.ID("toggle-members")))
	waitJS(t, bctx, `!!document.querySelector('#member-list button[aria-label="Kick carol"]')`)
	say(t, ctx, "/deop bob")
	notice(bctx, "alice took operator from bob in #crew")
	waitJS(t, bctx, `!document.querySelector('#member-list button[aria-label="Kick carol"]')`)
	// Now a plain member: the server's reason.
	say(t, bctx, "/devoice carol")
	waitJS(t, bctx, `[...document.querySelectorAll('#messages .notice')].some(n => n.textContent.includes('not_owner'))`)
	// Made an operator again, bob's page fetches the list as an
	// operator sees it, banned members included, without a reload.
	say(t, ctx, "/kick carol")
	waitJS(t, ctx, `!!document.querySelector('#banned button[aria-label="Unban carol"]')`)
	say(t, ctx, "/op bob")
	notice(bctx, "alice made bob an operator of #crew")
	waitJS(t, bctx, `!!document.querySelector('#banned button[aria-label="Unban carol"]')`)
	if csp := eval[[]string](t, ctx, `window.__csp`); len(csp) != 0 {
		t.Fatalf("the Content-Security-Policy blocked %v", csp)
	}
}
