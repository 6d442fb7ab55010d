// Package chat is the client side of Parley's chat protocol: dialing,
// the hello/login handshake, requests and their replies, events, and a
// Session that reconnects by itself, resumes with its token, catches up on
// what it missed and re-sends what was not acknowledged.
package chat

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/parley-chat/parley/shared/protocol"
)

// ClientName is sent in hello.
const ClientName = "parley-client/1"

// conn is one connection to the server. The Session owns it.
type conn struct {
	nc      net.Conn
	r       *protocol.Reader
	welcome *protocol.Frame
	wmu     sync.Mutex
	early   []*protocol.Frame // frames that came before the login reply
	more    bool              // the login's catch-up was cut short
}

// dial connects and exchanges hello and welcome.
func dial(ctx context.Context, addr string, tlsConf *tls.Config) (*conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	var nc net.Conn
	var err error
	if tlsConf != nil {
		td := tls.Dialer{NetDialer: &d, Config: tlsConf}
		nc, err = td.DialContext(ctx, "tcp", addr)
	} else {
		nc, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, r: protocol.NewReader(nc, protocol.DefaultMaxFrame)}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Now()) })
	defer stop()
	nc.SetDeadline(time.Now().Add(15 * time.Second))
	if err := c.write(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version, Client: ClientName}); err != nil {
		nc.Close()
		return nil, err
	}
	f, err := c.read()
	if err != nil {
		nc.Close()
		if tlsConf == nil && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
			return nil, fmt.Errorf("the server closed the connection before saying welcome; if it uses TLS, connect with -tls or -ca FILE (%w)", err)
		}
		return nil, fmt.Errorf("waiting for welcome: %w", err)
	}
	switch f.Type {
	case protocol.TypeWelcome:
	case protocol.TypeError, protocol.TypeBye:
		nc.Close()
		return nil, &protocol.Error{Code: f.Code, Message: f.Message}
	default:
		nc.Close()
		return nil, fmt.Errorf("expected welcome, got %q", f.Type)
	}
	c.welcome = f
	if f.Limits != nil && f.Limits.Frame > 0 {
		c.r = protocol.NewReader(nc, f.Limits.Frame)
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

func (c *conn) write(f *protocol.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(protocol.Encode(f))
	return err
}

func (c *conn) read() (*protocol.Frame, error) {
	line, err := c.r.ReadFrame()
	if err != nil {
		return nil, err
	}
	return protocol.Decode(line)
}

// login sends a login and reads until its reply. The login's catch-up
// comes before the reply; it is returned with it, in order.
func (c *conn) login(ctx context.Context, f *protocol.Frame) (*protocol.Frame, []*protocol.Frame, error) {
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Now()) })
	defer stop()
	c.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
	defer c.nc.SetReadDeadline(time.Time{})
	if err := c.write(f); err != nil {
		return nil, nil, err
	}
	var early []*protocol.Frame
	for {
		r, err := c.read()
		if err != nil {
			if pe, ok := err.(*protocol.Error); ok && pe.Code == protocol.CodeBadFrame {
				continue
			}
			return nil, nil, fmt.Errorf("waiting for login reply: %w", err)
		}
		switch {
		case r.Type == protocol.TypeOK && r.Re == f.ID:
			return r, early, nil
		case r.Type == protocol.TypeError && r.Re == f.ID:
			return nil, nil, &protocol.Error{Code: r.Code, Message: r.Message}
		case r.Type == protocol.TypeBye:
			return nil, nil, &protocol.Error{Code: r.Code, Message: r.Message}
		case r.Type == protocol.TypeError && r.Code == protocol.CodeRateLimited:
			return nil, nil, &protocol.Error{Code: r.Code, Message: r.Message}
		case r.Type == protocol.TypePing:
			c.write(&protocol.Frame{Type: protocol.TypePong})
		default:
			early = append(early, r)
		}
	}
}

func (c *conn) close() { c.nc.Close() }

// IsCode reports whether err is a protocol error with code.
func IsCode(err error, code string) bool {
	var pe *protocol.Error
	return errors.As(err, &pe) && pe.Code == code
}
