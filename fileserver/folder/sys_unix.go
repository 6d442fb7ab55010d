//go:build unix

package folder

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// openNonBlock keeps an open of a named pipe from waiting for a writer.
// It has no effect on regular files.
const openNonBlock = syscall.O_NONBLOCK

var (
	errNotDirSys   = syscall.ENOTDIR
	errNotEmptySys = syscall.ENOTEMPTY
)

func sameFileSystem(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	sa, ok1 := fa.Sys().(*syscall.Stat_t)
	sb, ok2 := fb.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return true, nil
	}
	return sa.Dev == sb.Dev, nil
}

// fileID is fi's inode number, or 0 if the system does not say.
func fileID(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

// fd returns a directory's descriptor without changing its mode.
func fd(f *os.File) (int, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return -1, err
	}
	var n int
	if err := sc.Control(func(u uintptr) { n = int(u) }); err != nil {
		return -1, err
	}
	return n, nil
}

// renameAt renames srcDir/src to dstDir/dst. Without overwrite it never
// replaces an existing dst: it uses renameat2 with RENAME_NOREPLACE where
// the system has it, and a hard link followed by an unlink where it does
// not, both of which fail if dst exists.
func renameAt(srcDir *os.File, src string, dstDir *os.File, dst string, overwrite bool) error {
	sfd, err := fd(srcDir)
	if err != nil {
		return err
	}
	dfd, err := fd(dstDir)
	if err != nil {
		return err
	}
	var rerr error
	if overwrite {
		rerr = unix.Renameat(sfd, src, dfd, dst)
	} else {
		rerr = renameNoReplace(sfd, src, dfd, dst)
	}
	switch {
	case rerr == nil:
		return nil
	case errors.Is(rerr, unix.EEXIST), errors.Is(rerr, unix.ENOTEMPTY):
		return ErrExist
	case errors.Is(rerr, unix.EISDIR):
		return ErrIsDir
	case errors.Is(rerr, unix.ENOSPC), errors.Is(rerr, unix.EDQUOT):
		return fmt.Errorf("rename into place: %w", rerr)
	}
	return &os.LinkError{Op: "rename", Old: src, New: dst, Err: rerr}
}

func linkNoReplace(sfd int, src string, dfd int, dst string) error {
	if err := unix.Linkat(sfd, src, dfd, dst, 0); err != nil {
		return err
	}
	return unix.Unlinkat(sfd, src, 0)
}

const (
	accessRead  = unix.R_OK | unix.X_OK
	accessWrite = unix.W_OK
)

// access checks that the server may use folder path in mode, as the
// kernel judges it: permissions, and a read-only file system.
func access(path string, mode uint32) error {
	return unix.Access(path, mode)
}
