//go:build !unix

package uploads

func diskFree(string) (int64, bool) { return 0, false }
