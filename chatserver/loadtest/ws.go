package main

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// dialWS opens the chat protocol over WebSocket at ws://server/ws and
// returns it as a stream of newline-delimited frames, so that the
// parley driver reads and writes it as it does TCP: each Write is one
// message, and each message read ends with a newline.
func dialWS(ctx context.Context, server string, tlsOn bool) (net.Conn, error) {
	scheme := "ws://"
	if tlsOn {
		scheme = "wss://"
	}
	var opts websocket.DialOptions
	if tlsOn {
		// As over TCP with -tls: the load tool does not verify.
		opts.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	wc, _, err := websocket.Dial(ctx, scheme+server+"/ws", &opts)
	if err != nil {
		return nil, err
	}
	wc.SetReadLimit(1 << 20)
	return &wsStream{wc: wc, ctx: context.Background()}, nil
}

// wsStream is a WebSocket as a net.Conn of newline-delimited frames.
type wsStream struct {
	wc  *websocket.Conn
	ctx context.Context

	mu       sync.Mutex
	deadline time.Time

	r      io.Reader          // the message being read
	done   context.CancelFunc // ends r's context, once r is read
	ending bool               // a message was read to its end: its newline is due
}

func (s *wsStream) context() (context.Context, context.CancelFunc) {
	s.mu.Lock()
	d := s.deadline
	s.mu.Unlock()
	if d.IsZero() {
		return s.ctx, func() {}
	}
	return context.WithDeadline(s.ctx, d)
}

func (s *wsStream) Read(p []byte) (int, error) {
	for {
		if s.r == nil {
			if s.ending {
				s.ending = false
				p[0] = '\n'
				return 1, nil
			}
			ctx, cancel := s.context()
			_, r, err := s.wc.Reader(ctx)
			if err != nil {
				cancel()
				if websocket.CloseStatus(err) != -1 {
					return 0, io.EOF
				}
				return 0, err
			}
			s.r, s.done = r, cancel
		}
		n, err := s.r.Read(p)
		if errors.Is(err, io.EOF) {
			s.done()
			s.r, s.ending = nil, true
			err = nil
		}
		if n > 0 || err != nil {
			return n, err
		}
	}
}

func (s *wsStream) Write(p []byte) (int, error) {
	ctx, cancel := s.context()
	defer cancel()
	if err := s.wc.Write(ctx, websocket.MessageText, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *wsStream) Close() error { return s.wc.CloseNow() }

func (s *wsStream) SetDeadline(t time.Time) error {
	s.mu.Lock()
	s.deadline = t
	s.mu.Unlock()
	return nil
}
func (s *wsStream) SetReadDeadline(t time.Time) error  { return s.SetDeadline(t) }
func (s *wsStream) SetWriteDeadline(t time.Time) error { return s.SetDeadline(t) }
func (s *wsStream) LocalAddr() net.Addr                { return wsAddr{} }
func (s *wsStream) RemoteAddr() net.Addr               { return wsAddr{} }

type wsAddr struct{}

func (wsAddr) Network() string { return "websocket" }
func (wsAddr) String() string  { return "websocket" }
