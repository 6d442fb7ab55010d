package files

import (
	"context"
	"sync"
	"time"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// SessionTokens gets file tokens from a chat session: the one from the
// latest login to begin with, then fresh ones with the files_token
// request, asked for once three quarters of a token's life has passed, so
// a token in use never expires.
type SessionTokens struct {
	s   *chat.Session
	now func() time.Time

	mu   sync.Mutex
	tok  string
	got  time.Time // when tok was obtained
	exp  time.Time
	used string // the token last handed out
}

// NewSessionTokens returns a token source for s.
func NewSessionTokens(s *chat.Session) *SessionTokens {
	return &SessionTokens{s: s, now: time.Now}
}

// Token returns a token that is good for a while yet.
func (t *SessionTokens) Token(ctx context.Context, fresh bool) (string, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	// A reconnect's login brings a new token; take it if it is newer.
	if lr := t.s.LoginReply(); lr != nil && lr.FilesToken != "" {
		if exp := time.UnixMilli(lr.Expires); exp.After(t.exp) {
			t.tok, t.exp, t.got = lr.FilesToken, exp, now
		}
	}
	if t.tok != "" && now.Before(t.renewAt()) && !(fresh && t.tok == t.used) {
		t.used = t.tok
		return t.tok, nil
	}
	reply, err := t.s.Do(ctx, &protocol.Frame{Type: protocol.TypeFilesToken})
	if err != nil {
		return "", err
	}
	t.tok, t.exp, t.got = reply.FilesToken, time.UnixMilli(reply.Expires), t.now()
	t.used = t.tok
	return t.tok, nil
}

// renewAt is when the current token should be replaced: after three
// quarters of its life.
func (t *SessionTokens) renewAt() time.Time {
	return t.got.Add(t.exp.Sub(t.got) * 3 / 4)
}
