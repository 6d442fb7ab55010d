package session

import (
	"testing"

	"github.com/parley-chat/parley/shared/protocol"
)

// An idle session drops its rate limiter only when the limiter is full,
// so that idling never hands a client a fresh budget; the limiter made
// anew at the next frame is full, as the old one was.
func TestIdleKeepsAPartlyUsedRateBudget(t *testing.T) {
	srv := New(Config{Limits: protocol.Limits{RatePerSec: 1, RateBurst: 3}})
	s := &Session{srv: srv}
	s.limiter = newLimiter(srv)
	used := s.limiter
	used.Allow()
	s.Idle()
	if s.limiter != used {
		t.Fatal("an idle session dropped a used budget")
	}
	s.limiter = newLimiter(srv)
	s.Idle()
	if s.limiter != nil {
		t.Fatal("an idle session kept a full limiter")
	}
}
