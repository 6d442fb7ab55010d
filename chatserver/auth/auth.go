// Package auth hashes passwords with argon2id under a concurrency bound, and
// makes and checks resume tokens.
//
// Password hashing is deliberately expensive, so a flood of logins could eat
// the machine's memory. Hasher lets at most Parallel hashes run at once and
// at most Queue callers wait; the rest are refused with ErrBusy at once.
// Resume tokens are random and stored as their SHA-256, so checking one is a
// single cheap lookup: thousands of clients can come back after a restart
// without hashing a password.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// ErrBusy is returned when too many password checks are already waiting.
var ErrBusy = errors.New("too many logins in progress")

// ErrMalformedHash is returned when a stored hash cannot be parsed.
var ErrMalformedHash = errors.New("malformed password hash")

// Params are argon2id's cost parameters.
type Params struct {
	Time      uint32 // passes
	MemoryKiB uint32
	Threads   uint8
}

// DefaultParams follow OWASP's argon2id guidance (19 MiB, 2 passes, 1 lane).
var DefaultParams = Params{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}

// DefaultQueue is how many password checks may wait for a free slot by
// default; more are refused at once, with ErrBusy.
const DefaultQueue = 256

// Hasher hashes and verifies passwords with at most Parallel at a time.
type Hasher struct {
	params  Params
	sem     chan struct{}
	waiting atomic.Int32
	queue   int32
}

// NewHasher returns a Hasher. parallel <= 0 means the number of CPUs; queue
// is how many callers may wait for a slot before ErrBusy.
func NewHasher(p Params, parallel, queue int) *Hasher {
	if parallel <= 0 {
		parallel = runtime.NumCPU()
	}
	if queue < 0 {
		queue = 0
	}
	return &Hasher{params: p, sem: make(chan struct{}, parallel), queue: int32(queue)}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.queue {
		h.waiting.Add(-1)
		return ErrBusy
	}
	defer h.waiting.Add(-1)
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *Hasher) release() { <-h.sem }

// Hash returns the PHC-style encoding of an argon2id hash of password with a
// fresh salt: $argon2id$v=19$m=…,t=…,p=…$salt$hash.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	salt := make([]byte, 16)
	rand.Read(salt)
	p := h.params
	sum := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(sum)), nil
}

// Verify reports whether password matches encoded, using the parameters
// recorded in encoded.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false, ErrMalformedHash
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	// Bounds keep a corrupt or hostile stored hash from costing more than
	// a login should.
	if err1 != nil || err2 != nil || len(want) == 0 || p.Time == 0 || p.Threads == 0 ||
		p.MemoryKiB > 1<<20 || p.Time > 64 {
		return false, ErrMalformedHash
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NewToken returns a random resume token and the hash to store for it.
func NewToken() (token string, hash []byte) {
	b := make([]byte, 32)
	rand.Read(b)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// HashToken returns the stored form of a resume token.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}
