package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/store/postgres/pgtest"
	"github.com/parley-chat/parley/shared/protocol"
)

// Three line-mode clients in a room each send 20 lines a second, the
// server's sustained rate, with its default limits. The server is killed
// with SIGKILL partway through and restarted on the same port and data
// three seconds later; the lines typed meanwhile wait in the clients, more
// of them than the server's burst, and go out at the server's rate once
// the clients are back. In the end the room's
// history, read by a fourth connection, holds every line every client
// read, once each and in each sender's order; every client received every
// message once; and every client exits 0.
func TestKillNineLosesNothing(t *testing.T) { killNineLosesNothing(t) }

// The same with the chat server's data in PostgreSQL (-db): Debian's
// server, started for the test in a temporary directory.
func TestKillNineLosesNothingOnPostgreSQL(t *testing.T) {
	db := pgtest.Start(t).Schema(t)
	killNineLosesNothing(t, "-db", db)
}

func killNineLosesNothing(t *testing.T, args ...string) {
	srv := startChat(t, "", args...)
	names := []string{"ann", "ben", "cat"}
	clients := map[string]*proc{}
	for _, n := range names {
		clients[n] = connected(t, srv.addr, n)
		clients[n].do("/join relay")
	}

	const perSender = 200    // ten seconds at 20 a second
	const killAfter = 60     // lines each before the kill
	const restartAfter = 120 // lines each before the restart: 60 typed while down
	var wg, typed sync.WaitGroup
	killAt := make(chan struct{})
	var killOnce sync.Once
	typed.Add(len(names))
	for _, n := range names {
		wg.Add(1)
		go func(name string, c *proc) {
			defer wg.Done()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for i := 1; i <= perSender; i++ {
				if _, err := fmt.Fprintf(c.in, "%s %d\n", name, i); err != nil {
					t.Errorf("%s: writing line %d: %v", name, i, err)
					return
				}
				switch i {
				case killAfter:
					killOnce.Do(func() { close(killAt) })
				case restartAfter:
					typed.Done()
				}
				<-tick.C
			}
		}(n, clients[n])
	}

	<-killAt
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.wait()
	// Stay down until every client has noticed and is retrying.
	for _, n := range names {
		clients[n].waitEvent("reconnecting", func(e event) bool { return e.str("type") == "reconnecting" })
	}
	typed.Wait()
	srv2 := startChatAt(t, srv.addr, srv.data, args...)
	wg.Wait()

	// Every client gets every sender's last line, then is told its input
	// is over, stores what it still holds and exits.
	for _, reader := range names {
		c := clients[reader]
		for _, sender := range names {
			c.waitEvent(fmt.Sprintf("%s's last message", sender), isMessage(fmt.Sprintf("%s %d", sender, perSender)))
		}
	}
	for _, n := range names {
		clients[n].in.Close()
		if code := clients[n].wait(); code != 0 {
			t.Errorf("%s exited %d", n, code)
		}
		refused, flood := 0, 0
		for _, l := range clients[n].lines() {
			refused += strings.Count(l, `"code":"rate_limited"`)
			flood += strings.Count(l, `flood`)
		}
		if refused > 0 || flood > 0 {
			t.Errorf("%s printed %d rate_limited refusals and was closed for flood %d times", n, refused, flood)
		}
	}

	// What the server stored, read through its history.
	audit := dialChat(t, srv2.addr, "auditor")
	audit.write(&protocol.Frame{Type: protocol.TypeJoin, ID: 2, Room: "relay"})
	audit.waitReply(2)
	next := uint64(10)
	stored := map[string][]int{}
	for _, f := range audit.history("relay", &next) {
		sender, num, _ := strings.Cut(f.Text, " ")
		n, err := strconv.Atoi(num)
		if err != nil || sender != f.From {
			t.Errorf("stored message %d from %s: %q", f.ID, f.From, f.Text)
			continue
		}
		stored[sender] = append(stored[sender], n)
	}
	total := 0
	for _, sender := range names {
		total += len(stored[sender])
		if !isOneToN(stored[sender], perSender) {
			t.Errorf("stored from %s: %s; want 1..%d once each, in order", sender, describeSeq(stored[sender], perSender), perSender)
		}
	}
	t.Logf("lines stored: %d of %d sent", total, perSender*len(names))

	// What each client received, live, once each.
	for _, reader := range names {
		got := map[string][]int{}
		ids := map[uint64]bool{}
		for _, e := range clients[reader].events() {
			if e.str("type") != "message" || e["history"] == true {
				continue
			}
			if ids[e.num("id")] {
				t.Errorf("%s received message %d twice", reader, e.num("id"))
			}
			ids[e.num("id")] = true
			sender, num, ok := strings.Cut(e.str("text"), " ")
			if !ok || sender != e.str("from") {
				continue
			}
			n, _ := strconv.Atoi(num)
			got[sender] = append(got[sender], n)
		}
		for _, sender := range names {
			if !isOneToN(got[sender], perSender) {
				t.Errorf("%s received from %s: %s; want 1..%d once each, in order", reader, sender, describeSeq(got[sender], perSender), perSender)
			}
		}
	}
}

// isOneToN reports whether seq is 1, 2, …, n.
func isOneToN(seq []int, n int) bool {
	if len(seq) != n {
		return false
	}
	for i, v := range seq {
		if v != i+1 {
			return false
		}
	}
	return true
}

// describeSeq says how seq differs from 1, 2, …, n.
func describeSeq(seq []int, n int) string {
	count := map[int]int{}
	var twice, order []int
	for i, v := range seq {
		if count[v]++; count[v] == 2 {
			twice = append(twice, v)
		}
		if i > 0 && v <= seq[i-1] && len(order) < 10 {
			order = append(order, v)
		}
	}
	var missing []int
	for v := 1; v <= n; v++ {
		if count[v] == 0 {
			missing = append(missing, v)
		}
	}
	return fmt.Sprintf("%d lines, missing %v, repeated %v, out of order %v", len(seq), missing, twice, order)
}

// A client that joined a room and was shown its messages as history does
// not show them again after the server restarts, in either face: the
// catch-up after the reconnect starts from before the join (the client
// logged in before those messages were sent) and brings them again, and
// the client drops them.
func TestRestartDoesNotRepeatJoinHistory(t *testing.T) {
	srv := startChat(t, "")
	plain := startProc(t, "client", []string{"PARLEY_PASSWORD=pw-plain"}, "-server", srv.addr, "-name", "plain", "-plain")
	plain.waitLine(regexp.MustCompile(`^\* connected as plain`))
	js := connected(t, srv.addr, "json")
	writer := connected(t, srv.addr, "writer")
	writer.do("/join trio")
	for _, text := range []string{"one", "two", "three"} {
		writer.send(text)
	}
	writer.waitEvent("echo", isMessage("three"))

	plain.send("/join trio")
	for _, text := range []string{"one", "two", "three"} {
		plain.waitLine(regexp.MustCompile(`<writer> ` + text + ` \[\d+\] \(history\)$`))
	}
	js.send("/join trio")
	for _, text := range []string{"one", "two", "three"} {
		js.waitEvent("history "+text, func(e event) bool { return e.str("text") == text && e["history"] == true })
	}

	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.wait()
	plain.waitLine(regexp.MustCompile(`^\* connection lost`))
	js.waitEvent("reconnecting", func(e event) bool { return e.str("type") == "reconnecting" })
	startChatAt(t, srv.addr, srv.data)
	plain.waitLine(regexp.MustCompile(`^\* reconnected`))
	js.waitEvent("reconnected", func(e event) bool { return e.str("type") == "reconnected" })

	// A message sent now comes after the catch-up.
	writer.send("after")
	plain.waitLine(regexp.MustCompile(`<writer> after \[\d+\]$`))
	js.waitEvent("after", isMessage("after"))

	idOf := regexp.MustCompile(`<writer> (\S+) \[(\d+)\]( \(history\))?$`)
	count := map[string]int{}
	for _, l := range plain.lines() {
		if m := idOf.FindStringSubmatch(l); m != nil {
			count[m[2]]++
			if m[1] != "after" && m[3] == "" {
				t.Errorf("-plain showed %q as new: %s", m[1], l)
			}
		}
	}
	if len(count) != 4 {
		t.Errorf("-plain showed %d messages of writer, want 4", len(count))
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("-plain showed message %s %d times", id, n)
		}
	}
	seen := map[uint64]int{}
	for _, e := range js.events() {
		if e.str("type") == "message" && e.str("from") == "writer" {
			seen[e.num("id")]++
			if e.str("text") != "after" && e["history"] != true {
				t.Errorf("-json showed %q as new: %v", e.str("text"), e)
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("-json showed %d messages of writer, want 4", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("-json showed message %d %d times", id, n)
		}
	}
}

// The full-screen client, like line mode above: the messages it showed
// as a join's history are not shown again when the server is killed and
// restarted and the client reconnects by itself.
func TestTUIRestartDoesNotRepeatJoinHistory(t *testing.T) {
	needTool(t, "tmux")
	srv := startChat(t, "")
	writer := connected(t, srv.addr, "writer")
	writer.do("/join trio")
	old := []string{"first-one", "second-two", "third-three"}
	for _, text := range old {
		writer.send(text)
	}
	writer.waitEvent("echo", isMessage("third-three"))

	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "LANG=C.UTF-8", "PARLEY_PASSWORD=pw-viewer"}
	tm := tuiStartTmux(t, home)
	tm.run(env, "-server", srv.addr, "-name", "viewer")
	tm.waitScreen("● connected")
	tm.typeText("/join trio")
	tm.keys("Enter")
	tm.waitScreen("third-three")
	before := map[string]int{}
	for _, text := range old {
		before[text] = strings.Count(tm.screen(), text)
	}

	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.wait()
	tm.waitScreen("reconnecting")
	startChatAt(t, srv.addr, srv.data)
	tm.waitScreen("● connected · reconnected")
	// A message sent now comes after the catch-up, and shows.
	writer.waitEvent("reconnected", func(e event) bool { return e.str("type") == "reconnected" })
	writer.send("fourth-after")
	tm.waitScreen("fourth-after")

	screen := tm.screen()
	for _, text := range old {
		// A message may also show in the conversation list as the newest
		// of its conversation; it shows once more than that only if it
		// was shown again.
		if n := strings.Count(screen, text); n < 1 || n > before[text] {
			t.Errorf("%q is on the screen %d times, %d before the restart:\n%s", text, n, before[text], screen)
		}
	}
	if n := strings.Count(screen, "fourth-after"); n < 1 {
		t.Errorf("the new message is not on the screen")
	}
	t.Logf("screen after the restart:\n%s", screen)
	tm.keys("C-c")
	tm.waitExit(0)
}
