package main

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/parley-chat/parley/client/capture"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/client/lines"
	"github.com/parley-chat/parley/resources"
)

// addFileCommands adds the file commands (/files, /upload, /download, /rm,
// /sticker, /screenshot) to line mode. The file server's address comes from the chat server's
// welcome, and its tokens from the chat session.
func addFileCommands(ctx context.Context, s *chat.Session, r *command.Runner, cfg *lines.Config, tlsConf *tls.Config, idx *files.Index) {
	// Line mode and the file commands print from different goroutines;
	// every line is one write, and the writes take turns.
	out := files.NewSyncWriter(cfg.Out)
	cfg.Out = out
	var bar *files.Bar
	if !cfg.JSON {
		// Progress goes to standard error as a bar, which the other
		// output on the terminal goes above; -json prints it as
		// progress objects with the other output.
		errOut := cfg.Err
		if errOut == nil {
			errOut = out
		}
		f, ok := errOut.(*os.File)
		bar = files.NewBar(errOut, ok && term.IsTerminal(int(f.Fd())))
		cfg.Out, cfg.Err = bar.Above(out), bar.Above(errOut)
	}
	c := files.New(files.Options{
		BaseURL:  func() string { return s.Welcome().FilesURL },
		Tokens:   files.NewSessionTokens(s),
		TLS:      filesTLS(tlsConf),
		User:     s.Me(),
		StateDir: uploadStateDir(),
	})
	printer := files.NewLinePrinter(cfg.Out, cfg.JSON)
	cmds := &files.Commands{Client: c, Runner: r, Index: idx, Printer: printer}
	if bar != nil {
		cmds.Sink = bar
	}
	r.Extra = append(r.Extra, cmds.Specs()...)
	r.Extra = append(r.Extra,
		command.NewSpec("sticker", "NAME", "post a sticker ("+strings.Join(resources.StickerNames(), ", ")+"); in a private conversation it goes to the private space only you two can see",
			func(ctx context.Context, args string) (*command.Output, error) {
				name, png, err := files.Sticker(args, resources.Sticker)
				if err != nil {
					return nil, err
				}
				return nil, cmds.Publish(ctx, name, png)
			}),
		command.NewSpec("screenshot", "", "capture every display, upload it and post it in the conversation (in a private one, to the private space only you two can see)",
			func(ctx context.Context, _ string) (*command.Output, error) {
				name, png, err := files.Screenshot(capture.PNG, time.Now())
				if err != nil {
					return nil, err
				}
				return nil, cmds.Publish(ctx, name, png)
			}),
	)
}

// filesTLS is the chat connection's TLS settings (trusted roots, whether
// to verify) for the file server, which has its own name.
func filesTLS(c *tls.Config) *tls.Config {
	if c == nil {
		return nil
	}
	c = c.Clone()
	c.ServerName = ""
	return c
}

// uploadStateDir is where unfinished uploads are remembered between runs:
// parley/uploads in the user's cache directory.
func uploadStateDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "parley", "uploads")
}
