// Package stickerart describes Parley's stickers as layers of filled
// shapes and renders them to images. The stickergen command writes them
// out; the resources package embeds what it wrote.
package stickerart

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
)

// Size is the width and height of every sticker, in pixels.
const Size = 96

// samples is how many samples per pixel, per axis, smooth the edges.
const samples = 4

// Shape reports whether a point is inside it. Coordinates run from -1 to 1
// on both axes, with y growing downwards.
type Shape func(x, y float64) bool

// Layer is a shape filled with one colour. Later layers paint over
// earlier ones.
type Layer struct {
	Fill  color.NRGBA
	Shape Shape
}

// Sticker is a named picture.
type Sticker struct {
	Name   string
	Layers []Layer
}

// Render draws a sticker on a transparent square of Size pixels.
func Render(s Sticker) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, Size, Size))
	const n = samples * samples
	for py := 0; py < Size; py++ {
		for px := 0; px < Size; px++ {
			var r, g, b, a float64
			for sy := 0; sy < samples; sy++ {
				for sx := 0; sx < samples; sx++ {
					x := (float64(px)+(float64(sx)+0.5)/samples)/Size*2 - 1
					y := (float64(py)+(float64(sy)+0.5)/samples)/Size*2 - 1
					var sr, sg, sb, sa float64 // premultiplied, 0..1
					for _, l := range s.Layers {
						if !l.Shape(x, y) {
							continue
						}
						la := float64(l.Fill.A) / 255
						sr = float64(l.Fill.R)/255*la + sr*(1-la)
						sg = float64(l.Fill.G)/255*la + sg*(1-la)
						sb = float64(l.Fill.B)/255*la + sb*(1-la)
						sa = la + sa*(1-la)
					}
					r, g, b, a = r+sr, g+sg, b+sb, a+sa
				}
			}
			r, g, b, a = r/n, g/n, b/n, a/n
			if a == 0 {
				continue
			}
			img.SetNRGBA(px, py, color.NRGBA{
				R: uint8(math.Round(r / a * 255)),
				G: uint8(math.Round(g / a * 255)),
				B: uint8(math.Round(b / a * 255)),
				A: uint8(math.Round(a * 255)),
			})
		}
	}
	return img
}

// PNG renders a sticker and encodes it as PNG.
func PNG(s Sticker) ([]byte, error) {
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, Render(s)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// All returns every sticker, in the order people see them listed.
func All() []Sticker {
	return []Sticker{smile(), heart(), star(), ok(), coffee(), cat()}
}

func rgb(r, g, b uint8) color.NRGBA { return color.NRGBA{r, g, b, 255} }

func rgba(r, g, b, a uint8) color.NRGBA { return color.NRGBA{r, g, b, a} }

// Shapes.

func disc(cx, cy, r float64) Shape {
	return func(x, y float64) bool { return (x-cx)*(x-cx)+(y-cy)*(y-cy) <= r*r }
}

func ellipse(cx, cy, rx, ry float64) Shape {
	return func(x, y float64) bool {
		dx, dy := (x-cx)/rx, (y-cy)/ry
		return dx*dx+dy*dy <= 1
	}
}

// arc is a ring between radii r0 and r1, from angle a0 to a1 (radians,
// clockwise from the positive x axis because y grows downwards).
func arc(cx, cy, r0, r1, a0, a1 float64) Shape {
	return func(x, y float64) bool {
		d := math.Hypot(x-cx, y-cy)
		if d < r0 || d > r1 {
			return false
		}
		a := math.Atan2(y-cy, x-cx)
		return a >= a0 && a <= a1
	}
}

// segment is a line from (x0,y0) to (x1,y1) with round ends, w thick.
func segment(x0, y0, x1, y1, w float64) Shape {
	return func(x, y float64) bool {
		dx, dy := x1-x0, y1-y0
		t := ((x-x0)*dx + (y-y0)*dy) / (dx*dx + dy*dy)
		t = math.Max(0, math.Min(1, t))
		px, py := x0+t*dx, y0+t*dy
		return math.Hypot(x-px, y-py) <= w/2
	}
}

// polygon is the inside of a closed polygon, by the even-odd rule.
func polygon(pts ...[2]float64) Shape {
	return func(x, y float64) bool {
		in := false
		for i, j := 0, len(pts)-1; i < len(pts); j, i = i, i+1 {
			xi, yi, xj, yj := pts[i][0], pts[i][1], pts[j][0], pts[j][1]
			if (yi > y) != (yj > y) && x < (xj-xi)*(y-yi)/(yj-yi)+xi {
				in = !in
			}
		}
		return in
	}
}

func roundRect(x0, y0, x1, y1, r float64) Shape {
	return func(x, y float64) bool {
		if x < x0 || x > x1 || y < y0 || y > y1 {
			return false
		}
		cx := math.Max(x0+r, math.Min(x1-r, x))
		cy := math.Max(y0+r, math.Min(y1-r, y))
		return math.Hypot(x-cx, y-cy) <= r
	}
}

func union(shapes ...Shape) Shape {
	return func(x, y float64) bool {
		for _, s := range shapes {
			if s(x, y) {
				return true
			}
		}
		return false
	}
}

// heartShape is the classic implicit heart curve, scaled by k.
func heartShape(k, dy float64) Shape {
	return func(x, y float64) bool {
		X, Y := x/k, -(y-dy)/k
		a := X*X + Y*Y - 1
		return a*a*a-X*X*Y*Y*Y <= 0
	}
}

func starPoints(cx, cy, outer, inner float64) [][2]float64 {
	pts := make([][2]float64, 10)
	for i := range pts {
		r := outer
		if i%2 == 1 {
			r = inner
		}
		a := -math.Pi/2 + float64(i)*math.Pi/5
		pts[i] = [2]float64{cx + r*math.Cos(a), cy + r*math.Sin(a)}
	}
	return pts
}

// wave is a wavy vertical stroke of steam.
func wave(cx, y0, y1, amp, w float64) Shape {
	return func(x, y float64) bool {
		if y < y0 || y > y1 {
			return false
		}
		t := (y - y0) / (y1 - y0)
		return math.Abs(x-(cx+amp*math.Sin(t*2*math.Pi))) <= w/2
	}
}

// The stickers.

func smile() Sticker {
	ink := rgb(0x5a, 0x3a, 0x12)
	return Sticker{Name: "smile", Layers: []Layer{
		{ink, disc(0, 0, 0.94)},
		{rgb(0xff, 0xcc, 0x33), disc(0, 0, 0.87)},
		{rgb(0xff, 0xe0, 0x7a), ellipse(-0.3, -0.45, 0.32, 0.18)},
		{ink, ellipse(-0.32, -0.2, 0.1, 0.17)},
		{ink, ellipse(0.32, -0.2, 0.1, 0.17)},
		{rgb(0xff, 0xff, 0xff), disc(-0.29, -0.27, 0.04)},
		{rgb(0xff, 0xff, 0xff), disc(0.35, -0.27, 0.04)},
		{rgba(0xff, 0x6f, 0x6f, 0x90), ellipse(-0.58, 0.18, 0.15, 0.09)},
		{rgba(0xff, 0x6f, 0x6f, 0x90), ellipse(0.58, 0.18, 0.15, 0.09)},
		{ink, arc(0, 0.05, 0.42, 0.52, math.Pi*0.15, math.Pi*0.85)},
	}}
}

func heart() Sticker {
	return Sticker{Name: "heart", Layers: []Layer{
		{rgb(0x8c, 0x10, 0x2a), heartShape(0.84, 0.1)},
		{rgb(0xe8, 0x2a, 0x4f), heartShape(0.75, 0.08)},
		{rgba(0xff, 0xff, 0xff, 0xb0), ellipse(-0.42, -0.35, 0.16, 0.1)},
		{rgba(0xff, 0xff, 0xff, 0xb0), disc(-0.2, -0.45, 0.05)},
	}}
}

func star() Sticker {
	return Sticker{Name: "star", Layers: []Layer{
		{rgb(0xb3, 0x6b, 0x00), polygon(starPoints(0, 0.06, 1.0, 0.45)...)},
		{rgb(0xff, 0xc1, 0x07), polygon(starPoints(0, 0.06, 0.86, 0.38)...)},
		{rgb(0xff, 0xe0, 0x82), polygon(starPoints(-0.04, 0.0, 0.42, 0.18)...)},
		{rgb(0x5a, 0x3a, 0x12), disc(-0.13, 0.08, 0.05)},
		{rgb(0x5a, 0x3a, 0x12), disc(0.13, 0.08, 0.05)},
		{rgb(0x5a, 0x3a, 0x12), arc(0, 0.14, 0.1, 0.15, math.Pi*0.2, math.Pi*0.8)},
	}}
}

func ok() Sticker {
	white := rgb(0xff, 0xff, 0xff)
	return Sticker{Name: "ok", Layers: []Layer{
		{rgb(0x1b, 0x6e, 0x3a), disc(0, 0, 0.95)},
		{rgb(0x2e, 0xb8, 0x5c), disc(0, 0, 0.87)},
		{white, segment(-0.45, 0.02, -0.12, 0.36, 0.2)},
		{white, segment(-0.12, 0.36, 0.5, -0.34, 0.2)},
	}}
}

func coffee() Sticker {
	cup := rgb(0xf4, 0xf1, 0xea)
	edge := rgb(0x6d, 0x4c, 0x41)
	steam := rgba(0x9e, 0x9e, 0x9e, 0xd0)
	return Sticker{Name: "coffee", Layers: []Layer{
		{steam, wave(-0.25, -0.92, -0.35, 0.07, 0.08)},
		{steam, wave(0.0, -0.98, -0.35, 0.07, 0.08)},
		{steam, wave(0.25, -0.92, -0.35, 0.07, 0.08)},
		{edge, arc(0.55, 0.2, 0.15, 0.3, -math.Pi, math.Pi)},
		{edge, roundRect(-0.66, -0.3, 0.6, 0.82, 0.18)},
		{cup, roundRect(-0.58, -0.22, 0.52, 0.74, 0.13)},
		{rgb(0x7b, 0x4a, 0x2d), ellipse(-0.03, -0.16, 0.52, 0.09)},
		{rgb(0xe8, 0x6b, 0x8a), heartShape(0.18, 0.3)},
		{rgb(0x8d, 0x6e, 0x63), ellipse(-0.03, 0.9, 0.8, 0.07)},
	}}
}

func cat() Sticker {
	fur := rgb(0xf5, 0x9e, 0x42)
	dark := rgb(0x4a, 0x2c, 0x10)
	pink := rgb(0xff, 0x9e, 0xb5)
	return Sticker{Name: "cat", Layers: []Layer{
		{dark, polygon([2]float64{-0.85, -0.95}, [2]float64{-0.25, -0.55}, [2]float64{-0.8, -0.15})},
		{dark, polygon([2]float64{0.85, -0.95}, [2]float64{0.25, -0.55}, [2]float64{0.8, -0.15})},
		{dark, ellipse(0, 0.12, 0.92, 0.8)},
		{fur, polygon([2]float64{-0.78, -0.82}, [2]float64{-0.3, -0.5}, [2]float64{-0.74, -0.2})},
		{fur, polygon([2]float64{0.78, -0.82}, [2]float64{0.3, -0.5}, [2]float64{0.74, -0.2})},
		{fur, ellipse(0, 0.12, 0.85, 0.73)},
		{pink, polygon([2]float64{-0.68, -0.66}, [2]float64{-0.4, -0.46}, [2]float64{-0.66, -0.3})},
		{pink, polygon([2]float64{0.68, -0.66}, [2]float64{0.4, -0.46}, [2]float64{0.66, -0.3})},
		{rgb(0xff, 0xf3, 0xe0), ellipse(0, 0.42, 0.42, 0.3)},
		{rgb(0x3f, 0xa3, 0x4d), ellipse(-0.33, 0.0, 0.15, 0.17)},
		{rgb(0x3f, 0xa3, 0x4d), ellipse(0.33, 0.0, 0.15, 0.17)},
		{dark, ellipse(-0.33, 0.0, 0.05, 0.14)},
		{dark, ellipse(0.33, 0.0, 0.05, 0.14)},
		{pink, polygon([2]float64{-0.09, 0.24}, [2]float64{0.09, 0.24}, [2]float64{0, 0.34})},
		{dark, union(
			arc(-0.08, 0.36, 0.06, 0.1, 0, math.Pi),
			arc(0.08, 0.36, 0.06, 0.1, 0, math.Pi),
		)},
		{dark, union(
			segment(-0.25, 0.32, -0.8, 0.24, 0.03),
			segment(-0.25, 0.4, -0.8, 0.44, 0.03),
			segment(0.25, 0.32, 0.8, 0.24, 0.03),
			segment(0.25, 0.4, 0.8, 0.44, 0.03),
		)},
	}}
}
