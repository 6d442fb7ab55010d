// Command stickergen draws Parley's stickers and writes them as PNG files.
// Every sticker is described here as a few filled shapes on a transparent
// square; the shapes are sampled several times per pixel so their edges
// are smooth. The output is deterministic, so the committed images can be
// checked against a fresh run.
//
//	go run ./resources/internal/stickergen -out resources/stickers
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/parley-chat/parley/resources/internal/stickerart"
)

func main() {
	out := flag.String("out", "stickers", "write the PNG files into this `directory`")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "stickergen:", err)
		os.Exit(1)
	}
	for _, s := range stickerart.All() {
		b, err := stickerart.PNG(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, "stickergen:", s.Name, err)
			os.Exit(1)
		}
		if err := os.WriteFile(filepath.Join(*out, s.Name+".png"), b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "stickergen:", err)
			os.Exit(1)
		}
	}
}
