package uploads

import (
	"context"
	"log/slog"

	xslog "golang.org/x/exp/slog"
)

// tusLogger gives tusd, which logs through golang.org/x/exp/slog, a
// logger that writes to ours. tusd logs every request at info level;
// those become debug here, so the server's log shows uploads, not HTTP
// chatter; and a client going away mid-upload is news, not an error.
func tusLogger(log *slog.Logger) *xslog.Logger {
	return xslog.New(xHandler{h: log.Handler()})
}

type xHandler struct{ h slog.Handler }

func level(l xslog.Level) slog.Level {
	if l <= xslog.LevelInfo {
		return slog.LevelDebug
	}
	return slog.Level(l)
}

func (x xHandler) Enabled(ctx context.Context, l xslog.Level) bool {
	return x.h.Enabled(ctx, level(l))
}

func (x xHandler) Handle(ctx context.Context, r xslog.Record) error {
	l := level(r.Level)
	if r.Message == "BodyReadError" {
		// A client that went away mid-upload: it resumes later.
		l = slog.LevelInfo
	}
	rec := slog.NewRecord(r.Time, l, r.Message, r.PC)
	r.Attrs(func(a xslog.Attr) bool {
		rec.AddAttrs(convert(a))
		return true
	})
	return x.h.Handle(ctx, rec)
}

func (x xHandler) WithAttrs(as []xslog.Attr) xslog.Handler {
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = convert(a)
	}
	return xHandler{h: x.h.WithAttrs(out)}
}

func (x xHandler) WithGroup(name string) xslog.Handler { return xHandler{h: x.h.WithGroup(name)} }

func convert(a xslog.Attr) slog.Attr {
	v := a.Value.Resolve()
	if v.Kind() == xslog.KindGroup {
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = convert(ga)
		}
		return slog.Group(a.Key, out...)
	}
	return slog.Any(a.Key, v.Any())
}
