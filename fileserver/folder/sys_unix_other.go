//go:build unix && !linux

package folder

func renameNoReplace(sfd int, src string, dfd int, dst string) error {
	return linkNoReplace(sfd, src, dfd, dst)
}
