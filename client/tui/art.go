package tui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/color"
	_ "image/png" // stickers are PNG
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/parley-chat/parley/shared/protocol"
)

// Stickers are drawn in the conversation with half blocks: each cell
// shows two pixels, one above the other.
const (
	artCols = 16
	artRows = 8
)

// indexStickers learns the checksum of each shipped sticker, so that a
// file message carrying one can be drawn.
func (m *Model) indexStickers() {
	for _, name := range m.cfg.StickerNames() {
		b, err := m.cfg.Sticker(name)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(b)
		key := hex.EncodeToString(sum[:])
		m.stickerSHA[key] = name
		if art := halfBlocks(b); art != nil {
			m.artCache[key] = art
		}
	}
}

// stickerArt is the picture of a sticker file message, or nil.
func (m *Model) stickerArt(f *protocol.File) []string {
	if f == nil || f.SHA256 == "" {
		return nil
	}
	return m.artCache[strings.ToLower(f.SHA256)]
}

// halfBlocks draws a PNG as artCols×artRows cells.
func halfBlocks(b []byte) []string {
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	bounds := img.Bounds()
	sample := func(x, y int) (color.NRGBA, bool) {
		// Average the block of source pixels under this one.
		x0 := bounds.Min.X + x*bounds.Dx()/artCols
		x1 := bounds.Min.X + (x+1)*bounds.Dx()/artCols
		y0 := bounds.Min.Y + y*bounds.Dy()/(artRows*2)
		y1 := bounds.Min.Y + (y+1)*bounds.Dy()/(artRows*2)
		var r, g, bl, a, n uint64
		for yy := y0; yy < max(y1, y0+1); yy++ {
			for xx := x0; xx < max(x1, x0+1); xx++ {
				cr, cg, cb, ca := img.At(xx, yy).RGBA()
				r, g, bl, a, n = r+uint64(cr), g+uint64(cg), bl+uint64(cb), a+uint64(ca), n+1
			}
		}
		if a/n < 0x8000 {
			return color.NRGBA{}, false
		}
		// Un-premultiply.
		return color.NRGBA{R: uint8(r * 255 / a), G: uint8(g * 255 / a), B: uint8(bl * 255 / a), A: 255}, true
	}
	out := make([]string, artRows)
	for row := range artRows {
		var sb strings.Builder
		for col := range artCols {
			top, okTop := sample(col, row*2)
			bot, okBot := sample(col, row*2+1)
			switch {
			case okTop && okBot:
				sb.WriteString(lipgloss.NewStyle().Foreground(top).Background(bot).Render("▀"))
			case okTop:
				sb.WriteString(lipgloss.NewStyle().Foreground(top).Render("▀"))
			case okBot:
				sb.WriteString(lipgloss.NewStyle().Foreground(bot).Render("▄"))
			default:
				sb.WriteString(" ")
			}
		}
		out[row] = sb.String()
	}
	return out
}

// truncateCells keeps the first w cells of styled text.
func truncateCells(s string, w int) string { return ansi.Truncate(s, w, "") }

// cutCells keeps the cells from left to right of styled text.
func cutCells(s string, left, right int) string { return ansi.Cut(s, left, right) }
