// Package servertest starts chat servers for tests: in-process, on
// 127.0.0.1:0, with cheap password hashing, and a rate limit and login
// limits high enough not to get in a test's way (every test client logs
// in from one address), and shut down when the test ends.
package servertest

import (
	"context"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/shared/protocol"
)

// Start starts a server with the test defaults, changed by mod if given.
func Start(t testing.TB, mod func(*server.Config)) *server.Server {
	t.Helper()
	cfg := server.Config{
		Addr:       "127.0.0.1:0",
		HTTPAddr:   "127.0.0.1:0",
		HashParams: auth.Params{Time: 1, MemoryKiB: 64, Threads: 1},
		Limits:     protocol.Limits{RatePerSec: 10000, RateBurst: 10000},
		ReadRate:   10000,
		Logins:     auth.Limits{InFlight: 1 << 20, PerMinute: -1, Registrations: -1},
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s
}
