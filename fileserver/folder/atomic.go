package folder

import (
	"crypto/rand"
	"encoding/hex"
	"os"
)

// WriteFile replaces the file name in root with data, so that a crash
// at any moment leaves either the old file or the new one, whole: the
// data goes to a new file beside it, is synced, and is renamed over it.
// The file server's records, its uploads' records and the terminal
// client's saved sessions are written so.
func WriteFile(root *os.Root, name string, data []byte, perm os.FileMode) error {
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := name + "." + hex.EncodeToString(rnd[:]) + ".tmp"
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = root.Rename(tmp, name)
	}
	if err != nil {
		root.Remove(tmp)
	}
	return err
}
