package auth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"

	"github.com/parley-chat/parley/chatserver/auth"
)

// fast are parameters cheap enough for tests.
var fast = auth.Params{Time: 1, MemoryKiB: 64, Threads: 1}

var encoded = regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h := auth.NewHasher(fast, 2, 4)
	for _, pw := range []string{"correct horse battery staple", "密码🔑", "", " spaces "} {
		enc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatalf("Hash(%q): %v", pw, err)
		}
		if !encoded.MatchString(enc) {
			t.Errorf("Hash(%q) = %q; not in the argon2id format", pw, enc)
		}
		ok, err := h.Verify(ctx, pw, enc)
		if err != nil || !ok {
			t.Errorf("Verify(%q) of its own hash = %v, %v", pw, ok, err)
		}
		for _, wrong := range []string{pw + "x", "x" + pw, "Correct horse battery staple", "密码"} {
			if wrong == pw {
				continue
			}
			ok, err := h.Verify(ctx, wrong, enc)
			if err != nil || ok {
				t.Errorf("Verify(%q) against the hash of %q = %v, %v; want false", wrong, pw, ok, err)
			}
		}
	}
}

func TestHashesAreSalted(t *testing.T) {
	h := auth.NewHasher(fast, 1, 1)
	a, err1 := h.Hash(context.Background(), "same")
	b, err2 := h.Hash(context.Background(), "same")
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if a == b {
		t.Errorf("two hashes of one password are equal: %s", a)
	}
}

// TestVerifyKnownHash checks Verify against a hash made with argon2
// directly, with other parameters than the Hasher's own.
func TestVerifyKnownHash(t *testing.T) {
	salt := []byte("0123456789abcdef")
	sum := argon2.IDKey([]byte("hunter2"), salt, 2, 32, 2, 24)
	b64 := base64.RawStdEncoding
	enc := fmt.Sprintf("$argon2id$v=19$m=32,t=2,p=2$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(sum))
	h := auth.NewHasher(auth.DefaultParams, 1, 0)
	if ok, err := h.Verify(context.Background(), "hunter2", enc); err != nil || !ok {
		t.Errorf("Verify(hunter2) = %v, %v; want true", ok, err)
	}
	if ok, err := h.Verify(context.Background(), "hunter3", enc); err != nil || ok {
		t.Errorf("Verify(hunter3) = %v, %v; want false", ok, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	h := auth.NewHasher(fast, 1, 0)
	good, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	const salt, sum = "MDEyMzQ1Njc4OWFiY2RlZg", "aGFzaGhhc2hoYXNoaGFzaA"
	for _, enc := range []string{
		"",
		"pw",
		"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + sum,
		"$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=18$m=64,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=x$m=64,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + sum,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + sum,
		"$argon2id$v=19$m=-1,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1,p=1$!!!$" + sum,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$!!!",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + sum + "=",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt,
		good + "$extra",
		good[1:],
	} {
		ok, err := h.Verify(context.Background(), "pw", enc)
		if !errors.Is(err, auth.ErrMalformedHash) || ok {
			t.Errorf("Verify against %q = %v, %v; want ErrMalformedHash", enc, ok, err)
		}
	}
}

// TestConcurrentHashes runs more hashes at once than the bound allows:
// each either succeeds or is refused with ErrBusy, and the race detector
// watches the bookkeeping.
func TestConcurrentHashes(t *testing.T) {
	h := auth.NewHasher(fast, 1, 0)
	const n = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	results := make([]error, n)
	hashes := make([]string, n)
	for i := range n {
		wg.Go(func() {
			<-start
			hashes[i], results[i] = h.Hash(context.Background(), "pw")
		})
	}
	close(start)
	wg.Wait()
	succeeded := 0
	for i, err := range results {
		switch {
		case err == nil:
			succeeded++
			if ok, err := h.Verify(context.Background(), "pw", hashes[i]); err != nil || !ok {
				t.Errorf("a hash made concurrently does not verify: %v, %v", ok, err)
			}
		case !errors.Is(err, auth.ErrBusy):
			t.Errorf("Hash: %v; want success or ErrBusy", err)
		}
	}
	if succeeded == 0 {
		t.Errorf("no hash succeeded")
	}
	// With everything finished, the next one gets the slot.
	if _, err := h.Hash(context.Background(), "pw"); err != nil {
		t.Errorf("Hash after the others finished: %v", err)
	}
}

func TestNewToken(t *testing.T) {
	tok, hash := auth.NewToken()
	if len(tok) != 43 || !regexp.MustCompile(`^[A-Za-z0-9_-]+$`).MatchString(tok) {
		t.Errorf("token %q is not 32 bytes of URL-safe base64", tok)
	}
	sum := sha256.Sum256([]byte(tok))
	if string(hash) != string(sum[:]) || string(auth.HashToken(tok)) != string(hash) {
		t.Errorf("the stored hash is not the token's SHA-256")
	}
	other, otherHash := auth.NewToken()
	if other == tok || string(otherHash) == string(hash) {
		t.Errorf("two tokens are equal")
	}
	if string(auth.HashToken(tok+"x")) == string(hash) {
		t.Errorf("different tokens hash alike")
	}
}
