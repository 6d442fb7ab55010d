package files

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
)

// Printer shows what the file commands report. Line mode prints lines;
// the terminal interface renders the same values its own way.
type Printer interface {
	// Progress is called as transfers advance, from the goroutine running
	// the command.
	Progress(Progress)
	Listing(*Listing)
	Notice(Notice)
}

// Notice reports a finished file operation.
type Notice struct {
	Type     string `json:"type"` // "uploaded", "downloaded" or "removed"
	Path     string `json:"path"` // in the shared folder, or in the private space shared with With
	With     string `json:"with,omitempty"`
	Size     int64  `json:"size,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Dest     string `json:"dest,omitempty"` // where a download was saved
	Verified bool   `json:"verified,omitempty"`
	Posted   string `json:"posted,omitempty"` // the conversation an upload was announced in
}

// SyncWriter serializes writes, so that lines written whole by different
// goroutines never interleave.
type SyncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// NewSyncWriter wraps w.
func NewSyncWriter(w io.Writer) *SyncWriter { return &SyncWriter{w: w} }

func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// LinePrinter prints reports as lines of text, or with JSON as one JSON
// object per line: {"type":"progress",…}, {"type":"files",…} and the
// notices. Each line goes out in a single write.
type LinePrinter struct {
	w    io.Writer
	json bool
}

// NewLinePrinter returns a printer writing to w.
func NewLinePrinter(w io.Writer, asJSON bool) *LinePrinter { return &LinePrinter{w: w, json: asJSON} }

func (p *LinePrinter) line(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	s = strings.ReplaceAll(s, "\n", "\n  ")
	io.WriteString(p.w, s+"\n")
}

func (p *LinePrinter) obj(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	p.w.Write(append(b, '\n'))
}

// Size formats a byte count for people: 512 B, 1.5 MiB.
func Size(n int64) string {
	if n < 0 {
		return "?"
	}
	return humanize.IBytes(uint64(n))
}

var verbs = map[string][2]string{
	"upload":   {"uploading", "upload"},
	"download": {"downloading", "download"},
	"check":    {"checking", "check"},
}

// Progress prints one progress line.
func (p *LinePrinter) Progress(pr Progress) {
	if p.json {
		p.obj(struct {
			Type string `json:"type"`
			Progress
			Percent int `json:"percent"`
		}{"progress", pr, pr.Percent()})
		return
	}
	v := verbs[pr.Op]
	if v[0] == "" {
		v = [2]string{pr.Op, pr.Op}
	}
	switch pr.State {
	case "done":
		// The notice that follows says so.
	case "retrying":
		p.line("* %s of %s interrupted at %s (%s); retrying, attempt %d", v[1], pr.Name, Size(pr.Done), pr.Err, pr.Attempt+1)
	default:
		total := "?"
		if pr.Total >= 0 {
			total = Size(pr.Total)
		}
		rate := ""
		if pr.Rate > 0 {
			rate = ", " + Size(int64(pr.Rate)) + "/s"
		}
		p.line("* %s %s: %d%% (%s of %s%s)", v[0], pr.Name, pr.Percent(), Size(pr.Done), total, rate)
	}
}

// Listing prints a folder's entries, folders first.
func (p *LinePrinter) Listing(l *Listing) {
	if p.json {
		p.obj(struct {
			Type string `json:"type"`
			*Listing
		}{"files", l})
		return
	}
	where := Place(l.With)
	switch {
	case l.Path != "" && l.With != "":
		where = l.Path + " in " + where
	case l.Path != "":
		where = l.Path
	}
	if len(l.Entries) == 0 {
		p.line("* %s is empty", where)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "* %s (%d):", where, len(l.Entries))
	for _, e := range l.Entries {
		name := e.Name
		size := Size(e.Size)
		if e.Dir {
			name += "/"
			size = ""
		}
		by := ""
		switch {
		case e.Uploader != "":
			by = "  from " + e.Uploader
		case !e.Dir:
			by = "  copied in by hand"
		}
		fmt.Fprintf(&b, "\n%-32s %10s  %s%s", name, size, e.Mtime.Local().Format(time.DateTime[:16]), by)
	}
	p.line("%s", b.String())
}

// Notice prints a finished operation.
func (p *LinePrinter) Notice(n Notice) {
	if p.json {
		p.obj(n)
		return
	}
	switch n.Type {
	case "uploaded":
		to := ""
		if n.With != "" {
			to = " to " + Place(n.With)
		}
		where := ""
		if n.Posted != "" {
			where = " and announced it in " + n.Posted
		}
		p.line("* uploaded %s (%s)%s%s", n.Path, Size(n.Size), to, where)
	case "downloaded":
		check := "SHA-256 not known, not verified"
		if n.Verified {
			check = "SHA-256 verified"
		}
		from := ""
		if n.With != "" {
			from = " from " + Place(n.With)
		}
		p.line("* downloaded %s%s to %s (%s, %s)", n.Path, from, n.Dest, Size(n.Size), check)
	case "removed":
		p.line("* removed %s from %s", n.Path, Place(n.With))
	default:
		p.line("* %s %s", n.Type, n.Path)
	}
}
