package irc_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/shared/protocol"
)

// peer is a client of the chat protocol over TCP, in the same rooms as
// the IRC clients.
type peer struct {
	t      *testing.T
	c      net.Conn
	r      *bufio.Reader
	nextID uint64
	held   []*protocol.Frame // events read while waiting for a reply
}

func dialNDJSON(t *testing.T, s *server.Server, name string) *peer {
	t.Helper()
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	p := &peer{t: t, c: c, r: bufio.NewReaderSize(c, 1<<20)}
	p.do(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version, Client: "test"})
	p.do(&protocol.Frame{Type: protocol.TypeLogin, Name: name, Password: "pw-" + name})
	return p
}

func (p *peer) read() *protocol.Frame {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := p.r.ReadBytes('\n')
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	f, err := protocol.Decode(line[:len(line)-1])
	if err != nil {
		p.t.Fatalf("decode %q: %v", line, err)
	}
	return f
}

// do sends a request and waits for its reply (or, for hello, the
// welcome), which must be ok.
func (p *peer) do(f *protocol.Frame) *protocol.Frame {
	p.t.Helper()
	if f.Type != protocol.TypeHello {
		p.nextID++
		f.ID = p.nextID
	}
	if _, err := p.c.Write(protocol.Encode(f)); err != nil {
		p.t.Fatal(err)
	}
	for {
		r := p.read()
		switch {
		case f.Type == protocol.TypeHello && r.Type == protocol.TypeWelcome:
			return r
		case r.Re == f.ID && r.Type == protocol.TypeOK:
			return r
		case r.Re == f.ID && r.Type == protocol.TypeError:
			p.t.Fatalf("%s: %s: %s", f.Type, r.Code, r.Message)
		}
		p.held = append(p.held, r)
	}
}

// next returns the next live event of type typ for which ok (if not
// nil) holds, skipping others.
func (p *peer) next(typ string, ok func(*protocol.Frame) bool) *protocol.Frame {
	p.t.Helper()
	match := func(f *protocol.Frame) bool { return f.Type == typ && !f.History && (ok == nil || ok(f)) }
	for len(p.held) > 0 {
		f := p.held[0]
		p.held = p.held[1:]
		if match(f) {
			return f
		}
	}
	for {
		if f := p.read(); match(f) {
			return f
		}
	}
}
