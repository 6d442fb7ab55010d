package watch

// pathMax is the longest path the kernel takes, with its NUL (PATH_MAX).
const pathMax = 4096
