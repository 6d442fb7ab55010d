package chat_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// decodeLine decodes one line a proxy saw, or returns nil.
func decodeLine(line []byte) *protocol.Frame {
	f, err := protocol.Decode(bytes.TrimRight(line, "\r\n"))
	if err != nil {
		return nil
	}
	return f
}

// stored reads a room's history through a session of its own and returns
// the texts in the order the server stored them: everything the session
// was handed in the room, on joining and in pages back to the start, by
// id.
func stored(t *testing.T, addr, room string) []string {
	t.Helper()
	u := connect(t, addr, "auditor")
	if room != protocol.Lobby {
		u.do(&protocol.Frame{Type: protocol.TypeJoin, Room: room})
	}
	var before uint64
	for {
		r := u.do(&protocol.Frame{Type: protocol.TypeHistory, Room: room, Before: before, Limit: protocol.MaxHistory})
		if r.Limit == 0 {
			break
		}
		before = r.Before
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	byID := map[uint64]string{}
	var ids []uint64
	for _, ev := range u.events {
		if f := ev.Frame; ev.Kind == chat.EvFrame && f.Type == protocol.TypeMessage && strings.EqualFold(f.Room, room) {
			if _, ok := byID[f.ID]; !ok {
				ids = append(ids, f.ID)
			}
			byID[f.ID] = f.Text
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	var texts []string
	for _, id := range ids {
		texts = append(texts, byID[id])
	}
	return texts
}

// Several goroutines send at once, faster than the server's rate, and the
// connection is cut in the middle. Every send succeeds: the session keeps
// to the rate the server announced, so the server never closes it as a
// flood, and the few requests it may refuse as too fast (when delays on
// the way bunch frames together) are sent again. On every connection the
// other requests go out in the order they were made, re-sent ones first,
// and the room holds each message once, in each sender's order.
func TestRequestsKeepToTheRateAndTheirOrder(t *testing.T) {
	srv := startServer(t, func(c *server.Config) { c.Limits.RatePerSec = 50; c.Limits.RateBurst = 10 })
	var mu sync.Mutex
	written := map[int][]uint64{} // request ids by connection, logins left out
	refused := map[uint64]bool{}  // requests the server refused as too fast
	px := newProxyWith(t, srv.Addr(), proxyHooks{up: func(n int, line []byte) {
		if f := decodeLine(line); f != nil && f.ID != 0 && f.Type != protocol.TypeLogin {
			mu.Lock()
			written[n] = append(written[n], f.ID)
			mu.Unlock()
		}
	}, down: func(line []byte) []byte {
		if f := decodeLine(line); f != nil && f.Type == protocol.TypeError && f.Code == protocol.CodeRateLimited {
			mu.Lock()
			refused[f.Re] = true
			mu.Unlock()
		}
		return line
	}})
	alice := connect(t, px.addr(), "alice")
	const senders, each = 4, 25
	var wg sync.WaitGroup
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if _, err := alice.s.Do(context.Background(), &protocol.Frame{Type: protocol.TypeSend, Text: fmt.Sprintf("g%d %02d", g, i), Key: chat.NewKey()}); err != nil {
					t.Errorf("g%d send %d: %v", g, i, err)
				}
				if g == 0 && i == each/2 {
					px.cut()
				}
			}
		}()
	}
	wg.Wait()

	alice.mu.Lock()
	for _, ev := range alice.events {
		if ev.Kind == chat.EvReconnecting && chat.IsCode(ev.Err, protocol.CodeFlood) {
			t.Errorf("closed as a flood: %v", ev.Err)
		}
		if ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypeError {
			t.Errorf("error event %+v", ev.Frame)
		}
	}
	alice.mu.Unlock()
	mu.Lock()
	if len(written) < 2 {
		t.Errorf("%d connections; the cut did not happen", len(written))
	}
	// A request the server refused as too fast goes again after the wait
	// it names, behind what was written meanwhile; the pacing makes that
	// rare (the server's clock and the client's differ by the network's
	// delays), and the order of everything else holds.
	for n, ids := range written {
		var last uint64
		for _, id := range ids {
			if refused[id] {
				continue
			}
			if id <= last {
				t.Errorf("connection %d: request %d written after %d", n, id, last)
			}
			last = id
		}
	}
	if len(refused) > 0 {
		t.Logf("%d requests refused as too fast and sent again", len(refused))
	}
	mu.Unlock()

	byG := map[string][]string{}
	for _, text := range stored(t, srv.Addr(), protocol.Lobby) {
		g, i, _ := strings.Cut(text, " ")
		byG[g] = append(byG[g], i)
	}
	for g := range senders {
		var want []string
		for i := range each {
			want = append(want, fmt.Sprintf("%02d", i))
		}
		if got := byG[fmt.Sprintf("g%d", g)]; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("g%d stored %v", g, got)
		}
	}
}

// The server refuses requests over its rate even when it said it allows
// more (here a proxy says its burst is eight times what it is). Each
// refused request is sent again after the wait the server names, and its
// caller gets the real reply; the session is not closed as a flood.
func TestRefusedRequestsAreSentAgain(t *testing.T) {
	srv := startServer(t, func(c *server.Config) { c.Limits.RatePerSec = 50; c.Limits.RateBurst = 5 })
	var mu sync.Mutex
	refusals := 0
	px := newProxyWith(t, srv.Addr(), proxyHooks{down: func(line []byte) []byte {
		if f := decodeLine(line); f != nil && f.Type == protocol.TypeError && f.Code == protocol.CodeRateLimited {
			mu.Lock()
			refusals++
			mu.Unlock()
		}
		return bytes.Replace(line, []byte(`"burst":5,`), []byte(`"burst":40,`), 1)
	}})
	alice := connect(t, px.addr(), "alice")
	const n = 40
	for i := range n {
		alice.say("lobby", fmt.Sprintf("m%02d", i))
	}
	mu.Lock()
	if refusals == 0 {
		t.Fatal("the server refused nothing: the test tested nothing")
	}
	t.Logf("%d refusals", refusals)
	mu.Unlock()
	alice.mu.Lock()
	for _, ev := range alice.events {
		if ev.Kind == chat.EvReconnecting {
			t.Errorf("the connection dropped: %v", ev.Err)
		}
		if ev.Kind == chat.EvFrame && ev.Frame.Type == protocol.TypeError {
			t.Errorf("error event %+v", ev.Frame)
		}
	}
	alice.mu.Unlock()
	got := stored(t, srv.Addr(), protocol.Lobby)
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("m%02d", i))
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("stored %v", got)
	}
}

// A login refused as over the rate, or because the server is checking too
// many passwords, is sent again after the wait the server names, and the
// session logs in.
func TestLoginWaitsWhenRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const wait = 40 // ms
	type result struct {
		gaps []time.Duration
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var res result
		defer func() { done <- res }()
		nc, err := ln.Accept()
		if err != nil {
			res.err = err
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(30 * time.Second))
		r := protocol.NewReader(nc, protocol.DefaultMaxFrame)
		read := func() *protocol.Frame {
			line, err := r.ReadFrame()
			if err != nil {
				res.err = err
				return nil
			}
			f, _ := protocol.Decode(line)
			return f
		}
		write := func(f *protocol.Frame) { nc.Write(protocol.Encode(f)) }
		if f := read(); f == nil || f.Type != protocol.TypeHello {
			res.err = fmt.Errorf("first frame %+v", f)
			return
		}
		write(&protocol.Frame{Type: protocol.TypeWelcome, Version: protocol.Version, Limits: &protocol.Limits{Frame: 65536, RatePerSec: 1000, RateBurst: 1000}})
		var last time.Time
		for _, code := range []string{protocol.CodeRateLimited, protocol.CodeBusy, ""} {
			f := read()
			if f == nil {
				return
			}
			if !last.IsZero() {
				res.gaps = append(res.gaps, time.Since(last))
			}
			last = time.Now()
			if f.Type != protocol.TypeLogin {
				res.err = fmt.Errorf("got %+v, want a login", f)
				return
			}
			if code != "" {
				write(&protocol.Frame{Type: protocol.TypeError, Re: f.ID, Code: code, Message: "not now", RetryMS: wait})
				continue
			}
			write(&protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Name: "alice", Token: "t"})
		}
		for read() != nil { // until the client closes
		}
		res.err = nil
	}()
	s, err := chat.Connect(context.Background(), chat.Options{Addr: ln.Addr().String(), Name: "alice", Password: "pw"})
	if err != nil {
		ln.Close()
		<-done
		t.Fatalf("connect: %v", err)
	}
	s.Close()
	ln.Close()
	res := <-done
	if res.err != nil && !errors.Is(res.err, net.ErrClosed) && !strings.Contains(res.err.Error(), "EOF") {
		t.Errorf("fake server: %v", res.err)
	}
	if len(res.gaps) != 2 {
		t.Fatalf("%d logins after the first, want 2", len(res.gaps))
	}
	for i, g := range res.gaps {
		if g < wait*time.Millisecond {
			t.Errorf("login %d came %v after a refusal that asked for %d ms", i+2, g, wait)
		}
	}
}

func (u *user) do(f *protocol.Frame) *protocol.Frame {
	u.t.Helper()
	r, err := u.s.Do(context.Background(), f)
	if err != nil {
		u.t.Fatalf("%s: %v", f.Type, err)
	}
	<-u.s.Barrier()
	return r
}

// Barrier after the session has ended and closed its events channel
// returns a closed channel instead of sending on the closed one.
func TestBarrierAfterTheEnd(t *testing.T) {
	srv := startServer(t, nil)
	s, err := chat.Connect(context.Background(), chat.Options{Addr: srv.Addr(), Name: "alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	for ev := range s.Events() { // until closed
		if ev.Kind == chat.EvMark {
			close(ev.Mark)
		}
	}
	for range 100 {
		<-s.Barrier()
	}
	s.Close()
}
