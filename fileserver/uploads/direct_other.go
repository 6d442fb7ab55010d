//go:build !linux

package uploads

import "os"

// openDirect returns nil: uploads are written through the cache here.
func openDirect(root *os.Root, name string) *os.File { return nil }

func refusedDirect(err error) bool { return false }
