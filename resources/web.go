package resources

import (
	"embed"
	"io/fs"
)

//go:generate go run ./internal/emojigen -out web/emoji.json

// web holds the web client's static files: hand-written HTML, CSS and
// JavaScript with no build step, and the emoji table generated from the
// terminal client's (see internal/emojitable).
//
//go:embed web
var web embed.FS

// Web is the web client's files, index.html at the root.
func Web() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // "web" is embedded above
	}
	return sub
}

// Stickers is the sticker images, NAME.png at the root.
func Stickers() fs.FS {
	sub, err := fs.Sub(stickers, "stickers")
	if err != nil {
		panic(err)
	}
	return sub
}
