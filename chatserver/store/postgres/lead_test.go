package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/postgres"
	"github.com/parley-chat/parley/chatserver/store/postgres/pgtest"
	"github.com/parley-chat/parley/chatserver/store/storetest"
)

// A shared store that leads passes the conformance suite: the fence in
// front of its writes changes nothing while its term lasts.
func TestConformanceShared(t *testing.T) {
	srv := pgtest.Start(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := postgres.OpenShared(context.Background(), srv.Schema(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Lead(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Resign(); s.Close() })
		return s
	})
}

func message(id uint64, text string) []store.Change {
	return []store.Change{{Kind: store.AddMessage, Message: store.Message{
		ID: id, Conv: store.RoomConv("lobby"), Room: "lobby", From: "ann", FromName: "ann", Text: text, Time: time.UnixMilli(1)}}}
}

// Writes are refused before Lead; a second store waits in Lead until the
// first lets go; and a writer whose lock was lost without its noticing
// (its lock's connection ended) cannot write once the next term starts.
func TestWriterTerms(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.Schema(t)
	ctx := context.Background()
	a, err := postgres.OpenShared(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := postgres.OpenShared(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	if err := a.Apply(ctx, message(1, "before")); !errors.Is(err, postgres.ErrNotWriter) {
		t.Fatalf("Apply before Lead = %v; want ErrNotWriter", err)
	}
	if err := a.CreateUser(ctx, store.User{Key: "ann", Name: "ann", Hash: "x"}); !errors.Is(err, postgres.ErrNotWriter) {
		t.Fatalf("CreateUser before Lead = %v; want ErrNotWriter", err)
	}
	termA, err := a.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Apply(ctx, message(1, "first term")); err != nil {
		t.Fatalf("Apply in a's term: %v", err)
	}
	if err := a.Holding(ctx); err != nil {
		t.Fatalf("Holding in a's term: %v", err)
	}

	led := make(chan int64, 1)
	go func() {
		term, err := b.Lead(ctx)
		if err != nil {
			t.Error(err)
		}
		led <- term
	}()
	select {
	case term := <-led:
		t.Fatalf("b led (term %d) while a held the lock", term)
	case <-time.After(300 * time.Millisecond):
	}

	// End a's lock session from outside, as a broken connection would.
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND objid = 7700 AND granted`); err != nil {
		t.Fatal(err)
	}
	termB := <-led
	if termB != termA+1 {
		t.Errorf("b's term = %d, want %d", termB, termA+1)
	}
	if err := a.Holding(ctx); err == nil {
		t.Error("a's Holding succeeded after its lock's connection ended")
	}
	if err := a.Apply(ctx, message(2, "stale")); !errors.Is(err, postgres.ErrNotWriter) {
		t.Fatalf("a's Apply after b's term began = %v; want ErrNotWriter", err)
	}
	if err := b.Apply(ctx, message(2, "second term")); err != nil {
		t.Fatalf("Apply in b's term: %v", err)
	}
	m, err := b.Message(ctx, 2)
	if err != nil || m.Text != "second term" {
		t.Errorf("message 2 = %+v, %v; want b's", m, err)
	}
	b.Resign()
	if err := b.Apply(ctx, message(3, "after")); !errors.Is(err, postgres.ErrNotWriter) {
		t.Errorf("Apply after Resign = %v; want ErrNotWriter", err)
	}
	a.Resign()
}

// A message re-sent with the same idempotency key is stored once, even
// when the hub no longer remembers the key.
func TestIdempotencyKeyUnique(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	s, err := postgres.Open(ctx, srv.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := message(1, "once")
	m[0].Message.Key = "k1"
	again := message(2, "once")
	again[0].Message.Key = "k1"
	if err := s.Apply(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply(ctx, again); err != nil {
		t.Fatal(err)
	}
	h, err := s.History(ctx, store.RoomConv("lobby"), 100, 10)
	if err != nil || len(h) != 1 {
		t.Fatalf("history = %+v, %v; want the message once", h, err)
	}
}
