// Package resources holds the assets shipped with Parley and embeds the
// ones programs use at run time, so that they work from any directory.
//
// The stickers in stickers/ are original drawings made by
// internal/stickergen; regenerate them with go generate.
package resources

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:generate go run ./internal/stickergen -out stickers

//go:embed stickers/*.png
var stickers embed.FS

// ErrNoSticker is wrapped by Sticker for a name it does not know.
var ErrNoSticker = fmt.Errorf("no such sticker")

// StickerNames lists the stickers by name, sorted.
func StickerNames() []string {
	entries, _ := fs.ReadDir(stickers, "stickers")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".png"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Sticker returns the PNG image of the named sticker. Names are compared
// without regard to case.
func Sticker(name string) ([]byte, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" || strings.ContainsAny(name, "/\\.") {
		return nil, fmt.Errorf("%w %q; there are: %s", ErrNoSticker, name, strings.Join(StickerNames(), ", "))
	}
	b, err := stickers.ReadFile("stickers/" + name + ".png")
	if err != nil {
		return nil, fmt.Errorf("%w %q; there are: %s", ErrNoSticker, name, strings.Join(StickerNames(), ", "))
	}
	return b, nil
}
