package sqlite

import (
	"context"
	"database/sql"
	"testing"
)

// Every reader connection keeps the small page cache that Open asks for
// (a negative cache_size is KiB), and the writer keeps SQLite's default.
func TestReadersKeepASmallCache(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Hold all four readers at once, so that each is a connection of its own.
	conns := make([]*sql.Conn, 0, 4)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 4 {
		c, err := s.r.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		var size int
		if err := c.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&size); err != nil {
			t.Fatal(err)
		}
		if size != readerCacheKiB {
			t.Errorf("reader %d: cache_size %d, want %d", i, size, readerCacheKiB)
		}
	}
	var size int
	if err := s.w.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&size); err != nil {
		t.Fatal(err)
	}
	if size != -2000 {
		t.Errorf("writer: cache_size %d, want SQLite's default -2000", size)
	}
}
