package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/chatserver/store/postgres"
	"github.com/parley-chat/parley/chatserver/store/postgres/pgtest"
)

// BenchmarkAppend measures durable appends to the message log, as the
// SQLite store's benchmark of the same name does: one commit per batch,
// against a PostgreSQL server on this machine.
func BenchmarkAppend(b *testing.B) {
	srv := pgtest.Start(b)
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, err := postgres.Open(context.Background(), srv.Schema(b))
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
