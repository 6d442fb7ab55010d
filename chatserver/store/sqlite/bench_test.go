package sqlite_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/sqlite"
)

// BenchmarkAppend measures durable appends to the message log: one commit
// (with its sync) per batch. Batches are what the hub's group commit forms
// under load; the result per message is what bounds history writes.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			text := "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
			changes := make([]store.Change, batch)
			id := uint64(0)
			b.ReportAllocs()
			b.ResetTimer()
			for written := 0; written < b.N; written += batch {
				for i := range changes {
					id++
					changes[i] = store.Change{Kind: store.AddMessage, Message: store.Message{
						ID: id, Conv: "#bench", Room: "bench", From: "alice", FromName: "alice",
						Text: text, Time: time.UnixMilli(int64(id)), Key: fmt.Sprint(id)}}
				}
				if err := s.Apply(context.Background(), changes); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(id)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkReads measures the history reads that logins and paging make,
// four at a time (the readers' pool), on a log of 200,000 messages in 20
// rooms (about 60 MB): the newest page of a room, a page at a random
// depth, and a resuming login's catch-up of three rooms from a random
// point. What a reader's page cache does not hold comes from the
// kernel's page cache of the file, so the deep reads show what a smaller
// cache costs.
func BenchmarkReads(b *testing.B) {
	const rooms, total = 20, 200_000
	s, err := sqlite.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	text := "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	changes := make([]store.Change, 0, 1000)
	for id := uint64(1); id <= total; id++ {
		room := fmt.Sprintf("room%d", id%rooms)
		changes = append(changes, store.Change{Kind: store.AddMessage, Message: store.Message{
			ID: id, Conv: "#" + room, Room: room, From: "alice", FromName: "alice",
			Text: text, Time: time.UnixMilli(int64(id))}})
		if len(changes) == cap(changes) {
			if err := s.Apply(context.Background(), changes); err != nil {
				b.Fatal(err)
			}
			changes = changes[:0]
		}
	}
	for _, r := range []struct {
		name string
		read func(ctx context.Context, n uint64) (int, error)
	}{
		{"newest", func(ctx context.Context, n uint64) (int, error) {
			m, err := s.History(ctx, fmt.Sprintf("#room%d", n%rooms), total+1, 50)
			return len(m), err
		}},
		{"deep", func(ctx context.Context, n uint64) (int, error) {
			m, err := s.History(ctx, fmt.Sprintf("#room%d", n%rooms), 1000+n%(total-1000), 50)
			return len(m), err
		}},
		{"catchup", func(ctx context.Context, n uint64) (int, error) {
			convs := []string{fmt.Sprintf("#room%d", n%rooms), fmt.Sprintf("#room%d", (n+1)%rooms), fmt.Sprintf("#room%d", (n+2)%rooms)}
			m, err := s.Since(ctx, "bob", convs, n%(total-2000), total, 200)
			return len(m), err
		}},
	} {
		name, f := r.name, r.read
		b.Run(name, func(b *testing.B) {
			b.SetParallelism(2) // 2 cores × 2: the four readers
			var seed atomic.Uint64
			b.RunParallel(func(pb *testing.PB) {
				// Each goroutine draws from a generator of its own, seeded
				// apart by a multiplicative hash.
				n := seed.Add(1) * 0x9E3779B97F4A7C15
				for pb.Next() {
					n = n*6364136223846793005 + 1442695040888963407
					got, err := f(context.Background(), n>>16)
					if err != nil {
						b.Error(err)
						return
					}
					if got == 0 {
						b.Errorf("%s read nothing", name)
						return
					}
				}
			})
		})
	}
}
