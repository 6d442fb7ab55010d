package folder

import (
	"errors"

	"golang.org/x/sys/unix"
)

func renameNoReplace(sfd int, src string, dfd int, dst string) error {
	err := unix.Renameat2(sfd, src, dfd, dst, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		// The file system does not support RENAME_NOREPLACE.
		return linkNoReplace(sfd, src, dfd, dst)
	}
	return err
}
