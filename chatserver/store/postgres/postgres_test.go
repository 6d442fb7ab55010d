package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/postgres"
	"github.com/parley-chat/parley/chatserver/store/postgres/pgtest"
	"github.com/parley-chat/parley/chatserver/store/storetest"
)

func TestConformance(t *testing.T) {
	srv := pgtest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.Open(context.Background(), srv.Schema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestOneServerPerDatabase(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.Schema(t)
	ctx := context.Background()
	first, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if second, err := postgres.Open(ctx, url); !errors.Is(err, postgres.ErrInUse) {
		if second != nil {
			second.Close()
		}
		t.Fatalf("a second Open of the same database = %v; want ErrInUse", err)
	}
	first.Close()
	again, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatalf("Open after the first store closed: %v", err)
	}
	again.Close()
}

func TestBadAddress(t *testing.T) {
	_, err := postgres.Open(context.Background(), "postgres://parley@127.0.0.1:1/nothing?connect_timeout=2")
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("Open of an address with no server = %v; want an error that names it", err)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
