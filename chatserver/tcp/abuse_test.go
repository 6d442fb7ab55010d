package tcp_test

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/shared/protocol"
)

// dialFrom is dialRaw from a given loopback address (Linux routes all of
// 127.0.0.0/8 to the loopback), so that one test can be several hosts.
func dialFrom(t testing.TB, from, addr string) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, r: protocol.NewReader(nc, 1<<20)}
}

// loginReply sends a password login and returns its reply.
func (c *client) loginReply(name, password string) *protocol.Frame {
	c.t.Helper()
	return c.reply(c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: name, Password: password}))
}

// withLoginLimits is the servers' default login limits, which the tests'
// servers otherwise lift.
func withLoginLimits(c *server.Config) { c.Logins = auth.Limits{} }

// A flood of wrong passwords from one address, with password hashing as
// costly as a real server's and one hash at a time, does not keep others
// out: a login and a registration from another address go through while
// it lasts, and the flood itself is told to wait rather than queued.
func TestLoginFloodFromOneAddressLocksNobodyOut(t *testing.T) {
	s := start(t, func(c *server.Config) {
		withLoginLimits(c)
		c.HashParams = auth.DefaultParams
		c.HashParallel = 1
	})
	// alice and the flood's victims register before the flood.
	for _, name := range []string{"alice", "victim0", "victim1", "victim2"} {
		c := dialFrom(t, "127.0.0.2", s.Addr())
		c.hello()
		if r := c.loginReply(name, "right"); r.Type != protocol.TypeOK {
			t.Fatalf("%s's registration: %+v", name, r)
		}
		c.nc.Close()
	}

	const flood = 300
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[string]int{}
	for i := range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dialFrom(t, "127.0.0.1", s.Addr())
			c.send(&protocol.Frame{Type: protocol.TypeHello, Version: protocol.Version})
			c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := c.r.ReadFrame(); err != nil {
				return
			}
			for {
				select {
				case <-stop:
					return
				default:
				}
				id := c.send(&protocol.Frame{Type: protocol.TypeLogin, Name: fmt.Sprintf("victim%d", i%3), Password: "guess"})
				var f *protocol.Frame
				for f == nil || f.Re != id {
					line, err := c.r.ReadFrame()
					if err != nil {
						return
					}
					f, _ = protocol.Decode(line)
				}
				mu.Lock()
				codes[f.Code]++
				mu.Unlock()
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(f.RetryMS) * time.Millisecond):
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(200 * time.Millisecond) // the flood is under way

	for _, who := range []struct{ name, from string }{{"alice", "127.0.0.2"}, {"newcomer", "127.0.0.3"}} {
		c := dialFrom(t, who.from, s.Addr())
		c.hello()
		if r := c.loginReply(who.name, "right"); r.Type != protocol.TypeOK {
			t.Errorf("%s's login from %s during the flood: %s %s", who.name, who.from, r.Code, r.Message)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if codes[protocol.CodeBusy] > 0 {
		t.Errorf("the flood filled the password queue: %d server_busy replies (replies by code: %v)", codes[protocol.CodeBusy], codes)
	}
	if codes[protocol.CodeRateLimited] == 0 {
		t.Errorf("the flood was never told to wait (replies by code: %v)", codes)
	}
	t.Logf("replies to the flood by code: %v", codes)
}

// Guessing at one account from one address is slowed down at once: of a
// hundred guesses as fast as they can be sent, only the first few are
// checked, and the refusals say how long to wait. The account's owner,
// from elsewhere, is not locked out.
func TestPasswordGuessingIsSlowed(t *testing.T) {
	s := start(t, withLoginLimits)
	owner := dialFrom(t, "127.0.0.2", s.Addr())
	owner.hello()
	owner.loginReply("alice", "right")
	owner.nc.Close()

	c := dialFrom(t, "127.0.0.1", s.Addr())
	c.hello()
	checked, waited := 0, 0
	for i := range 100 {
		r := c.loginReply("alice", fmt.Sprintf("guess%d", i))
		switch r.Code {
		case protocol.CodeBadCredentials:
			checked++
		case protocol.CodeRateLimited:
			if r.RetryMS <= 0 {
				t.Fatalf("a refusal without a wait: %+v", r)
			}
			waited++
		default:
			t.Fatalf("guess %d: %+v", i, r)
		}
	}
	if checked > 5 {
		t.Errorf("%d of 100 quick guesses were checked; want the first few only", checked)
	}
	t.Logf("%d guesses checked, %d told to wait", checked, waited)
	owner = dialFrom(t, "127.0.0.2", s.Addr())
	owner.hello()
	if r := owner.loginReply("alice", "right"); r.Type != protocol.TypeOK {
		t.Errorf("the owner's login from elsewhere: %s %s", r.Code, r.Message)
	}
}

// One address registers a handful of accounts, not hundreds; another
// address still registers.
func TestRegistrationsFromOneAddressAreBounded(t *testing.T) {
	s := start(t, withLoginLimits)
	c := dialFrom(t, "127.0.0.1", s.Addr())
	c.hello()
	made := 0
	for i := range 40 {
		r := c.loginReply(fmt.Sprintf("spam%03d", i), "pw")
		if r.Type == protocol.TypeOK {
			made++
			// Log out so that the next login starts afresh.
			c.nc.Close()
			c = dialFrom(t, "127.0.0.1", s.Addr())
			c.hello()
			continue
		}
		if r.Code != protocol.CodeRateLimited || r.RetryMS <= 0 {
			t.Fatalf("registration %d: %+v", i, r)
		}
	}
	if made != 20 {
		t.Errorf("one address registered %d accounts; the default limit is 20", made)
	}
	other := dialFrom(t, "127.0.0.2", s.Addr())
	other.hello()
	if r := other.loginReply("someone", "pw"); r.Type != protocol.TypeOK {
		t.Errorf("a registration from another address: %s %s", r.Code, r.Message)
	}
}

// History pages and joins are bounded per connection, as they read the
// store: past the burst, they are refused with a wait, the connection is
// not closed for it, and another connection reads on.
func TestHistoryReadsAreBounded(t *testing.T) {
	s := start(t, func(c *server.Config) { c.ReadRate = session.DefaultReadRate })
	reader, other := login(t, s.Addr(), "reader"), login(t, s.Addr(), "other")
	served, refused := 0, 0
	for range session.DefaultReadBurst + 10 {
		r := reader.reply(reader.send(&protocol.Frame{Type: protocol.TypeHistory}))
		switch {
		case r.Type == protocol.TypeOK:
			served++
		case r.Code == protocol.CodeRateLimited && r.RetryMS > 0:
			refused++
		default:
			t.Fatalf("history: %+v", r)
		}
	}
	if served < session.DefaultReadBurst || served > session.DefaultReadBurst+2 || refused == 0 {
		t.Errorf("%d pages served and %d refused at once; want the burst of %d and then refusals", served, refused, session.DefaultReadBurst)
	}
	if r := reader.reply(reader.send(&protocol.Frame{Type: protocol.TypePing})); r.Type != protocol.TypeOK {
		t.Errorf("the reader's connection after its refusals: %+v", r)
	}
	if r := other.reply(other.send(&protocol.Frame{Type: protocol.TypeHistory})); r.Type != protocol.TypeOK {
		t.Errorf("another connection's history: %+v", r)
	}
}
