package uploads

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// openDirect opens the file name in root for direct writes, or returns
// nil if the file system does not offer them (tmpfs, for one).
func openDirect(root *os.Root, name string) *os.File {
	f, err := root.OpenFile(name, os.O_WRONLY|unix.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	return f
}

// refusedDirect says whether a direct write failed because of its
// alignment or the file system, so that an ordinary write may do instead.
func refusedDirect(err error) bool { return errors.Is(err, unix.EINVAL) }
