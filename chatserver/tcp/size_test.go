package tcp

import (
	"testing"
	"unsafe"
)

// Every idle connection holds one conn, so its size is a budget: 256 bytes
// is a size class of Go's allocator, and a field that pushes it past
// takes the next, 288.
func TestConnFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 256 {
		t.Errorf("conn is %d bytes, over the 256-byte size class; order its fields to avoid padding", n)
	}
}
