//go:build !unix

package folder

import (
	"errors"
	"os"
)

const openNonBlock = 0

var (
	errNotDirSys   = errors.New("not a directory")
	errNotEmptySys = errors.New("directory not empty")
)

func fileID(fi os.FileInfo) uint64 { return 0 }

func sameFileSystem(a, b string) (bool, error) { return true, nil }

func renameAt(srcDir *os.File, src string, dstDir *os.File, dst string, overwrite bool) error {
	return errors.New("placing uploads needs a Unix system")
}

const (
	accessRead  = 1
	accessWrite = 2
)

func access(path string, mode uint32) error { return nil }
