package tui

import (
	"context"
	"errors"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/shared/protocol"
)

func TestTransferListComponent(t *testing.T) {
	var l transferList
	l.SetSize(80, 3)
	work := func(ctx context.Context, report func(done, total int64)) (protocol.File, string, error) {
		report(50, 100)
		<-ctx.Done() // until cancelled
		return protocol.File{}, "", ctx.Err()
	}
	first := l.start(context.Background(), &transfer{up: true, name: "report.pdf"}, work)
	second := l.start(context.Background(), &transfer{name: "photo.png"}, work)
	if len(l.list) != 2 || l.list[0].id != 1 || l.list[1].id != 2 {
		t.Fatalf("transfers %+v", l.list)
	}
	ended := make(chan tea.Msg, 2)
	var progress []tea.Cmd
	for _, cmd := range []tea.Cmd{first, second} {
		batch, ok := cmd().(tea.BatchMsg)
		if !ok || len(batch) != 2 {
			t.Fatalf("start returns %T, want a batch of the work and its progress", cmd())
		}
		go func() { ended <- batch[0]() }()
		progress = append(progress, batch[1])
	}
	for _, wait := range progress {
		msg := wait()
		if _, ok := msg.(transferProgressMsg); !ok {
			t.Fatalf("progress is %T", msg)
		}
		if _, next := l.Update(msg); next == nil {
			t.Fatal("progress waits for no more")
		}
	}
	rows := l.View()
	if len(rows) != 2 {
		t.Fatalf("view has %d lines, want 2", len(rows))
	}
	v := ansiStrip(strings.Join(rows, "\n"))
	for _, want := range []string{"↑ report.pdf", "↓ photo.png", " 50%", "^X cancel"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	for i, r := range rows {
		if w := width(r); w != 80 {
			t.Errorf("line %d is %d cells wide, want 80", i, w)
		}
	}
	l.SetSize(80, 1)
	if rows := l.View(); len(rows) != 1 || !strings.Contains(ansiStrip(rows[0]), "report.pdf") {
		t.Errorf("with room for one line: %q", rows)
	}

	// ^X cancels the newest; /cancel 1 the first.
	if !l.cancel("") {
		t.Fatal("nothing to cancel")
	}
	msg := <-ended
	done, ok := msg.(transferDoneMsg)
	if !ok || done.id != 2 || !errors.Is(done.err, context.Canceled) {
		t.Fatalf("the cancelled transfer ended with %#v", msg)
	}
	if x, _ := l.Update(done); x == nil || x.name != "photo.png" || len(l.list) != 1 {
		t.Fatalf("the end of photo.png gave %v, leaving %d", x, len(l.list))
	}
	if x, _ := l.Update(done); x != nil {
		t.Error("a transfer ended twice")
	}
	l.cancel("1")
	if x, _ := l.Update(<-ended); x == nil || x.name != "report.pdf" || len(l.list) != 0 {
		t.Fatalf("the end of report.pdf gave %v", x)
	}
	if l.cancel("") {
		t.Error("cancel finds a transfer in an empty list")
	}
	if msg := progress[0](); msg != nil {
		t.Errorf("progress after the end: %#v", msg)
	}
}
