//go:build unix

package uploads

import "golang.org/x/sys/unix"

// diskFree is the space available to unprivileged writers on the file
// system that holds dir.
func diskFree(dir string) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
