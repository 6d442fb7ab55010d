package resources_test

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/parley-chat/parley/resources"
	"github.com/parley-chat/parley/resources/internal/stickerart"
)

func TestStickersDecode(t *testing.T) {
	names := resources.StickerNames()
	if len(names) < 3 {
		t.Fatalf("StickerNames() = %v, want at least 3", names)
	}
	for _, n := range names {
		b, err := resources.Sticker(n)
		if err != nil {
			t.Fatalf("Sticker(%q): %v", n, err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("sticker %s is not a PNG: %v", n, err)
		}
		if got := img.Bounds().Dx(); got != stickerart.Size {
			t.Errorf("sticker %s is %d pixels wide, want %d", n, got, stickerart.Size)
		}
	}
}

func TestStickerUnknown(t *testing.T) {
	for _, n := range []string{"", "nope", "../resources", "smile.png"} {
		if _, err := resources.Sticker(n); !errors.Is(err, resources.ErrNoSticker) {
			t.Errorf("Sticker(%q) error = %v, want ErrNoSticker", n, err)
		}
	}
	if _, err := resources.Sticker(" Smile "); err != nil {
		t.Errorf("Sticker is case-insensitive: %v", err)
	}
}

// TestStickersUpToDate checks that the committed images are what the
// generator draws, so that a change to a drawing is not forgotten.
func TestStickersUpToDate(t *testing.T) {
	for _, s := range stickerart.All() {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			want, err := stickerart.PNG(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(filepath.Join("stickers", s.Name+".png"))
			if err != nil {
				t.Fatalf("%v; run go generate ./resources", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("stickers/%s.png differs from the drawing; run go generate ./resources", s.Name)
			}
		})
	}
}
