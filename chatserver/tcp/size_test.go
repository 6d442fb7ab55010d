package tcp

import (
	"testing"
	"unsafe"
)

// Every idle connection holds one conn, so its size is a budget: 320 bytes
// is a size class of Go's allocator, and a field that pushes it past
// takes the next, 352.
func TestConnFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 320 {
		t.Errorf("conn is %d bytes, over the 320-byte size class; order its fields to avoid padding", n)
	}
}
