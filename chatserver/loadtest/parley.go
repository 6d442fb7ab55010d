package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-chat/parley/shared/protocol"
)

// parleyDriver speaks Parley's protocol.
type parleyDriver struct {
	cfg    config
	mu     sync.Mutex
	tokens map[string]string
}

func (d *parleyDriver) name(i int) string { return fmt.Sprintf("%s%d", d.cfg.prefix, d.cfg.first+i) }

// setup makes sure every load user exists and has a resume token, so that
// the measured logins do no password hashing. Tokens are kept in -tokens.
func (d *parleyDriver) setup(ctx context.Context, log io.Writer) error {
	d.tokens = map[string]string{}
	if d.cfg.tokens != "" {
		if b, err := os.ReadFile(d.cfg.tokens); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if name, tok, ok := strings.Cut(line, " "); ok {
					d.tokens[name] = tok
				}
			}
		}
	}
	var missing []int
	for i := range d.cfg.conns {
		if d.tokens[d.name(i)] == "" {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	fmt.Fprintf(log, "registering %d users (password hashing; once per token file)\n", len(missing))
	var wg sync.WaitGroup
	var firstErr error
	sem := make(chan struct{}, 8)
	for _, i := range missing {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			tok, err := d.register(ctx, i)
			d.mu.Lock()
			defer d.mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			d.tokens[d.name(i)] = tok
		}(i)
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if d.cfg.tokens != "" {
		var b strings.Builder
		for name, tok := range d.tokens {
			fmt.Fprintf(&b, "%s %s\n", name, tok)
		}
		if err := os.WriteFile(d.cfg.tokens, []byte(b.String()), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (d *parleyDriver) register(ctx context.Context, i int) (string, error) {
	for attempt := 0; ; attempt++ {
		c, err := d.dial(ctx)
		if err != nil {
			return "", err
		}
		ok, err := c.login(&protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: d.name(i), Password: d.cfg.password})
		c.nc.Close()
		var pe *protocol.Error
		if errors.As(err, &pe) && (pe.Code == protocol.CodeBusy || pe.Code == protocol.CodeRateLimited) && attempt < 50 {
			time.Sleep(max(100*time.Millisecond, time.Duration(pe.RetryMS)*time.Millisecond))
			continue
		}
		if err != nil {
			return "", fmt.Errorf("register %s: %w", d.name(i), err)
		}
		return ok.Token, nil
	}
}

type parleyConn struct {
	d      *parleyDriver
	nc     net.Conn
	r      *protocol.Reader
	wmu    sync.Mutex
	bw     *bufio.Writer
	nextID uint64
	window chan struct{}
	to     string // pairs: the peer's name
	done   chan struct{}
	// closing is set when the load tool closes the connection; a
	// connection that ends without it was closed by the server.
	closing atomic.Bool
}

func (d *parleyDriver) dial(ctx context.Context) (*parleyConn, error) {
	dl := net.Dialer{Timeout: 30 * time.Second}
	var nc net.Conn
	var err error
	switch {
	case d.cfg.driver == "parley-ws":
		nc, err = dialWS(ctx, d.cfg.server, d.cfg.tls)
	case d.cfg.tls:
		nc, err = (&tls.Dialer{NetDialer: &dl, Config: &tls.Config{InsecureSkipVerify: true}}).DialContext(ctx, "tcp", d.cfg.server)
	default:
		nc, err = dl.DialContext(ctx, "tcp", d.cfg.server)
	}
	if err != nil {
		return nil, err
	}
	c := &parleyConn{d: d, nc: nc, r: protocol.NewReader(nc, 1<<20), bw: bufio.NewWriterSize(nc, 4096),
		window: make(chan struct{}, max(d.cfg.window, 1)), done: make(chan struct{})}
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	if err := c.write(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version, Client: "loadtest"}); err != nil {
		nc.Close()
		return nil, err
	}
	f, err := c.read()
	if err != nil || f.Type != protocol.TypeWelcome {
		nc.Close()
		return nil, fmt.Errorf("no welcome: %v %v", err, f)
	}
	return c, nil
}

func (c *parleyConn) write(f *protocol.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.bw.Write(protocol.Encode(f))
	return c.bw.Flush()
}

func (c *parleyConn) read() (*protocol.Frame, error) {
	line, err := c.r.ReadFrame()
	if err != nil {
		return nil, err
	}
	return protocol.Decode(line)
}

// call sends a request and reads until its reply, skipping events.
func (c *parleyConn) call(f *protocol.Frame) (*protocol.Frame, error) {
	if err := c.write(f); err != nil {
		return nil, err
	}
	for {
		r, err := c.read()
		if err != nil {
			return nil, err
		}
		if r.Re == f.ID && (r.Type == protocol.TypeOK || r.Type == protocol.TypeError) {
			if r.Type == protocol.TypeError {
				return r, &protocol.Error{Code: r.Code, Message: r.Message, RetryMS: r.RetryMS}
			}
			return r, nil
		}
		if r.Type == protocol.TypeBye {
			return nil, &protocol.Error{Code: r.Code, Message: r.Message}
		}
	}
}

func (c *parleyConn) login(f *protocol.Frame) (*protocol.Frame, error) { return c.call(f) }

func (d *parleyDriver) connect(ctx context.Context, i int, rec *recorder) (conn, error) {
	c, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.setup(i, rec, false); err != nil {
		c.nc.Close()
		return nil, err
	}
	go c.readLoop(rec)
	return c, nil
}

// setup logs in and joins the room.
func (c *parleyConn) setup(i int, rec *recorder, resume bool) error {
	d := c.d
	login := &protocol.Frame{Type: protocol.TypeLogin, ID: 1, Name: d.name(i), Token: d.tokens[d.name(i)], Resume: resume || d.cfg.resume}
	if login.Token == "" {
		login.Password = d.cfg.password
	}
	if _, err := c.login(login); err != nil {
		return fmt.Errorf("login %s: %w", d.name(i), err)
	}
	c.nextID = 1
	switch d.cfg.scenario {
	case "fanout", "history":
		room := d.cfg.room
		if d.cfg.scenario == "history" {
			room = fmt.Sprintf("%s-%d", d.cfg.room, i) // nobody else reads it
		}
		c.nextID++
		if _, err := c.call(&protocol.Frame{Type: protocol.TypeJoin, ID: c.nextID, Room: room}); err != nil {
			return fmt.Errorf("join: %w", err)
		}
		c.to = ""
		if d.cfg.scenario == "history" {
			c.to = "#" + room
		}
	case "pairs":
		c.to = d.name(i ^ 1)
	}
	c.nc.SetDeadline(time.Time{})
	return nil
}

var (
	typeMessage = []byte(`"type":"message"`)
	typeReply   = []byte(`"re":`)
	typePing    = []byte(`{"type":"ping"}`)
	textField   = []byte(`"text":"`)
	typeBye     = []byte(`"type":"bye"`)
)

func (c *parleyConn) readLoop(rec *recorder) {
	defer close(c.done)
	lat := rec.reader()
	var reason string // the server's bye frame, if it sent one
	for {
		line, err := c.r.ReadFrame()
		if err != nil {
			if !c.closing.Load() {
				rec.dropped(reason, err)
			}
			return
		}
		switch {
		case bytes.Contains(line, typeMessage):
			ts := int64(0)
			if i := bytes.Index(line, textField); i >= 0 {
				ts = parseTS(line[i+len(textField):])
			}
			rec.deliver(lat, ts)
		case bytes.Contains(line, typeReply):
			if bytes.Contains(line, []byte(`"type":"error"`)) {
				rec.fail(errors.New(string(line)))
			}
			select {
			case <-c.window:
			default:
			}
		case bytes.Equal(line, typePing):
			c.write(&protocol.Frame{Type: protocol.TypePong})
		case bytes.Contains(line, typeBye):
			reason = string(line)
		}
	}
}

func (c *parleyConn) send(text []byte) error {
	select {
	case c.window <- struct{}{}:
	case <-c.done:
		return errors.New("connection closed")
	}
	c.wmu.Lock()
	c.nextID++
	f := &protocol.Frame{Type: protocol.TypeSend, ID: c.nextID, Text: string(text)}
	switch {
	case strings.HasPrefix(c.to, "#"):
		f.Room = c.to[1:]
	case c.to != "":
		f.To = c.to
	default:
		f.Room = c.d.cfg.room
	}
	c.bw.Write(protocol.Encode(f))
	err := c.bw.Flush()
	c.wmu.Unlock()
	return err
}

func (c *parleyConn) close() { c.closing.Store(true); c.nc.Close(); <-c.done }

// runStorm logs every connection in, waits for the server to go away and
// come back, and measures how long all of them take to resume.
func runStorm(ctx context.Context, cfg config, d *parleyDriver, res *result, log io.Writer) error {
	if err := d.setup(ctx, log); err != nil {
		return err
	}
	rec := newRecorder()
	fmt.Fprintf(log, "opening %d connections to %s\n", cfg.conns, cfg.server)
	// The first connections are meant to be dropped by the restart: their
	// ends are not errors.
	conns, err := openAll(ctx, cfg, d, newRecorder(), log)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "all %d connected; restart the server now\n", cfg.conns)
	for _, c := range conns {
		select {
		case <-c.(*parleyConn).done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	fmt.Fprintln(log, "all connections dropped; reconnecting")

	var mu sync.Mutex
	var first time.Time
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			backoff := 50 * time.Millisecond
			for ctx.Err() == nil {
				c, err := d.dial(ctx)
				if err != nil {
					time.Sleep(backoff)
					backoff = min(2*backoff, time.Second)
					continue
				}
				mu.Lock()
				if first.IsZero() {
					first = time.Now()
				}
				mu.Unlock()
				if err := c.setup(i, rec, true); err != nil {
					c.nc.Close()
					rec.fail(err)
					time.Sleep(backoff)
					continue
				}
				go c.readLoop(rec)
				conns[i] = c
				return
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(first)
	res.StormSeconds = elapsed.Seconds()
	res.StormLoginsSec = float64(cfg.conns) / elapsed.Seconds()
	res.Errors = rec.errors.Load()
	res.ErrorText = rec.errText
	res.ServerRSSKB, _ = procRSS(cfg.pid)
	for _, c := range conns {
		c.close()
	}
	return nil
}
