package filetoken_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/shared/filetoken"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef\n")
	now    = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
)

func issue(t *testing.T, user string, at time.Time, ttl time.Duration) (string, time.Time) {
	t.Helper()
	tok, exp, err := filetoken.Issue(secret, user, at, ttl)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok, exp
}

func TestIssueVerify(t *testing.T) {
	for _, user := range []string{"Alice", "李雷", "bob_1"} {
		tok, exp := issue(t, user, now, filetoken.DefaultTTL)
		if !exp.Equal(now.Add(filetoken.DefaultTTL)) {
			t.Errorf("expiry %v, want %v", exp, now.Add(filetoken.DefaultTTL))
		}
		for _, at := range []time.Time{now, now.Add(time.Minute), exp.Add(-time.Second)} {
			got, err := filetoken.Verify(secret, tok, at)
			if err != nil || got != user {
				t.Errorf("Verify at %v = %q, %v; want %q", at, got, err, user)
			}
		}
	}
}

// TestExpiryIsTheTokens checks that the expiry Issue reports is the one
// the token holds, to the second, even when now has a fraction of one.
func TestExpiryIsTheTokens(t *testing.T) {
	at := now.Add(700 * time.Millisecond)
	tok, exp := issue(t, "alice", at, time.Minute)
	if _, err := filetoken.Verify(secret, tok, exp.Add(-time.Millisecond)); err != nil {
		t.Errorf("refused just before its reported expiry %v: %v", exp, err)
	}
	if _, err := filetoken.Verify(secret, tok, exp); !errors.Is(err, filetoken.ErrInvalid) {
		t.Errorf("accepted at its reported expiry %v: %v", exp, err)
	}
	if exp.After(at.Add(time.Minute)) || exp.Before(at.Add(time.Minute-time.Second)) {
		t.Errorf("expiry %v is not within a second below %v", exp, at.Add(time.Minute))
	}
}

func TestIssueNeedsASecret(t *testing.T) {
	if tok, _, err := filetoken.Issue(nil, "alice", now, time.Minute); err == nil {
		t.Errorf("Issue with no secret gave %q", tok)
	}
}

// sign makes a token with any claims, method and key.
func sign(t *testing.T, m jwt.SigningMethod, claims jwt.Claims, key any) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatalf("sign with %s: %v", m.Alg(), err)
	}
	return s
}

func claims(sub string, aud []string, iat, exp time.Time) jwt.RegisteredClaims {
	c := jwt.RegisteredClaims{Subject: sub, Audience: aud, IssuedAt: jwt.NewNumericDate(iat)}
	if !exp.IsZero() {
		c.ExpiresAt = jwt.NewNumericDate(exp)
	}
	return c
}

func TestVerifyRefuses(t *testing.T) {
	good, exp := issue(t, "alice", now, time.Minute)
	parts := strings.Split(good, ".")
	otherSig := strings.Split(sign(t, jwt.SigningMethodHS256,
		claims("alice", []string{filetoken.Audience}, now, now.Add(time.Minute)), []byte("another secret")), ".")[2]
	mallory := strings.Split(sign(t, jwt.SigningMethodHS256,
		claims("mallory", []string{filetoken.Audience}, now, now.Add(time.Minute)), []byte("another secret")), ".")[1]
	flipped := []byte(parts[2])
	if flipped[0] == 'A' {
		flipped[0] = 'B'
	} else {
		flipped[0] = 'A'
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	valid := claims("alice", []string{filetoken.Audience}, now, now.Add(time.Minute))

	tests := []struct {
		name   string
		token  string
		at     time.Time
		secret []byte
	}{
		{"signed with another secret", sign(t, jwt.SigningMethodHS256, valid, []byte("another secret")), now, secret},
		{"another token's signature", parts[0] + "." + parts[1] + "." + otherSig, now, secret},
		{"a changed signature", parts[0] + "." + parts[1] + "." + string(flipped), now, secret},
		{"a changed subject", parts[0] + "." + mallory + "." + parts[2], now, secret},
		{"no signature", parts[0] + "." + parts[1] + ".", now, secret},
		{"expired", good, exp, secret},
		{"long expired", good, exp.Add(time.Hour), secret},
		{"issued in the future", good, now.Add(-time.Second), secret},
		{"no expiry", sign(t, jwt.SigningMethodHS256, claims("alice", []string{filetoken.Audience}, now, time.Time{}), secret), now, secret},
		{"wrong audience", sign(t, jwt.SigningMethodHS256, claims("alice", []string{"parley-chat"}, now, now.Add(time.Minute)), secret), now, secret},
		{"no audience", sign(t, jwt.SigningMethodHS256, claims("alice", nil, now, now.Add(time.Minute)), secret), now, secret},
		{"alg none", sign(t, jwt.SigningMethodNone, valid, jwt.UnsafeAllowNoneSignatureType), now, secret},
		{"HS384", sign(t, jwt.SigningMethodHS384, valid, secret), now, secret},
		{"HS512", sign(t, jwt.SigningMethodHS512, valid, secret), now, secret},
		{"ES256", sign(t, jwt.SigningMethodES256, valid, ecKey), now, secret},
		{"empty subject", func() string { tok, _ := issue(t, "", now, time.Minute); return tok }(), now, secret},
		{"empty secret on both sides", sign(t, jwt.SigningMethodHS256, valid, []byte{}), now, []byte{}},
		{"empty", "", now, secret},
		{"not a JWT", "not a token", now, secret},
		{"three dots", "a.b.c", now, secret},
	}
	for _, tt := range tests {
		user, err := filetoken.Verify(tt.secret, tt.token, tt.at)
		if !errors.Is(err, filetoken.ErrInvalid) || user != "" {
			t.Errorf("%s: Verify = %q, %v; want it refused with ErrInvalid", tt.name, user, err)
		}
	}
	// The good token is good: the cases above fail for their own reason.
	if user, err := filetoken.Verify(secret, good, now); err != nil || user != "alice" {
		t.Fatalf("Verify(good) = %q, %v", user, err)
	}
}

func TestDefaultSecretFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CONFIG_HOME", dir)
	if got, want := filetoken.DefaultSecretFile(), filepath.Join(dir, "parley", "secret"); got != want {
		t.Errorf("DefaultSecretFile() = %q, want %q", got, want)
	}
}

// noEnv makes sure $PARLEY_SECRET is not set for the test.
func noEnv(t *testing.T) { t.Setenv(filetoken.EnvSecret, "") }

func TestLoadSecretCreatesFile(t *testing.T) {
	noEnv(t)
	dir := filepath.Join(t.TempDir(), "config", "parley")
	path := filepath.Join(dir, "secret")
	s, err := filetoken.LoadSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(strings.TrimSuffix(string(s), "\n"))
	if err != nil || len(raw) != 32 || !bytes.HasSuffix(s, []byte("\n")) {
		t.Errorf("secret %q is not 32 random bytes in hex and a newline", s)
	}
	if bytes.Equal(raw, make([]byte, 32)) {
		t.Errorf("secret is all zeros")
	}
	onDisk, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(onDisk, s) {
		t.Errorf("file holds %q, %v; LoadSecret returned %q", onDisk, err, s)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", fi.Mode().Perm())
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("secret directory mode %v, want 0700", di.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %v, %v; want only the secret", entries, err)
	}

	// Another path gets another secret.
	other, err := filetoken.LoadSecret(filepath.Join(dir, "other"))
	if err != nil || bytes.Equal(other, s) {
		t.Errorf("a second secret file has the same secret (%v)", err)
	}
}

func TestLoadSecretReusesFile(t *testing.T) {
	noEnv(t)
	path := filepath.Join(t.TempDir(), "secret")
	first, err := filetoken.LoadSecret(path)
	if err != nil {
		t.Fatal(err)
	}
	second, err := filetoken.LoadSecret(path)
	if err != nil || !bytes.Equal(first, second) {
		t.Fatalf("second LoadSecret = %q, %v; want %q", second, err, first)
	}

	// A file written by hand is used as it is.
	mine := filepath.Join(t.TempDir(), "mine")
	if err := os.WriteFile(mine, []byte("my own secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := filetoken.LoadSecret(mine); err != nil || string(s) != "my own secret\n" {
		t.Errorf("LoadSecret of a written file = %q, %v", s, err)
	}

	// Both servers load it; a token one issues, the other accepts.
	tok, _, err := filetoken.Issue(first, "alice", now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if user, err := filetoken.Verify(second, tok, now); err != nil || user != "alice" {
		t.Errorf("Verify with the reloaded secret = %q, %v", user, err)
	}
}

func TestLoadSecretFromEnvironment(t *testing.T) {
	t.Setenv(filetoken.EnvSecret, "from the environment")
	path := filepath.Join(t.TempDir(), "secret")
	s, err := filetoken.LoadSecret(path)
	if err != nil || string(s) != "from the environment" {
		t.Errorf("LoadSecret = %q, %v; want the environment's secret", s, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadSecret touched the file although the environment had the secret: %v", err)
	}
	// The environment wins over an existing file too.
	if err := os.WriteFile(path, []byte("from the file"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := filetoken.LoadSecret(path); err != nil || string(s) != "from the environment" {
		t.Errorf("LoadSecret = %q, %v; want the environment's secret", s, err)
	}
}

func TestLoadSecretRefusesBadFiles(t *testing.T) {
	noEnv(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n\t"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := filetoken.LoadSecret(empty); err == nil {
		t.Errorf("LoadSecret of a blank file = %q", s)
	}
	if s, err := filetoken.LoadSecret(dir); err == nil {
		t.Errorf("LoadSecret of a directory = %q", s)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := filetoken.LoadSecret(filepath.Join(file, "secret")); err == nil {
		t.Errorf("LoadSecret under a file = %q", s)
	}
}

// TestLoadSecretConcurrent starts two servers at once, many times: both
// must end up with the same secret, the one in the file.
func TestLoadSecretConcurrent(t *testing.T) {
	noEnv(t)
	for round := range 30 {
		dir := filepath.Join(t.TempDir(), "parley")
		path := filepath.Join(dir, "secret")
		const n = 4
		var wg sync.WaitGroup
		start := make(chan struct{})
		got := make([][]byte, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				<-start
				got[i], errs[i] = filetoken.LoadSecret(path)
			})
		}
		close(start)
		wg.Wait()
		onDisk, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if errs[i] != nil || !bytes.Equal(got[i], onDisk) {
				t.Fatalf("round %d: LoadSecret %d = %q, %v; the file holds %q", round, i, got[i], errs[i], onDisk)
			}
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Fatalf("round %d: directory holds %d entries; want only the secret", round, len(entries))
		}
	}
}
