// Package auth checks the bearer tokens that the chat server issues for
// the file server, and carries the user they name through a request.
package auth

import (
	"context"
	"net/http"
	"strings"
	"time"

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
			unauthorized(w, "the file token was refused ("+strings.TrimPrefix(err.Error(), filetoken.ErrInvalid.Error()+": ")+"); ask the chat server for a new one")
			return
		}
		h.ServeHTTP(w, r.WithContext(WithUser(r.Context(), user)))
	})
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="parley-files"`)
	httperr.WriteError(w, httperr.New(http.StatusUnauthorized, httperr.CodeUnauthorized, "%s", msg))
}
