package auth

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestThrottle(l Limits) (*Throttle, *fakeClock) {
	c := &fakeClock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	return NewThrottle(l, c.now), c
}

var (
	home  = netip.MustParseAddr("192.0.2.7")
	other = netip.MustParseAddr("198.51.100.9")
)

// try begins a check and ends it at once with o; it reports the refusal.
func try(th *Throttle, addr netip.Addr, account string, o Outcome) *Refusal {
	done, r := th.Begin(addr, account)
	if r == nil {
		done(o)
	}
	return r
}

// Wrong passwords earn a wait that doubles with each one after the
// first few; the wait is said, and a success from the same place ends it.
func TestFailuresDelayTheNextTry(t *testing.T) {
	th, clk := newTestThrottle(Limits{})
	for i := range pairDelays.free {
		if r := try(th, home, "alice", Failed); r != nil {
			t.Fatalf("free failure %d refused: %+v", i+1, r)
		}
	}
	// The next failure earns a second's wait, the one after two, then four.
	for _, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		if r := try(th, home, "alice", Failed); r != nil {
			t.Fatalf("a try after waiting was refused: %+v", r)
		}
		r := try(th, home, "alice", Passed)
		if r == nil || r.Retry != want {
			t.Fatalf("right after a failure: refusal %+v, want a wait of %v", r, want)
		}
		clk.add(want)
	}
	// A right password after the wait ends the delays for the account.
	if r := try(th, home, "alice", Passed); r != nil {
		t.Fatalf("the right password after the wait: %+v", r)
	}
	if r := try(th, home, "alice", Failed); r != nil {
		t.Fatalf("a failure after a success was delayed: %+v", r)
	}
}

// Guessing at one account from many places slows down for every one of
// them, but never for more than a minute; the account's owner can still
// get in within that.
func TestGuessingFromManyAddressesIsSlowedAtTheAccount(t *testing.T) {
	th, clk := newTestThrottle(Limits{})
	guesses := 0
	for i := range 200 {
		addr := netip.AddrFrom4([4]byte{10, 0, byte(i / 256), byte(i)})
		if try(th, addr, "alice", Failed) == nil {
			guesses++
		}
	}
	if guesses > accountDelays.free+1 {
		t.Errorf("%d guesses at once from 200 addresses got through; want at most %d", guesses, accountDelays.free+1)
	}
	r := try(th, home, "alice", Passed)
	if r == nil || r.Retry > accountDelays.cap {
		t.Fatalf("the owner's login: %+v; want a wait of at most %v", r, accountDelays.cap)
	}
	clk.add(r.Retry)
	if r := try(th, home, "alice", Passed); r != nil {
		t.Errorf("the owner's login after the wait: %+v", r)
	}
	// Another account is not held up by guessing at alice's.
	if r := try(th, other, "bob", Passed); r != nil {
		t.Errorf("bob's login: %+v", r)
	}
}

// One address has at most InFlight checks at a time; another address is
// not held up by them.
func TestChecksInFlightPerAddress(t *testing.T) {
	th, _ := newTestThrottle(Limits{InFlight: 2})
	var dones []func(Outcome)
	for i := range 2 {
		done, r := th.Begin(home, fmt.Sprintf("user%d", i))
		if r != nil {
			t.Fatalf("check %d refused: %+v", i, r)
		}
		dones = append(dones, done)
	}
	if _, r := th.Begin(home, "user9"); r == nil || r.Retry <= 0 {
		t.Fatalf("a third check at once from one address: %+v, want a refusal with a wait", r)
	}
	if r := try(th, other, "bob", Passed); r != nil {
		t.Fatalf("another address was refused: %+v", r)
	}
	dones[0](Unfinished)
	dones[0](Unfinished) // a second call changes nothing
	if _, r := th.Begin(home, "user9"); r != nil {
		t.Fatalf("after one ended: %+v", r)
	}
	if _, r := th.Begin(home, "user8"); r == nil {
		t.Fatal("ending one check twice freed two places")
	}
}

func TestChecksPerMinute(t *testing.T) {
	th, clk := newTestThrottle(Limits{PerMinute: 10})
	for i := range 10 {
		if r := try(th, home, fmt.Sprintf("u%d", i), Passed); r != nil {
			t.Fatalf("check %d: %+v", i, r)
		}
	}
	r := try(th, home, "u10", Passed)
	if r == nil || r.Retry <= 0 || r.Retry > 6*time.Second {
		t.Fatalf("the 11th check in a minute: %+v; want a wait of about 6s", r)
	}
	clk.add(r.Retry)
	if r := try(th, home, "u10", Passed); r != nil {
		t.Fatalf("after the wait: %+v", r)
	}
	// No limit at all when it is negative, not even on checks at once.
	th, _ = newTestThrottle(Limits{PerMinute: -1, InFlight: 1})
	for i := range 1000 {
		if _, r := th.Begin(home, fmt.Sprintf("u%d", i%3)); r != nil {
			t.Fatalf("check %d with no limit: %+v", i, r)
		}
	}
}

func TestRegistrationsPerAddress(t *testing.T) {
	th, clk := newTestThrottle(Limits{Registrations: 5})
	for i := range 5 {
		if r := th.Register(home); r != nil {
			t.Fatalf("registration %d: %+v", i, r)
		}
	}
	r := th.Register(home)
	if r == nil || r.Retry <= 0 || r.Retry > 12*time.Minute {
		t.Fatalf("the 6th registration in an hour: %+v; want a wait of about 12 minutes", r)
	}
	if r := th.Register(other); r != nil {
		t.Fatalf("another address: %+v", r)
	}
	clk.add(r.Retry)
	if r := th.Register(home); r != nil {
		t.Fatalf("after the wait: %+v", r)
	}
}

// IPv6 addresses count by their /64, which one machine or household
// usually has whole; IPv4-mapped ones count as IPv4.
func TestSourceKey(t *testing.T) {
	for _, tt := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
	} {
		if ka, kb := sourceKey(netip.MustParseAddr(tt.a)), sourceKey(netip.MustParseAddr(tt.b)); ka != kb {
			t.Errorf("%s and %s count apart: %s, %s", tt.a, tt.b, ka, kb)
		}
	}
	if sourceKey(netip.MustParseAddr("2001:db8:1:2::1")) == sourceKey(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Error("two /64s count as one")
	}
}

// The throttle forgets what it no longer needs, and holds no more than
// Entries, but never forgets a delay still to be served.
func TestThrottleMemoryIsBounded(t *testing.T) {
	th, clk := newTestThrottle(Limits{Entries: 2000})
	for range pairDelays.free + 1 {
		try(th, home, "alice", Failed)
	}
	for i := range 20_000 {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		try(th, addr, "bob", Passed)
		if i%1000 == 0 {
			clk.add(time.Millisecond)
		}
	}
	th.mu.Lock()
	n := len(th.entries)
	th.mu.Unlock()
	if n > 2000 {
		t.Errorf("%d entries remembered; the bound is 2000", n)
	}
	if r := try(th, home, "alice", Passed); r == nil {
		t.Error("the delay earned by alice's guesser was forgotten")
	}
}
