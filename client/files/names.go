package files

import (
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/shared/protocol"
)

// The file commands' arguments and the names of the files the client
// makes, in one place for both faces of the client: line mode runs the
// commands through Commands, and the full-screen client with its own
// progress display, from the same parsing and the same names.

// UploadArgs is what /upload [-f] PATH [NAME] asks for.
type UploadArgs struct {
	Path      string // the local file, with ~ expanded
	Name      string // the name to store it under
	Overwrite bool   // -f: replace the user's own file of that name
}

// UploadUsage is /upload's usage line.
const UploadUsage = "/upload [-f] PATH [NAME]; put a path with spaces in quotes"

// ParseUpload reads /upload's arguments.
func ParseUpload(args string) (UploadArgs, error) {
	a, err := SplitArgs(args)
	if err != nil {
		return UploadArgs{}, usage("/upload [-f] PATH [NAME]: %v", err)
	}
	var u UploadArgs
	if len(a) > 0 && (a[0] == "-f" || a[0] == "--overwrite") {
		u.Overwrite, a = true, a[1:]
	}
	if len(a) < 1 || len(a) > 2 {
		return UploadArgs{}, usage("%s", UploadUsage)
	}
	u.Path = expandHome(a[0])
	u.Name = filepath.Base(u.Path)
	if len(a) == 2 {
		u.Name = strings.Trim(a[1], "/")
	}
	return u, nil
}

// DownloadArgs is what /download [NAME|ID] [DEST] asks for.
type DownloadArgs struct {
	What string // a message id or a file name; empty if none was given
	Dest string // where to, with ~ expanded; empty for the default
}

// ParseDownload reads /download's arguments; what is required with
// need (line mode), optional otherwise (the full-screen client takes the
// selected or newest file).
func ParseDownload(args string, need bool) (DownloadArgs, error) {
	a, err := SplitArgs(args)
	min := 0
	if need {
		min = 1
	}
	if err != nil || len(a) < min || len(a) > 2 {
		if need {
			return DownloadArgs{}, usage("/download NAME|ID [DEST]; put a name with spaces in quotes")
		}
		return DownloadArgs{}, usage("/download [ID|NAME] [DEST]; put a name with spaces in quotes")
	}
	var d DownloadArgs
	if len(a) > 0 {
		d.What = a[0]
	}
	if len(a) == 2 {
		d.Dest = expandHome(a[1])
	}
	return d, nil
}

// StickerName is the file name a sticker is posted under.
func StickerName(sticker string) string {
	return "sticker-" + strings.ToLower(strings.TrimSpace(sticker)) + ".png"
}

// ScreenshotName is the file name of a screenshot taken at t: the time,
// and a random part, so that two taken in one second, or by two people,
// do not collide.
func ScreenshotName(t time.Time) string {
	var r [2]byte
	rand.Read(r[:])
	return "screenshot-" + t.Format("20060102-150405") + "-" + hex.EncodeToString(r[:]) + ".png"
}

// Sticker reads /sticker's argument, the name of a sticker in any case,
// and returns the file name to post it under and its PNG, from load. A
// name load does not know is a usage error with load's message.
func Sticker(args string, load func(name string) ([]byte, error)) (file string, png []byte, err error) {
	name := strings.ToLower(strings.TrimSpace(args))
	png, err = load(name)
	if err != nil {
		return "", nil, protocol.Errorf(command.CodeUsage, "%v", err)
	}
	return StickerName(name), png, nil
}

// Screenshot runs /screenshot's capture and returns the file name to
// post the image under, for the time at (see ScreenshotName), and the
// PNG. A capture that fails, as without a display, is a no_display error.
func Screenshot(capture func() ([]byte, error), at time.Time) (file string, png []byte, err error) {
	png, err = capture()
	if err != nil {
		return "", nil, protocol.Errorf("no_display", "%v", err)
	}
	return ScreenshotName(at), png, nil
}
