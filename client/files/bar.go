package files

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Bar is line mode's progress display in text mode, on standard error so
// that standard output keeps only the events and notices. A transfer
// that ends within Delay shows nothing; a longer one shows a bar:
//
//	uploading holiday.bin  [=========>          ]  48%  2.4 MiB / 5.0 MiB  1.1 MiB/s
//
// On a terminal the bar is redrawn in place and left at 100% when the
// transfer ends; elsewhere (a log file) a line is written at each tenth
// of the way. A retry is a line of its own. The bar draws from the
// reports it is given, and never waits on a clock of its own.
type Bar struct {
	w     io.Writer
	tty   bool
	now   func() time.Time
	delay time.Duration

	mu      sync.Mutex
	key     string    // the transfer shown or being timed: op and name
	started time.Time // when its first report came
	shown   bool      // a bar of it is on the screen
	tenth   int       // on a non-terminal: the tenths written so far
	last    string    // the bar last drawn
}

// NewBar returns a progress bar writing to w, which is a terminal if tty.
func NewBar(w io.Writer, tty bool) *Bar {
	return &Bar{w: w, tty: tty, now: time.Now, delay: time.Second}
}

// SetClock replaces the clock and the delay before a bar shows, for
// tests.
func (b *Bar) SetClock(now func() time.Time, delay time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now, b.delay = now, delay
}

const barWidth = 20

// Progress takes one report.
func (b *Bar) Progress(p Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	key := p.Op + "\x00" + p.Name
	if key != b.key {
		b.endLine()
		b.key, b.started, b.shown, b.tenth = key, now, false, 0
	}
	switch p.State {
	case "retrying":
		b.endLine()
		v := verbs[p.Op]
		if v[1] == "" {
			v[1] = p.Op
		}
		fmt.Fprintf(b.w, "%s of %s interrupted at %s (%s); retrying, attempt %d\n", v[1], p.Name, Size(p.Done), p.Err, p.Attempt+1)
		return
	case "done":
		if b.shown {
			b.draw(p, true)
			b.endLine()
		}
		b.key = ""
		return
	}
	if !b.shown && now.Sub(b.started) < b.delay {
		return
	}
	if !b.tty {
		t := p.Percent() / 10
		if b.shown && t <= b.tenth {
			return
		}
		b.tenth = t
	}
	b.draw(p, false)
	b.shown = true
}

// draw writes the bar of p: over the last one on a terminal, as a line
// elsewhere.
func (b *Bar) draw(p Progress, final bool) {
	if !b.tty && final && b.tenth >= 10 {
		return
	}
	v := verbs[p.Op]
	if v[0] == "" {
		v[0] = p.Op
	}
	pct := p.Percent()
	if final {
		pct = 100
	}
	fill := pct * barWidth / 100
	bar := strings.Repeat("=", fill)
	if fill < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-fill-1)
	}
	size := Size(p.Done)
	if p.Total >= 0 {
		size += " / " + Size(p.Total)
	}
	rate := ""
	if p.Rate > 0 && !final {
		rate = "  " + Size(int64(p.Rate)) + "/s"
	}
	line := fmt.Sprintf("%s %s  [%s] %3d%%  %s%s", v[0], shorten(p.Name, 32), bar, pct, size, rate)
	if b.tty {
		// Clear what a longer line left, then draw over it.
		b.last = line
		fmt.Fprintf(b.w, "\r\x1b[K%s", line)
		return
	}
	fmt.Fprintln(b.w, line)
}

// Above returns a writer to w, which shares the terminal with the bar:
// each write clears a bar drawn in place first and draws it again after,
// below what was written, so that lines printed during a transfer (the
// events of line mode) do not run into the bar. Writes are whole lines.
func (b *Bar) Above(w io.Writer) io.Writer { return &above{b: b, w: w} }

type above struct {
	b *Bar
	w io.Writer
}

func (a *above) Write(p []byte) (int, error) {
	b := a.b
	b.mu.Lock()
	defer b.mu.Unlock()
	drawn := b.shown && b.tty
	if drawn {
		io.WriteString(b.w, "\r\x1b[K")
	}
	n, err := a.w.Write(p)
	if drawn {
		io.WriteString(b.w, b.last)
	}
	return n, err
}

// endLine ends a bar drawn in place, so that what comes next starts on
// a line of its own.
func (b *Bar) endLine() {
	if b.shown && b.tty {
		io.WriteString(b.w, "\n")
	}
	b.shown = false
}

// shorten cuts s to at most n characters, with an ellipsis in the
// middle, and defuses control characters.
func shorten(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	half := (n - 1) / 2
	return string(r[:half]) + "…" + string(r[len(r)-(n-1-half):])
}
