package files_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/client/files"
)

// step is a report of an upload of 100 MiB: at a time after its start,
// so many MiB done, in a state.
type step struct {
	at   time.Duration
	done int64
	st   string
}

// feed gives a bar the reports of steps.
func feed(b *files.Bar, clock *time.Time, start time.Time, steps []step) {
	for _, s := range steps {
		*clock = start.Add(s.at)
		b.Progress(files.Progress{Op: "upload", Name: "big.bin", Done: s.done << 20, Total: 100 << 20, State: s.st})
	}
}

// A short transfer shows nothing; a long one a bar, redrawn in place on
// a terminal and left at 100%, or a line at each tenth elsewhere.
func TestProgressBar(t *testing.T) {
	start := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	newBar := func(tty bool) (*files.Bar, *bytes.Buffer, *time.Time) {
		var out bytes.Buffer
		clock := start
		b := files.NewBar(&out, tty)
		b.SetClock(func() time.Time { return clock }, time.Second)
		return b, &out, &clock
	}

	b, out, clock := newBar(true)
	feed(b, clock, start, []step{{0, 0, ""}, {500 * time.Millisecond, 40, ""}, {800 * time.Millisecond, 100, "done"}})
	if out.Len() != 0 {
		t.Errorf("a transfer of under a second drew %q", out.String())
	}

	feed(b, clock, start, []step{{0, 0, ""}, {500 * time.Millisecond, 25, ""}, {1200 * time.Millisecond, 50, ""}, {1700 * time.Millisecond, 75, ""}, {2 * time.Second, 100, "done"}})
	got := out.String()
	draws := strings.Split(got, "\r\x1b[K")
	if len(draws) != 4 || draws[0] != "" {
		t.Fatalf("want three draws in place, got %q", got)
	}
	if want := "uploading big.bin  [==========>         ]  50%  50 MiB / 100 MiB"; draws[1] != want {
		t.Errorf("draw at 50%%:\n%q\nwant\n%q", draws[1], want)
	}
	if !strings.HasPrefix(draws[2], "uploading big.bin  [===============>    ]  75%") {
		t.Errorf("draw at 75%%: %q", draws[2])
	}
	if want := "uploading big.bin  [====================] 100%  100 MiB / 100 MiB\n"; draws[3] != want {
		t.Errorf("last draw %q, want %q", draws[3], want)
	}

	// A retry is a line of its own, after the bar.
	out.Reset()
	feed(b, clock, start, []step{{0, 0, ""}, {1500 * time.Millisecond, 30, ""}})
	b.Progress(files.Progress{Op: "upload", Name: "big.bin", Done: 30 << 20, Total: 100 << 20, State: "retrying", Attempt: 1, Err: "connection reset"})
	if want := "\n" + "upload of big.bin interrupted at 30 MiB (connection reset); retrying, attempt 2\n"; !strings.HasSuffix(out.String(), want) {
		t.Errorf("retry: %q", out.String())
	}

	// Not a terminal: a line for each tenth reached, and the end.
	b, out, clock = newBar(false)
	feed(b, clock, start, []step{{0, 0, ""}, {1100 * time.Millisecond, 12, ""}, {1200 * time.Millisecond, 15, ""}, {1300 * time.Millisecond, 21, ""}, {1400 * time.Millisecond, 100, "done"}})
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], " 12%") || !strings.Contains(lines[1], " 21%") || !strings.Contains(lines[2], "100%") {
		t.Errorf("lines: %q", lines)
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("carriage returns where there is no terminal")
	}

	// A hostile name cannot drive the terminal.
	b, out, clock = newBar(true)
	*clock = start
	b.Progress(files.Progress{Op: "download", Name: "x\x1b[2Jy", Total: 10})
	*clock = start.Add(2 * time.Second)
	b.Progress(files.Progress{Op: "download", Name: "x\x1b[2Jy", Done: 5, Total: 10})
	if strings.Contains(out.String(), "\x1b[2J") {
		t.Errorf("control sequence passed: %q", out.String())
	}
}

// Lines written through Above while a bar is drawn go above it: the bar
// is cleared, the line written, and the bar drawn again below it.
func TestProgressBarStaysBelowOtherOutput(t *testing.T) {
	start := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var term bytes.Buffer // standard output and standard error on one terminal
	clock := start
	b := files.NewBar(&term, true)
	b.SetClock(func() time.Time { return clock }, time.Second)
	events := b.Above(&term)

	events.Write([]byte("* before\n"))
	feed(b, &clock, start, []step{{0, 0, ""}, {2 * time.Second, 50, ""}})
	events.Write([]byte("15:04 #lobby <bob> hi [7]\n"))
	feed(b, &clock, start, []step{{3 * time.Second, 100, "done"}})
	events.Write([]byte("* uploaded big.bin\n"))

	bar50 := "uploading big.bin  [==========>         ]  50%  50 MiB / 100 MiB"
	want := "* before\n" +
		"\r\x1b[K" + bar50 +
		"\r\x1b[K" + "15:04 #lobby <bob> hi [7]\n" + bar50 +
		"\r\x1b[K" + "uploading big.bin  [====================] 100%  100 MiB / 100 MiB\n" +
		"* uploaded big.bin\n"
	if got := term.String(); got != want {
		t.Errorf("the terminal got\n%q\nwant\n%q", got, want)
	}
}
