package files

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"
)

// Progress reports how a transfer advances.
type Progress struct {
	Op    string  `json:"op"` // "upload", "download" or "check" (hashing a local file)
	Name  string  `json:"name"`
	Done  int64   `json:"done"`
	Total int64   `json:"total"`
	Rate  float64 `json:"rate,omitempty"` // bytes per second, recently
	// State is "" while data moves, "retrying" after a failed attempt
	// (Err says why; Attempt counts), and "done" at the end.
	State   string `json:"state,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	Err     string `json:"error,omitempty"`
}

// Percent is how much is done, 0 to 100.
func (p Progress) Percent() int {
	if p.Total <= 0 {
		if p.State == "done" {
			return 100
		}
		return 0
	}
	return int(p.Done * 100 / p.Total)
}

// Sink is told how one transfer advances, from the goroutine running
// it: line mode prints a progress bar or JSON objects, the full-screen
// client draws its transfers panel. A sink must not block for long.
type Sink interface {
	Progress(Progress)
}

// SinkFunc makes a function a Sink.
type SinkFunc func(Progress)

// Progress calls f.
func (f SinkFunc) Progress(p Progress) { f(p) }

// reporter is where a transfer's meter reports: the client's Progress
// option and the transfer's own sink, whichever are set.
func (c *Client) reporter(sink Sink) func(Progress) {
	all := c.opts.Progress
	switch {
	case sink == nil:
		return all
	case all == nil:
		return sink.Progress
	}
	return func(p Progress) {
		all(p)
		sink.Progress(p)
	}
}

// meter counts bytes for one transfer and reports at most every interval,
// and always at the start, on a retry and at the end.
type meter struct {
	report   func(Progress)
	every    time.Duration
	p        Progress
	last     time.Time
	lastDone int64
	rate     float64
}

const reportEvery = 500 * time.Millisecond

func (c *Client) newMeter(report func(Progress), op, name string, total int64) *meter {
	return &meter{report: report, every: c.opts.ProgressEvery, p: Progress{Op: op, Name: name, Total: total}}
}

// at sets the count, as after a resume, and reports.
func (m *meter) at(done int64) {
	m.p.Done = done
	m.lastDone = done
	m.emit(time.Now(), true)
}

func (m *meter) add(n int) {
	m.p.Done += int64(n)
	now := time.Now()
	if now.Sub(m.last) >= m.every {
		m.emit(now, false)
	}
}

func (m *meter) emit(now time.Time, force bool) {
	if dt := now.Sub(m.last).Seconds(); !m.last.IsZero() && dt > 0 && !force {
		r := float64(m.p.Done-m.lastDone) / dt
		if m.rate == 0 {
			m.rate = r
		} else {
			m.rate = 0.7*r + 0.3*m.rate
		}
	}
	m.last, m.lastDone = now, m.p.Done
	if m.report != nil {
		p := m.p
		p.Rate = m.rate
		m.report(p)
	}
}

func (m *meter) retry(attempt int, err error) {
	m.p.State, m.p.Attempt, m.p.Err = "retrying", attempt, err.Error()
	m.emit(time.Now(), true)
	m.p.State, m.p.Err = "", ""
}

func (m *meter) done() {
	m.p.State = "done"
	m.emit(time.Now(), true)
}

// errStalled is the cause given when a transfer moved no data for the
// stall time.
var errStalled = errors.New("the transfer stalled")

// guard cancels a request that stops moving: each read of its body pushes
// the deadline on. The timer is reset by progress, never polled.
type guard struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	d      time.Duration
	once   sync.Once
}

func newGuard(parent context.Context, d time.Duration) *guard {
	ctx, cancel := context.WithCancelCause(parent)
	g := &guard{ctx: ctx, cancel: cancel, d: d}
	g.timer = time.AfterFunc(d, func() { cancel(errStalled) })
	return g
}

func (g *guard) kick() { g.timer.Reset(g.d) }

func (g *guard) stop() {
	g.once.Do(func() {
		g.timer.Stop()
		g.cancel(context.Canceled)
	})
}

// err explains a failure: the stall if that was the cause.
func (g *guard) err(err error) error {
	if c := context.Cause(g.ctx); errors.Is(c, errStalled) {
		return errStalled
	}
	return err
}

// countingReader counts what passes through it into a meter and keeps a
// guard from firing.
type countingReader struct {
	r io.Reader
	m *meter
	g *guard
}

func (c *countingReader) Read(p []byte) (int, error) {
	// A cancelled transfer stops at once: the connection is closed by
	// another goroutine, and data already on its way must not finish
	// the transfer meanwhile.
	if err := c.g.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if n > 0 {
		c.g.kick()
		c.m.add(n)
	}
	return n, err
}
