// Package capture takes screenshots: every display, composed into one
// image as the displays are arranged, encoded as PNG.
package capture

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"log"
	"os"
	"runtime"
	"sync"

	"github.com/jezek/xgb"
	"github.com/kbinani/screenshot"
)

// ErrNoDisplay is wrapped by the errors of Screens and PNG when there is
// no display to capture: no X server or desktop session is reachable.
var ErrNoDisplay = errors.New("no display to capture")

var quietOnce sync.Once

// quiet stops the X client library from writing to stderr, where its
// messages would land in the middle of a full-screen terminal interface.
func quiet() {
	quietOnce.Do(func() { xgb.Logger = log.New(io.Discard, "", 0) })
}

// Screens captures every active display into one image. Displays keep
// their relative positions; gaps between them stay transparent.
func Screens() (*image.RGBA, error) {
	quiet()
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" &&
		os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
		return nil, fmt.Errorf("%w: neither DISPLAY nor WAYLAND_DISPLAY is set (run inside a desktop session or under an X server)", ErrNoDisplay)
	}
	n := screenshot.NumActiveDisplays()
	if n <= 0 {
		where := os.Getenv("DISPLAY")
		if where == "" {
			where = os.Getenv("WAYLAND_DISPLAY")
		}
		return nil, fmt.Errorf("%w: cannot reach the display %q", ErrNoDisplay, where)
	}
	var all image.Rectangle
	bounds := make([]image.Rectangle, n)
	for i := range n {
		bounds[i] = screenshot.GetDisplayBounds(i)
		all = all.Union(bounds[i])
	}
	if all.Empty() {
		return nil, fmt.Errorf("%w: the displays report no size", ErrNoDisplay)
	}
	out := image.NewRGBA(image.Rect(0, 0, all.Dx(), all.Dy()))
	for i, b := range bounds {
		if b.Empty() {
			continue
		}
		img, err := screenshot.CaptureRect(b)
		if err != nil {
			return nil, fmt.Errorf("capture display %d: %w", i+1, err)
		}
		draw.Draw(out, b.Sub(all.Min), img, img.Bounds().Min, draw.Src)
	}
	return out, nil
}

// PNG captures every display and encodes the result as PNG.
func PNG() ([]byte, error) {
	img, err := Screens()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encode screenshot: %w", err)
	}
	return buf.Bytes(), nil
}
