package main

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/client/lines"
)

// addFileCommands adds the file commands (/files, /upload, /download, /rm)
// to line mode. The file server's address comes from the chat server's
// welcome, and its tokens from the chat session.
func addFileCommands(ctx context.Context, s *chat.Session, r *command.Runner, cfg *lines.Config, tlsConf *tls.Config) {
	// Line mode and the file commands print from different goroutines;
	// every line is one write, and the writes take turns.
	out := files.NewSyncWriter(cfg.Out)
	cfg.Out = out
	idx := files.NewIndex(0)
	cfg.Observe = idx.Observe
	c := files.New(files.Options{
		BaseURL:  func() string { return s.Welcome().FilesURL },
		Tokens:   files.NewSessionTokens(s),
		TLS:      filesTLS(tlsConf),
		User:     s.Me(),
		StateDir: uploadStateDir(),
		Progress: files.NewLinePrinter(out, cfg.JSON).Progress,
	})
	cmds := &files.Commands{Client: c, Runner: r, Index: idx, Printer: files.NewLinePrinter(out, cfg.JSON)}
	r.Extra = append(r.Extra, cmds.Specs()...)
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
