package command_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// fakeChat is a chat server that speaks the protocol's handshake and
// login, and answers every other request with answer. It stands in for
// requests the real chat server does not have yet, and records what it
// was sent.
type fakeChat struct {
	t      *testing.T
	ln     net.Listener
	answer func(*protocol.Frame) *protocol.Frame
	wg     sync.WaitGroup

	mu  sync.Mutex
	got []*protocol.Frame
}

func newFakeChat(t *testing.T, answer func(*protocol.Frame) *protocol.Frame) *fakeChat {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeChat{t: t, ln: ln, answer: answer}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Add(1)
			go func() { defer f.wg.Done(); f.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); f.wg.Wait() })
	return f
}

// requests are the requests received after login, in order.
func (f *fakeChat) requests() []*protocol.Frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*protocol.Frame(nil), f.got...)
}

func (f *fakeChat) serve(c net.Conn) {
	defer c.Close()
	r := protocol.NewReader(c, protocol.DefaultMaxFrame)
	for {
		line, err := r.ReadFrame()
		if err != nil {
			return
		}
		in, err := protocol.Decode(line)
		if err != nil {
			return
		}
		var out *protocol.Frame
		switch in.Type {
		case protocol.TypeHello:
			out = &protocol.Frame{Type: protocol.TypeWelcome, Version: protocol.Version, Server: "fake",
				Limits: &protocol.Limits{Frame: protocol.DefaultMaxFrame, Text: protocol.MaxTextBytes}}
		case protocol.TypeLogin:
			out = &protocol.Frame{Type: protocol.TypeOK, Re: in.ID, Name: in.Name, Token: "resume",
				Rooms: []protocol.RoomInfo{{Name: protocol.Lobby, Members: 2, Joined: true}, {Name: "Go", Members: 1, Owner: in.Name, Joined: true}}}
		case protocol.TypePong:
			continue
		case protocol.TypeQuit:
			c.Write(protocol.Encode(&protocol.Frame{Type: protocol.TypeOK, Re: in.ID}))
			return
		default:
			f.mu.Lock()
			f.got = append(f.got, in)
			f.mu.Unlock()
			out = f.answer(in)
			out.Re = in.ID
		}
		if _, err := c.Write(protocol.Encode(out)); err != nil {
			return
		}
	}
}

func (f *fakeChat) login(name string) *chat.Session {
	f.t.Helper()
	s, err := chat.Connect(context.Background(), chat.Options{Addr: f.ln.Addr().String(), Name: name, Password: "pw"})
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { s.Close() })
	return s
}
