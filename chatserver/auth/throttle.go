package auth

import (
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"
)

// Limits bound password logins, so that a flood of them from one place
// cannot keep everyone else out and a guesser cannot try passwords
// quickly. The zero value of a field means its default; a negative
// PerMinute or Registrations means no limit (for load tests). Resume
// tokens are never limited: a client that has one, as every client does
// after its first login, reconnects whatever others are doing.
type Limits struct {
	// InFlight is how many password checks one address, and one
	// account, may have in progress at once (default 2).
	InFlight int
	// PerMinute is how many password checks an address may start a
	// minute, with as many at once (default 60). An account may have
	// half as many, from all addresses together. Negative lifts these
	// bounds and InFlight's; the waits after wrong passwords remain.
	PerMinute int
	// Registrations is how many new accounts an address may register an
	// hour, with as many at once (default 20).
	Registrations int
	// Entries bounds the addresses and accounts remembered (default
	// 100,000); the ones quiet longest are forgotten first.
	Entries int
}

// The failure delays. After a few wrong passwords each further one
// doubles the wait before the next try, up to a cap, and one failure is
// forgiven for each forgive that passes. An address and account
// together get the strictest; an address, guessing at many accounts,
// more room; an account, from everywhere at once, the shortest cap, so
// that its owner, logging in afresh while strangers guess at it, waits a
// minute at most.
var (
	pairDelays    = delays{free: 3, cap: 15 * time.Minute}
	addressDelays = delays{free: 20, cap: 15 * time.Minute}
	accountDelays = delays{free: 10, cap: time.Minute}
)

type delays struct {
	free int           // failures before any delay
	cap  time.Duration // the longest delay
}

const (
	firstDelay = time.Second
	forgive    = time.Minute
)

func (l *Limits) setDefaults() {
	if l.InFlight <= 0 {
		l.InFlight = 2
	}
	if l.PerMinute == 0 {
		l.PerMinute = 60
	}
	if l.Registrations == 0 {
		l.Registrations = 20
	}
	if l.Entries <= 0 {
		l.Entries = 100_000
	}
}

// Throttle applies Limits. It is safe for concurrent use.
type Throttle struct {
	lim Limits
	now func() time.Time

	mu      sync.Mutex
	entries map[string]*entry
	sweepAt int // sweep when entries grows past this
}

// entry is what is remembered of one address, account, or address and
// account together (the kinds have their own key prefixes).
type entry struct {
	inFlight int
	checks   bucket // password checks started
	regs     bucket // registrations
	failures float64
	failedAt time.Time
	until    time.Time // no password check before this
	used     time.Time
}

// bucket is a token bucket that fills at rate tokens a second up to size.
type bucket struct {
	tokens float64
	at     time.Time
	set    bool
}

func (b *bucket) take(now time.Time, size, perSec float64) (time.Duration, bool) {
	if !b.set {
		b.tokens, b.at, b.set = size, now, true
	}
	b.tokens = math.Min(size, b.tokens+now.Sub(b.at).Seconds()*perSec)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / perSec * float64(time.Second)), false
}

// NewThrottle returns a Throttle with the limits l; now is the clock (nil
// means time.Now).
func NewThrottle(l Limits, now func() time.Time) *Throttle {
	l.setDefaults()
	if now == nil {
		now = time.Now
	}
	return &Throttle{lim: l, now: now, entries: make(map[string]*entry), sweepAt: min(1024, l.Entries)}
}

// Refusal says why a login was not checked, and when to try again.
type Refusal struct {
	Message string
	Retry   time.Duration
}

// Outcome is how a password check ended.
type Outcome int

// Outcomes.
const (
	Passed     Outcome = iota // the password was right, or registered the name
	Failed                    // the password was wrong
	Unfinished                // the check did not happen: the server was busy, say
)

// Begin asks to check a password for account (its comparison key) from
// addr. If the check may go ahead, it returns a function to call with
// its outcome, once; otherwise a refusal.
func (t *Throttle) Begin(addr netip.Addr, account string) (func(Outcome), *Refusal) {
	now := t.now()
	src := sourceKey(addr)
	t.mu.Lock()
	defer t.mu.Unlock()
	a, acc, pair := t.get("a"+src, now), t.get("u"+account, now), t.get("p"+src+" "+account, now)
	if wait := latest(now, a.until, acc.until, pair.until); wait > 0 {
		return nil, &Refusal{Retry: wait,
			Message: fmt.Sprintf("too many wrong passwords; try again in %s", roundUp(wait))}
	}
	if t.lim.PerMinute > 0 && (a.inFlight >= t.lim.InFlight || acc.inFlight >= t.lim.InFlight) {
		return nil, &Refusal{Retry: firstDelay,
			Message: "a login from here is being checked already; try again in a moment"}
	}
	if t.lim.PerMinute > 0 {
		per := float64(t.lim.PerMinute)
		if wait, ok := a.checks.take(now, per, per/60); !ok {
			return nil, &Refusal{Retry: wait,
				Message: fmt.Sprintf("too many logins from here; try again in %s", roundUp(wait))}
		}
		if wait, ok := acc.checks.take(now, per/2, per/120); !ok {
			return nil, &Refusal{Retry: wait,
				Message: fmt.Sprintf("too many logins to this account; try again in %s", roundUp(wait))}
		}
	}
	a.inFlight++
	acc.inFlight++
	var once sync.Once
	return func(o Outcome) {
		once.Do(func() { t.end(a, acc, pair, o) })
	}, nil
}

func (t *Throttle) end(a, acc, pair *entry, o Outcome) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	a.inFlight--
	acc.inFlight--
	switch o {
	case Passed:
		pair.failures, pair.until = 0, time.Time{}
		acc.failures, acc.until = 0, time.Time{}
	case Failed:
		pair.fail(now, pairDelays)
		a.fail(now, addressDelays)
		acc.fail(now, accountDelays)
	}
}

// fail records a failure and sets the delay it earns.
func (e *entry) fail(now time.Time, d delays) {
	e.failures = math.Max(0, e.failures-now.Sub(e.failedAt).Seconds()/forgive.Seconds()) + 1
	e.failedAt = now
	over := int(math.Ceil(e.failures-1e-9)) - d.free
	if over <= 0 {
		return
	}
	wait := d.cap
	if over < 32 {
		wait = min(d.cap, firstDelay<<(over-1))
	}
	e.until = now.Add(wait)
}

// Register asks to register a new account from addr.
func (t *Throttle) Register(addr netip.Addr) *Refusal {
	if t.lim.Registrations < 0 {
		return nil
	}
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	per := float64(t.lim.Registrations)
	if wait, ok := t.get("a"+sourceKey(addr), now).regs.take(now, per, per/3600); !ok {
		return &Refusal{Retry: wait,
			Message: fmt.Sprintf("too many new accounts from here; try again in %s, or log in to an account you have", roundUp(wait))}
	}
	return nil
}

// get returns the entry of key, made if need be. t.mu is held.
func (t *Throttle) get(key string, now time.Time) *entry {
	e := t.entries[key]
	if e == nil {
		if len(t.entries) >= t.sweepAt {
			t.sweep(now)
		}
		e = &entry{}
		t.entries[key] = e
	}
	e.used = now
	return e
}

// sweep forgets entries that hold nothing any more: no check in
// progress, no delay to serve, and an hour unused, by when their buckets
// are full again. If that leaves too many, others go too, but never one
// with a check in progress or a delay to serve.
func (t *Throttle) sweep(now time.Time) {
	for k, e := range t.entries {
		if e.inFlight == 0 && !now.Before(e.until) && now.Sub(e.used) > time.Hour {
			delete(t.entries, k)
		}
	}
	if len(t.entries) >= t.lim.Entries {
		for k, e := range t.entries {
			if len(t.entries) < t.lim.Entries*3/4 {
				break
			}
			if e.inFlight == 0 && !now.Before(e.until) {
				delete(t.entries, k)
			}
		}
	}
	t.sweepAt = min(max(1024, 2*len(t.entries)), t.lim.Entries)
}

// sourceKey groups addresses as one source: an IPv4 address, or an IPv6
// /64, which is what one household or machine usually gets.
func sourceKey(addr netip.Addr) string {
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func latest(now time.Time, ts ...time.Time) time.Duration {
	var wait time.Duration
	for _, t := range ts {
		wait = max(wait, t.Sub(now))
	}
	return wait
}

// roundUp formats a wait in whole seconds, at least one.
func roundUp(d time.Duration) time.Duration {
	return max(time.Second, (d + time.Second - 1).Truncate(time.Second))
}
