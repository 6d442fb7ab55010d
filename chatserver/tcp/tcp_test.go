package tcp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/chatserver/tcp"
	"github.com/parley-chat/parley/shared/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func start(t testing.TB, mod func(*server.Config)) *server.Server {
	t.Helper()
	return servertest.Start(t, mod)
}

// client is a raw protocol client for tests.
type client struct {
	t  testing.TB
	nc net.Conn
	r  *protocol.Reader
	id uint64
}

func dialRaw(t testing.TB, addr string) *client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, r: protocol.NewReader(nc, 1<<20)}
}

func (c *client) raw(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) send(f *protocol.Frame) uint64 {
	c.t.Helper()
	if protocol.IsRequest(f.Type) && f.ID == 0 {
		c.id++
		f.ID = c.id
	}
	c.raw(string(protocol.Encode(f)))
	return f.ID
}

// read returns the next frame, or fails the test after a generous limit.
func (c *client) read() *protocol.Frame {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := c.r.ReadFrame()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	f, err := protocol.Decode(line)
	if err != nil {
		c.t.Fatalf("decode %q: %v", line, err)
	}
	return f
}

func (c *client) until(ok func(*protocol.Frame) bool) *protocol.Frame {
	c.t.Helper()
	for {
		if f := c.read(); ok(f) {
			return f
		}
	}
}

func (c *client) reply(id uint64) *protocol.Frame {
	c.t.Helper()
	return c.until(func(f *protocol.Frame) bool {
		return (f.Type == protocol.TypeOK || f.Type == protocol.TypeError) && f.Re == id
	})
}

// eof waits for the server to close the connection and returns the bye
// frame it sent first, if any.
func (c *client) eof() *protocol.Frame {
	c.t.Helper()
	var bye *protocol.Frame
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		line, err := c.r.ReadFrame()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.t.Fatal("the server did not close the connection")
			}
			return bye
		}
		if f, err := protocol.Decode(line); err == nil && f.Type == protocol.TypeBye {
			bye = f
		}
	}
}

func (c *client) hello() *protocol.Frame {
	c.t.Helper()
	c.send(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version, Client: "test"})
	w := c.read()
	if w.Type != protocol.TypeWelcome {
		c.t.Fatalf("expected welcome, got %+v", w)
	}
	return w
}

func login(t testing.TB, addr, name string) *client {
	t.Helper()
	c := dialRaw(t, addr)
	c.hello()
	id := c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: name, Password: "pw"})
	if r := c.reply(id); r.Type != protocol.TypeOK {
		t.Fatalf("login %s: %+v", name, r)
	}
	return c
}

func TestHandshake(t *testing.T) {
	s := start(t, func(c *server.Config) { c.FilesURL = "http://{host}:7780" })
	c := dialRaw(t, s.Addr())
	// Requests before hello and login are refused, and the connection lives.
	id := c.send(&protocol.Frame{Type: protocol.TypeRooms})
	if r := c.reply(id); r.Code != protocol.CodeBadRequest {
		t.Errorf("request before hello: %+v", r)
	}
	w := c.hello()
	if w.Version != protocol.Version || w.Limits == nil || w.Limits.Frame != protocol.DefaultMaxFrame || w.Limits.Text != protocol.MaxTextBytes {
		t.Errorf("welcome %+v limits %+v", w, w.Limits)
	}
	if w.FilesURL != "http://127.0.0.1:7780" {
		t.Errorf("files_url %q, want the address the client reached", w.FilesURL)
	}
	id = c.send(&protocol.Frame{Type: protocol.TypeRooms})
	if r := c.reply(id); r.Code != protocol.CodeNotLoggedIn {
		t.Errorf("request before login: %+v", r)
	}
	id = c.send(&protocol.Frame{Type: protocol.TypePing})
	if r := c.reply(id); r.Type != protocol.TypeOK {
		t.Errorf("ping before login: %+v", r)
	}
	id = c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "bad name", Password: "x"})
	if r := c.reply(id); r.Code != protocol.CodeBadName {
		t.Errorf("bad name: %+v", r)
	}
	id = c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "ok", Password: "x"})
	if r := c.reply(id); r.Type != protocol.TypeOK || r.Token == "" {
		t.Errorf("login: %+v", r)
	}
}

func TestBadVersion(t *testing.T) {
	s := start(t, nil)
	c := dialRaw(t, s.Addr())
	c.send(&protocol.Frame{Type: protocol.TypeHello, Version: 99})
	if r := c.read(); r.Type != protocol.TypeError || r.Code != protocol.CodeBadVersion {
		t.Errorf("hello with version 99: %+v", r)
	}
	if bye := c.eof(); bye == nil || bye.Code != protocol.CodeBadVersion {
		t.Errorf("bye %+v", bye)
	}
}

// Malformed frames get an error reply and the connection lives; frames
// split across many writes, and several frames in one write, are read as
// frames.
func TestMalformedAndSplitFrames(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "alice")
	for _, bad := range []string{"not json\n", "[1,2]\n", "{}\n", `{"type":42}` + "\n", `{"type":"send","id":"x"}` + "\n", "\xff\xfe\n"} {
		c.raw(bad)
		r := c.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeError })
		if r.Type != protocol.TypeError || r.Code != protocol.CodeBadFrame {
			t.Errorf("%q: %+v", bad, r)
		}
	}
	c.raw(`{"type":"teleport","id":7}` + "\n")
	if r := c.reply(7); r.Code != protocol.CodeUnknownType {
		t.Errorf("unknown type: %+v", r)
	}
	c.raw(`{"type":"send","text":"no id"}` + "\n")
	if r := c.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypeError }); r.Code != protocol.CodeBadRequest {
		t.Errorf("request without id: %+v", r)
	}
	// One frame in three writes, then two frames in one write.
	frame := string(protocol.Encode(&protocol.Frame{Type: protocol.TypeSend, ID: 50, Text: "split"}))
	for _, part := range []string{frame[:5], frame[5:17], frame[17:]} {
		c.raw(part)
		time.Sleep(10 * time.Millisecond) // let each part go out on its own
	}
	if r := c.reply(50); r.Type != protocol.TypeOK {
		t.Errorf("split frame: %+v", r)
	}
	two := string(protocol.Encode(&protocol.Frame{Type: protocol.TypePing, ID: 51})) +
		"\r\n\n" + string(protocol.Encode(&protocol.Frame{Type: protocol.TypePing, ID: 52}))
	c.raw(two)
	if r := c.reply(51); r.Type != protocol.TypeOK {
		t.Errorf("first of two: %+v", r)
	}
	if r := c.reply(52); r.Type != protocol.TypeOK {
		t.Errorf("second of two: %+v", r)
	}
}

func TestOversizeFrameCloses(t *testing.T) {
	s := start(t, func(c *server.Config) { c.Limits.Frame = 1024 })
	c := login(t, s.Addr(), "alice")
	c.raw(`{"type":"send","id":1,"text":"` + strings.Repeat("a", 2000) + `"}` + "\n")
	if bye := c.eof(); bye == nil || bye.Code != protocol.CodeFrameTooLarge {
		t.Errorf("bye %+v", bye)
	}
	// The server lives on.
	login(t, s.Addr(), "bob")
}

func TestHandshakeTimeout(t *testing.T) {
	s := start(t, func(c *server.Config) { c.HandshakeTimeout = 200 * time.Millisecond })
	c := dialRaw(t, s.Addr())
	c.hello()
	if bye := c.eof(); bye == nil || bye.Code != protocol.CodeHandshakeTimeout {
		t.Errorf("bye %+v", bye)
	}
}

func TestIdlePingAndTimeout(t *testing.T) {
	s := start(t, func(c *server.Config) {
		c.PingInterval = 100 * time.Millisecond
		c.PingTimeout = 100 * time.Millisecond
	})
	// A client that answers pings stays.
	good := login(t, s.Addr(), "good")
	for range 3 {
		good.until(func(f *protocol.Frame) bool { return f.Type == protocol.TypePing })
		good.send(&protocol.Frame{Type: protocol.TypePong})
	}
	id := good.send(&protocol.Frame{Type: protocol.TypePing})
	if r := good.reply(id); r.Type != protocol.TypeOK {
		t.Errorf("after pongs: %+v", r)
	}
	// One that does not is closed with ping_timeout.
	mute := login(t, s.Addr(), "mute")
	if bye := mute.eof(); bye == nil || bye.Code != protocol.CodePingTimeout {
		t.Errorf("bye %+v", bye)
	}
}

func TestRateLimitAndFlood(t *testing.T) {
	s := start(t, func(c *server.Config) { c.Limits = protocol.Limits{RatePerSec: 1, RateBurst: 3} })
	c := dialRaw(t, s.Addr())
	c.hello() // uses one token
	var limited int
	for i := 0; ; i++ {
		id := c.send(&protocol.Frame{Type: protocol.TypePing})
		c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := c.r.ReadFrame()
		if err != nil {
			break // closed for flooding
		}
		f, _ := protocol.Decode(line)
		if f.Type == protocol.TypeBye {
			if f.Code != protocol.CodeFlood {
				t.Errorf("bye %+v", f)
			}
			break
		}
		if f.Re == id && f.Code == protocol.CodeRateLimited {
			limited++
			// One token a second: the wait is at most that, and never 0.
			if f.RetryMS <= 0 || f.RetryMS > 1000 {
				t.Errorf("rate_limited with retry_ms %d, want 1-1000", f.RetryMS)
			}
		}
		if i > 1000 {
			t.Fatal("a flooding client was never disconnected")
		}
	}
	if limited == 0 {
		t.Error("no request was refused with rate_limited")
	}
	stats := s.Stats()
	found := false
	for _, r := range stats.Closed {
		found = found || r.Reason == protocol.CodeFlood
	}
	if !found {
		t.Errorf("flood not counted: %+v", stats)
	}
}

// A client that stops reading is disconnected as a slow consumer, and the
// others in the room get every message meanwhile, whether they share its
// flusher or not.
func TestSlowConsumerDoesNotStallOthers(t *testing.T) {
	for _, flushers := range []int{1, 3} {
		t.Run(fmt.Sprintf("flushers=%d", flushers), func(t *testing.T) {
			slowConsumerDoesNotStallOthers(t, flushers, false)
		})
	}
}

func slowConsumerDoesNotStallOthers(t *testing.T, flushers int, shed bool) {
	s := start(t, func(c *server.Config) { c.MaxQueue, c.Flushers = 256<<10, flushers })
	// A small receive buffer, set before connecting so that the window
	// stays small, makes the backlog pile up on the server quickly.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	nc, err := d.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	frozen := &client{t: t, nc: nc, r: protocol.NewReader(nc, 1<<20)}
	frozen.hello()
	id := frozen.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "frozen", Password: "pw"})
	frozen.reply(id)
	// frozen now reads nothing more.
	if shed {
		waitStats(t, s, "the frozen connection shed", func(st tcp.Stats) bool { return st.Shed == 1 })
	}

	reader := login(t, s.Addr(), "reader")
	sender := login(t, s.Addr(), "sender")
	text := strings.Repeat("x", 3000)
	const n = 3000 // 9 MB: far more than the queue and the socket buffers hold
	received := make(chan int)
	go func() {
		got := 0
		reader.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
		for got < n {
			line, err := reader.r.ReadFrame()
			if err != nil {
				break
			}
			if bytes.Contains(line, []byte(`"type":"message"`)) {
				got++
			}
		}
		received <- got
	}()
	// The sender reads its echoes and replies as they come, and keeps at
	// most a window of requests unanswered.
	acked := make(chan uint64, n)
	go func() {
		sender.nc.SetReadDeadline(time.Now().Add(60 * time.Second))
		for {
			line, err := sender.r.ReadFrame()
			if err != nil {
				close(acked)
				return
			}
			if f, _ := protocol.Decode(line); f != nil && f.Type == protocol.TypeOK {
				acked <- f.Re
			}
		}
	}()
	const window = 20
	for i := range n {
		if i >= window {
			if _, ok := <-acked; !ok {
				t.Fatal("the sender was disconnected")
			}
		}
		sender.send(&protocol.Frame{Type: protocol.TypeSend, Text: text})
	}
	if got := <-received; got != n {
		t.Errorf("the reading client got %d of %d messages", got, n)
	}
	frozen.eof()
	var slow bool
	for _, r := range s.Stats().Closed {
		slow = slow || r.Reason == protocol.CodeSlowConsumer
	}
	if !slow {
		t.Errorf("the frozen client was not closed as a slow consumer: %+v", s.Stats())
	}
}

func TestShutdownTellsClients(t *testing.T) {
	s := start(t, nil)
	c := login(t, s.Addr(), "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	if bye := c.eof(); bye == nil || bye.Code != protocol.CodeShutdown {
		t.Errorf("bye %+v", bye)
	}
	if err := <-done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if _, err := net.Dial("tcp", s.Addr()); err == nil {
		t.Error("still accepting after shutdown")
	}
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	s := start(t, func(c *server.Config) { c.TLSCert, c.TLSKey = certFile, keyFile })

	// Plain TCP gets nowhere.
	plain := dialRaw(t, s.Addr())
	plain.send(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version})
	plain.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := plain.r.ReadFrame(); err == nil {
		if f, _ := protocol.Decode(line); f != nil && f.Type == protocol.TypeWelcome {
			t.Error("a plain-text client was welcomed on a TLS port")
		}
	}

	nc, err := tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := &client{t: t, nc: nc, r: protocol.NewReader(nc, 1<<20)}
	c.hello()
	id := c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: "secure", Password: "pw"})
	if r := c.reply(id); r.Type != protocol.TypeOK {
		t.Fatalf("login over TLS: %+v", r)
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "parley test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// waitStats waits, up to a generous limit, for the server's statistics to
// satisfy ok.
func waitStats(t *testing.T, s *server.Server, what string, ok func(tcp.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(s.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened; %+v", what, s.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
