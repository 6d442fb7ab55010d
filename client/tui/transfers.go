package tui

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/progress"
	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client/lines"
	"github.com/parley-chat/parley/shared/protocol"
)

// transferList is the transfers in progress, one line each with a
// progress bar, above the input line. Its update takes their progress
// and their ends, and hands back each transfer that ended; its view is
// the newest lines that fit.
type transferList struct {
	list []*transfer
	next int // the number of the last transfer started
	w    int
	rows int // how many lines it may use
}

// SetSize sets the width of the lines and how many of them fit.
func (l *transferList) SetSize(w, rows int) { l.w, l.rows = w, rows }

// start runs work as transfer t, in a command under ctx, and reports
// its progress.
func (l *transferList) start(ctx context.Context, t *transfer, work func(ctx context.Context, progress func(done, total int64)) (protocol.File, string, error)) tea.Cmd {
	l.next++
	t.id = l.next
	ctx, cancel := context.WithCancel(ctx)
	t.cancel = cancel
	t.updates = make(chan [2]int64, 1)
	t.bar = progress.New(progress.WithWidth(20), progress.WithoutPercentage(), progress.WithColors(colAccent))
	l.list = append(l.list, t)
	ch := t.updates
	report := func(done, total int64) {
		// Keep only the newest value: the screen need not see them all.
		select {
		case ch <- [2]int64{done, total}:
		default:
			select {
			case <-ch:
			default:
			}
			select {
			case ch <- [2]int64{done, total}:
			default:
			}
		}
	}
	id := t.id
	run := func() tea.Msg {
		defer close(ch)
		f, path, err := work(ctx, report)
		return transferDoneMsg{id: id, file: f, path: path, err: err}
	}
	return tea.Batch(run, waitProgress(t.id, ch))
}

func waitProgress(id int, ch <-chan [2]int64) tea.Cmd {
	return func() tea.Msg {
		p, ok := <-ch
		if !ok {
			return nil
		}
		return transferProgressMsg{id: id, done: p[0], total: p[1]}
	}
}

func (l *transferList) find(id int) *transfer {
	for _, t := range l.list {
		if t.id == id {
			return t
		}
	}
	return nil
}

// Update takes a transfer's progress, and waits for more of it, or its
// end: then the transfer leaves the list and is returned as ended.
func (l *transferList) Update(msg tea.Msg) (ended *transfer, cmd tea.Cmd) {
	switch msg := msg.(type) {
	case transferProgressMsg:
		t := l.find(msg.id)
		if t == nil {
			return nil, nil
		}
		t.done, t.total = msg.done, msg.total
		return nil, waitProgress(t.id, t.updates)
	case transferDoneMsg:
		t := l.find(msg.id)
		if t == nil {
			return nil, nil
		}
		for i, x := range l.list {
			if x == t {
				l.list = append(l.list[:i], l.list[i+1:]...)
				break
			}
		}
		t.cancel()
		return t, nil
	}
	return nil, nil
}

// cancel cancels the newest transfer, or the one numbered arg; it
// reports false if there is none.
func (l *transferList) cancel(arg string) bool {
	if len(l.list) == 0 {
		return false
	}
	t := l.list[len(l.list)-1]
	if n, err := strconv.Atoi(strings.TrimSpace(arg)); err == nil {
		if x := l.find(n); x != nil {
			t = x
		}
	}
	t.cancel()
	return true
}

// cancelAll cancels every transfer, when the screen ends.
func (l *transferList) cancelAll() {
	for _, t := range l.list {
		t.cancel()
	}
}

// View is a line for each transfer that fits, oldest first.
func (l *transferList) View() []string {
	var out []string
	for i, t := range l.list {
		if i >= l.rows {
			break
		}
		out = append(out, l.line(t))
	}
	return out
}

// line draws one transfer with its progress bar.
func (l *transferList) line(t *transfer) string {
	w := l.w
	arrow := stOK.Render("↑ ")
	if !t.up {
		arrow = stRoom.Render("↓ ")
	}
	pct := 0.0
	if t.total > 0 {
		pct = float64(t.done) / float64(t.total)
	}
	size := lines.HumanSize(t.done)
	if t.total > 0 {
		size += " / " + lines.HumanSize(t.total)
	}
	right := fmt.Sprintf(" %3.0f%%  %s  ", pct*100, size) + stKey.Render("^X") + stDim.Render(" cancel")
	nameW := max(6, w-2-22-width(right))
	return fit(arrow+fit(t.name, nameW)+" "+t.bar.ViewAs(pct)+right, w)
}
