// Package auth checks the bearer tokens that the chat server issues for
// the file server, and carries the user they name through a request.
package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/fileserver/httperr"
	"github.com/parley-chat/parley/shared/filetoken"
)

type userKey struct{}

// WithUser returns a context that carries user.
func WithUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// User returns the user a request's token named, or "" for an anonymous
// request (allowed only on public reads).
func User(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// Checker checks tokens with the shared secret.
type Checker struct {
	Secret []byte
	// PublicRead lets requests without a token list, download and watch.
	PublicRead bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// QueryParam is the query parameter that may carry the token on GET and
// HEAD requests, for clients that cannot set headers (a browser's
// EventSource or a plain link).
const QueryParam = "access_token"

// token returns the request's token: the Authorization header's bearer
// token, or on reads the access_token parameter.
func token(r *http.Request) (string, bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return "", true
		}
		return strings.TrimSpace(tok), true
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if tok := r.URL.Query().Get(QueryParam); tok != "" {
			return tok, true
		}
	}
	return "", false
}

// Require wraps h so that it runs only with a valid token, whose user it
// puts in the request's context. With read set and PublicRead on, a
// request without a token runs too, as nobody; a request with a bad token
// is refused either way.
func (c *Checker) Require(read bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, present := token(r)
		if !present {
			if read && c.PublicRead {
				h.ServeHTTP(w, r)
				return
			}
			unauthorized(w, "no file token: send Authorization: Bearer TOKEN, the files_token the chat server gave at login")
			return
		}
		if tok == "" {
			unauthorized(w, "malformed Authorization header: expected Bearer TOKEN")
			return
		}
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		user, err := filetoken.Verify(c.Secret, tok, now())
		if err != nil {
			httperr.WriteError(challenge(w), Refusal(tok, err))
			return
		}
		h.ServeHTTP(w, r.WithContext(WithUser(r.Context(), user)))
	})
}

func unauthorized(w http.ResponseWriter, msg string) {
	httperr.WriteError(challenge(w), httperr.New(http.StatusUnauthorized, httperr.CodeUnauthorized, "%s", msg))
}

func challenge(w http.ResponseWriter) http.ResponseWriter {
	w.Header().Set("WWW-Authenticate", `Bearer realm="parley-files"`)
	return w
}

// Refusal is the 401 for token tok, which filetoken.Verify refused with
// err. It tells apart the causes a user can act on:
//
//   - secret_mismatch: the token is a well-formed HS256 token whose
//     signature does not verify with this server's secret. The usual
//     cause is a chat server and a file server started with different
//     secrets; a token altered on the way looks the same;
//   - token_expired: the signature is good, but the token has expired
//     (the signature is checked before the claims, so an expired token
//     from another secret is a secret_mismatch);
//   - unauthorized: anything else, such as a malformed token, another
//     algorithm, or a token meant for another audience.
func Refusal(tok string, err error) *httperr.Error {
	var claims jwt.RegisteredClaims
	parsed, _, perr := jwt.NewParser().ParseUnverified(tok, &claims)
	switch {
	case errors.Is(err, jwt.ErrSignatureInvalid) && perr == nil && parsed.Method.Alg() == jwt.SigningMethodHS256.Alg():
		return httperr.New(http.StatusUnauthorized, httperr.CodeSecretMismatch,
			"this token was signed with a different secret (or altered): the chat server and the file server must share one secret (see -secret-file / $%s)", filetoken.EnvSecret)
	case errors.Is(err, jwt.ErrTokenExpired):
		when := ""
		if claims.ExpiresAt != nil {
			when = " at " + claims.ExpiresAt.UTC().Format(time.RFC3339)
		}
		return httperr.New(http.StatusUnauthorized, httperr.CodeTokenExpired,
			"the file token expired%s; ask the chat server for a new one (if fresh tokens expire at once, the two machines' clocks disagree)", when)
	}
	return httperr.New(http.StatusUnauthorized, httperr.CodeUnauthorized,
		"the file token was refused (%s); ask the chat server for a new one", strings.TrimPrefix(err.Error(), filetoken.ErrInvalid.Error()+": "))
}
