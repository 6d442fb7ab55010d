package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ircDriver speaks enough IRC (RFC 2812) to run the same scenarios against
// IRC servers: NICK, USER, JOIN, PRIVMSG, and PING/PONG.
type ircDriver struct{ cfg config }

func (d *ircDriver) setup(context.Context, io.Writer) error { return nil }

// nick keeps names short: some servers allow only 9 characters.
func (d *ircDriver) nick(i int) string { return fmt.Sprintf("lt%d", d.cfg.first+i) }

type ircConn struct {
	d      *ircDriver
	nc     net.Conn
	br     *bufio.Reader
	wmu    sync.Mutex
	bw     *bufio.Writer
	target string
	// Flat-out senders pace themselves with PINGs: at most window messages
	// are sent beyond the last PONG received.
	pongs  chan struct{}
	unpong int
	done   chan struct{}
	// closing is set when the load tool closes the connection; a
	// connection that ends without it was closed by the server.
	closing atomic.Bool
}

func (d *ircDriver) connect(ctx context.Context, i int, rec *recorder) (conn, error) {
	dl := net.Dialer{Timeout: 30 * time.Second}
	nc, err := dl.DialContext(ctx, "tcp", d.cfg.server)
	if err != nil {
		return nil, err
	}
	c := &ircConn{d: d, nc: nc, br: bufio.NewReaderSize(nc, 8192), bw: bufio.NewWriterSize(nc, 4096),
		pongs: make(chan struct{}, 1024), done: make(chan struct{})}
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	nick := d.nick(i)
	c.writeLine("NICK " + nick)
	c.writeLine("USER " + nick + " 0 * :load " + nick)
	if err := c.until("001"); err != nil { // welcome: registered
		nc.Close()
		return nil, fmt.Errorf("register %s: %w", nick, err)
	}
	switch d.cfg.scenario {
	case "fanout":
		c.target = "#" + d.cfg.room
		c.writeLine("JOIN " + c.target)
		if err := c.until("366"); err != nil { // end of NAMES: joined
			nc.Close()
			return nil, fmt.Errorf("join: %w", err)
		}
	case "pairs":
		c.target = d.nick(i ^ 1)
	}
	nc.SetDeadline(time.Time{})
	go c.readLoop(rec)
	return c, nil
}

func (c *ircConn) writeLine(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.bw.WriteString(s)
	c.bw.WriteString("\r\n")
	return c.bw.Flush()
}

// ircRefusals are the replies that refuse a registration or a join.
var ircRefusals = map[string]bool{
	"ERROR": true,
	// nick
	"431": true, "432": true, "433": true, "436": true, "437": true,
	// banned
	"465": true,
	// join
	"403": true, "405": true, "471": true, "473": true, "474": true, "475": true, "476": true, "477": true,
}

// ircCommand returns the command or numeric of a line, after its prefix.
func ircCommand(line string) string {
	f := strings.Fields(line)
	if len(f) > 0 && strings.HasPrefix(f[0], ":") {
		f = f[1:]
	}
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// until reads lines until one whose command is want, answering PINGs. The
// command is compared whole: a number in a reply's text ("There are 432
// users") is not a reply code.
func (c *ircConn) until(want string) error {
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return err
		}
		switch cmd := ircCommand(line); {
		case cmd == "PING":
			c.writeLine("PONG " + strings.TrimSpace(line[strings.Index(line, "PING")+4:]))
		case cmd == want:
			return nil
		case ircRefusals[cmd]:
			return errors.New(strings.TrimSpace(line))
		}
	}
}

var (
	ircPrivmsg = []byte(" PRIVMSG ")
	ircPong    = []byte(" PONG ")
)

func (c *ircConn) readLoop(rec *recorder) {
	defer close(c.done)
	lat := rec.reader()
	var reason string // the server's ERROR line, if it sent one
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if !c.closing.Load() {
				rec.dropped(reason, err)
			}
			return
		}
		switch {
		case bytes.HasPrefix(line, []byte("ERROR ")):
			reason = strings.TrimSpace(string(line))
		case bytes.Contains(line, ircPrivmsg):
			// :nick!user@host PRIVMSG target :text
			if i := bytes.Index(line[1:], []byte(" :")); i >= 0 {
				rec.deliver(lat, parseTS(line[i+3:]))
			}
		case bytes.HasPrefix(line, []byte("PING ")):
			c.writeLine("PONG " + strings.TrimSpace(string(line[5:])))
		case bytes.Contains(line, ircPong):
			select {
			case c.pongs <- struct{}{}:
			default:
			}
		}
	}
}

func (c *ircConn) send(text []byte) error {
	window := max(c.d.cfg.window, 2)
	if c.d.cfg.rate == 0 {
		c.unpong++
		if c.unpong%(window/2) == 0 {
			// Ask for a PONG now and wait for the one asked for half a
			// window ago.
			if err := c.writeLine("PING :w"); err != nil {
				return err
			}
			if c.unpong >= window {
				select {
				case <-c.pongs:
					c.unpong -= window / 2
				case <-c.done:
					return errors.New("connection closed")
				}
			}
		}
	}
	return c.writeLine("PRIVMSG " + c.target + " :" + string(text))
}

func (c *ircConn) close() {
	c.closing.Store(true)
	c.writeLine("QUIT :done")
	c.nc.Close()
	<-c.done
}
