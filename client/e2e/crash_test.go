package e2e

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/store/sqlite"
	"github.com/parley-chat/parley/shared/protocol"
)

// crashText is a message text that carries its own checksum, so that a
// text cut short or mixed with another is recognised.
func crashText(writer string, i int) string {
	body := fmt.Sprintf("%s|%04d|%s", writer, i, strings.Repeat(string(rune('a'+i%26)), 200+i%300))
	sum := sha256.Sum256([]byte(body))
	return body + "|" + hex.EncodeToString(sum[:8])
}

// checkCrashText reports whether text is whole, and whose and which it is.
func checkCrashText(text string) (writer string, i int, ok bool) {
	j := strings.LastIndexByte(text, '|')
	if j < 0 {
		return "", 0, false
	}
	sum := sha256.Sum256([]byte(text[:j]))
	if text[j+1:] != hex.EncodeToString(sum[:8]) {
		return "", 0, false
	}
	parts := strings.SplitN(text, "|", 3)
	if len(parts) < 3 {
		return "", 0, false
	}
	if _, err := fmt.Sscanf(parts[1], "%d", &i); err != nil {
		return "", 0, false
	}
	return parts[0], i, true
}

// rawConn is a protocol connection to the chat server, without the
// client's reconnect logic, so that the test knows exactly what the
// server acknowledged.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	r  *protocol.Reader
	mu sync.Mutex // serialises writes
}

func dialChat(t *testing.T, addr, name string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{t: t, nc: nc, r: protocol.NewReader(nc, 1<<20)}
	c.write(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version, Client: "crash-test"})
	c.write(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: name, Password: "pw-" + name})
	if r := c.waitReply(1); r.Type != protocol.TypeOK {
		t.Fatalf("login %s: %+v", name, r)
	}
	return c
}

func (c *rawConn) write(f *protocol.Frame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.nc.Write(protocol.Encode(f))
	return err
}

func (c *rawConn) read() (*protocol.Frame, error) {
	c.nc.SetReadDeadline(time.Now().Add(waitLimit))
	line, err := c.r.ReadFrame()
	if err != nil {
		return nil, err
	}
	return protocol.Decode(line)
}

func (c *rawConn) waitReply(id uint64) *protocol.Frame {
	c.t.Helper()
	for {
		f, err := c.read()
		if err != nil {
			c.t.Fatalf("waiting for the reply to %d: %v", id, err)
		}
		if f.Re == id && (f.Type == protocol.TypeOK || f.Type == protocol.TypeError) {
			return f
		}
	}
}

// history pages back through room and returns every message, oldest
// first.
func (c *rawConn) history(room string, next *uint64) []*protocol.Frame {
	c.t.Helper()
	var all []*protocol.Frame
	var before uint64
	for {
		*next++
		id := *next
		c.write(&protocol.Frame{Type: protocol.TypeHistory, ID: id, Room: room, Before: before, Limit: protocol.MaxHistory})
		var page []*protocol.Frame
		for {
			f, err := c.read()
			if err != nil {
				c.t.Fatalf("history: %v", err)
			}
			if f.Type == protocol.TypeMessage && f.History && f.Room == room {
				page = append(page, f)
			}
			if f.Re == id {
				if f.Type != protocol.TypeOK {
					c.t.Fatalf("history: %+v", f)
				}
				break
			}
		}
		if len(page) == 0 {
			return all
		}
		all = append(page, all...)
		before = page[0].ID
	}
}

// The chat server is killed with SIGKILL in the middle of a burst of
// writes from several connections. After a restart on the same data the
// database opens and passes SQLite's integrity check, every message the
// server acknowledged is there with its text intact, nothing stored is
// half-written or stored twice, and messages sent again with their
// idempotency keys after the restart are stored exactly once.
func TestCrashMidBurstKeepsAcknowledged(t *testing.T) {
	// No rate limit: the writers send as fast as the server answers.
	limits := []string{"-rate", "1000000", "-burst", "1000000"}
	srv := startChat(t, "", limits...)
	const room = "crash"
	writers := []string{"w1", "w2", "w3", "w4"}
	const perWriter = 300
	const window = 32     // requests in flight per connection
	const killAfter = 300 // acknowledgements before the kill, in all

	type ack struct {
		writer string
		i      int
		msg    uint64
	}
	var mu sync.Mutex
	acked := map[string]ack{} // by idempotency key
	ackCount := 0
	killNow := make(chan struct{})
	var killOnce sync.Once

	conns := map[string]*rawConn{}
	for _, w := range writers {
		c := dialChat(t, srv.addr, w)
		c.write(&protocol.Frame{Type: protocol.TypeJoin, ID: 2, Room: room})
		if r := c.waitReply(2); r.Type != protocol.TypeOK {
			t.Fatalf("join: %+v", r)
		}
		conns[w] = c
	}

	var wg sync.WaitGroup
	for _, w := range writers {
		c := conns[w]
		slots := make(chan struct{}, window)
		dead := make(chan struct{})
		keys := map[uint64]string{}
		var kmu sync.Mutex
		wg.Add(2)
		// The reader records acknowledgements until the connection dies.
		go func() {
			defer wg.Done()
			defer close(dead)
			for {
				f, err := c.read()
				if err != nil {
					return
				}
				if f.Re < 100 || (f.Type != protocol.TypeOK && f.Type != protocol.TypeError) {
					continue
				}
				kmu.Lock()
				key := keys[f.Re]
				kmu.Unlock()
				if f.Type == protocol.TypeOK {
					var i int
					fmt.Sscanf(key[len(w)+1:], "%d", &i)
					mu.Lock()
					acked[key] = ack{w, i, f.Msg}
					ackCount++
					if ackCount >= killAfter {
						killOnce.Do(func() { close(killNow) })
					}
					mu.Unlock()
				}
				select {
				case <-slots:
				default:
				}
			}
		}()
		// The writer keeps a window of sends in flight until it has sent
		// them all or the connection dies.
		go func() {
			defer wg.Done()
			for i := range perWriter {
				select {
				case slots <- struct{}{}:
				case <-dead:
					return
				}
				id := uint64(100 + i)
				key := fmt.Sprintf("%s-%d", w, i)
				kmu.Lock()
				keys[id] = key
				kmu.Unlock()
				if err := c.write(&protocol.Frame{Type: protocol.TypeSend, ID: id, Room: room, Text: crashText(w, i), Key: key}); err != nil {
					return
				}
			}
		}()
	}

	select {
	case <-killNow:
	case <-time.After(waitLimit):
		t.Fatal("the server never acknowledged enough messages")
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.wait()
	for _, c := range conns {
		c.nc.Close()
	}
	wg.Wait()
	mu.Lock()
	t.Logf("%d messages acknowledged before the kill", len(acked))
	mu.Unlock()

	// The database opens and is consistent before the server touches it
	// again; every row is a whole message.
	db, err := sql.Open("sqlite", "file:"+filepath.Join(srv.data, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity check after the kill: %q, %v", check, err)
	}
	rows, err := db.Query("SELECT id, sender, text, idem FROM messages WHERE room = ?", room)
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	for rows.Next() {
		var id int64
		var sender, text, idem string
		if err := rows.Scan(&id, &sender, &text, &idem); err != nil {
			t.Fatal(err)
		}
		w, i, ok := checkCrashText(text)
		if !ok || w != sender || idem != fmt.Sprintf("%s-%d", w, i) {
			t.Errorf("row %d is damaged: sender %q key %q text %q", id, sender, idem, text)
		}
		stored++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	t.Logf("%d messages stored at the kill", stored)

	// Restart on the same data.
	srv2 := startChatAt(t, srv.addr, srv.data, limits...)
	audit := dialChat(t, srv2.addr, "auditor")
	audit.write(&protocol.Frame{Type: protocol.TypeJoin, ID: 2, Room: room})
	audit.waitReply(2)
	next := uint64(10)

	checkHistory := func(when string) map[string]*protocol.Frame {
		t.Helper()
		byKey := map[string]*protocol.Frame{}
		var last uint64
		for _, f := range audit.history(room, &next) {
			if f.ID <= last {
				t.Errorf("%s: history id %d after %d", when, f.ID, last)
			}
			last = f.ID
			w, i, ok := checkCrashText(f.Text)
			if !ok || w != f.From {
				t.Errorf("%s: message %d is damaged: from %q text %q", when, f.ID, f.From, f.Text)
				continue
			}
			key := fmt.Sprintf("%s-%d", w, i)
			if prev := byKey[key]; prev != nil {
				t.Errorf("%s: message %s is stored twice, as %d and %d", when, key, prev.ID, f.ID)
			}
			byKey[key] = f
		}
		return byKey
	}
	byKey := checkHistory("after the restart")
	mu.Lock()
	for key, a := range acked {
		f := byKey[key]
		if f == nil {
			t.Errorf("acknowledged message %s (id %d) is gone", key, a.msg)
			continue
		}
		if f.ID != a.msg || f.Text != crashText(a.writer, a.i) {
			t.Errorf("acknowledged message %s: id %d text %q, was acknowledged as %d", key, f.ID, f.Text, a.msg)
		}
	}
	mu.Unlock()

	// Every writer sends everything again with the same keys, as a client
	// does with its unacknowledged messages: each is stored once, and the
	// ones already stored keep their ids.
	for _, w := range writers {
		c := dialChat(t, srv2.addr, w)
		for i := range perWriter {
			c.write(&protocol.Frame{Type: protocol.TypeSend, ID: uint64(100 + i), Room: room, Text: crashText(w, i), Key: fmt.Sprintf("%s-%d", w, i)})
		}
		for i := range perWriter {
			if r := c.waitReply(uint64(100 + i)); r.Type != protocol.TypeOK {
				t.Fatalf("%s resends %d: %+v", w, i, r)
			} else if prev := byKey[fmt.Sprintf("%s-%d", w, i)]; prev != nil && prev.ID != r.Msg {
				t.Errorf("%s-%d was stored as %d before the kill, and again as %d", w, i, prev.ID, r.Msg)
			}
		}
	}
	byKey = checkHistory("after sending again")
	if len(byKey) != len(writers)*perWriter {
		t.Errorf("%d messages stored after sending again, want %d", len(byKey), len(writers)*perWriter)
	}
}
