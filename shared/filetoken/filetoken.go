// Package filetoken is the format of the file-access token: a JWT signed
// with HS256 that the chat server issues at login and the file server
// checks. The two servers share only the signing key, the raw bytes of a
// secret file; they never call each other.
package filetoken

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Audience is the token's "aud" claim.
const Audience = "parley-files"

// DefaultTTL is how long a token is valid by default. Clients renew it
// before it expires.
const DefaultTTL = 15 * time.Minute

// EnvSecret names the environment variable that, when set, is the secret
// itself and overrides the secret file.
const EnvSecret = "PARLEY_SECRET"

// ErrInvalid wraps every reason a token is refused.
var ErrInvalid = errors.New("invalid file token")

// Claims are a token's contents.
type Claims struct {
	jwt.RegisteredClaims // sub = user name; aud = Audience; iat, exp
}

// Issue returns a token for user, valid for ttl from now.
func Issue(secret []byte, user string, now time.Time, ttl time.Duration) (string, time.Time, error) {
	if len(secret) == 0 {
		return "", time.Time{}, errors.New("empty secret")
	}
	// The token holds whole seconds: report the expiry it holds, not a
	// moment up to a second after it.
	exp := jwt.NewNumericDate(now.Add(ttl))
	c := Claims{jwt.RegisteredClaims{
		Subject:   user,
		Audience:  jwt.ClaimStrings{Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: exp,
	}}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	return s, exp.Time, err
}

// Verify checks a token's signature, algorithm, audience and expiry at
// now, and returns the user it was issued to.
func Verify(secret []byte, token string, now time.Time) (string, error) {
	if len(secret) == 0 {
		// HMAC accepts an empty key, which anyone can sign with.
		return "", fmt.Errorf("%w: empty secret", ErrInvalid)
	}
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if c.Subject == "" {
		return "", fmt.Errorf("%w: no subject", ErrInvalid)
	}
	return c.Subject, nil
}

// DefaultSecretFile is where both servers look for the secret when not
// told otherwise: parley/secret in the user's configuration directory
// (~/.config/parley/secret on Linux), so that a chat server and a file
// server started by the same user on one machine agree with no setup.
func DefaultSecretFile() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "parley", "secret")
}

// LoadSecret returns the shared secret: $PARLEY_SECRET if it is set,
// otherwise the contents of path, which is created with 32 random bytes
// (hex) and mode 0600 if it does not exist.
func LoadSecret(path string) ([]byte, error) {
	if s := os.Getenv(EnvSecret); s != "" {
		return []byte(s), nil
	}
	b, err := os.ReadFile(path)
	if err == nil {
		if len(strings.TrimSpace(string(b))) == 0 {
			return nil, fmt.Errorf("secret file %s is empty", path)
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read secret: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create secret directory: %w", err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := []byte(hex.EncodeToString(raw) + "\n")
	// Write a temporary file, then link it into place: the link either
	// creates a complete file or fails because the other server created
	// one first, in which case its secret wins.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("create secret: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("create secret: %w", err)
	}
	if _, err := tmp.Write(secret); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write secret: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("sync secret: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("write secret: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return os.ReadFile(path)
		}
		return nil, fmt.Errorf("create secret: %w", err)
	}
	return secret, nil
}
