//go:build !linux

package watch

// pathMax is the longest path the kernel takes, with its NUL: PATH_MAX
// on macOS and the BSDs.
const pathMax = 1024
