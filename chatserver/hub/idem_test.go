package hub

import "testing"

// A key forgotten (its message could not be stored) and put again when the
// client retries is remembered for the whole window, whatever became of
// its older entry in the ring.
func TestIdemCacheKeyPutAgain(t *testing.T) {
	for size := 1; size <= 4; size++ {
		c := newIdemCache(size)
		for i := range size - 1 {
			c.put("alice", string(rune('a'+i)), uint64(100+i))
		}
		c.put("alice", "k", 1)
		c.forget("alice", "k")
		// The retry may land on the very slot that holds k's old entry.
		for range size {
			c.put("alice", "k", 2)
			if id, ok := c.get("alice", "k"); !ok || id != 2 {
				t.Fatalf("size %d: k put again reads back (%d, %v), want (2, true)", size, id, ok)
			}
			c.forget("alice", "k")
		}
		c.put("alice", "k", 3)
		// Size-1 other keys later, k is still among the last size keys.
		for i := range size - 1 {
			c.put("bob", string(rune('a'+i)), uint64(200+i))
		}
		if id, ok := c.get("alice", "k"); !ok || id != 3 {
			t.Errorf("size %d: k after %d other keys reads back (%d, %v), want (3, true)", size, size-1, id, ok)
		}
		c.put("bob", "last", 300)
		if _, ok := c.get("alice", "k"); ok {
			t.Errorf("size %d: k still remembered after %d newer keys", size, size)
		}
	}
}
