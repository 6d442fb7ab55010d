package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parley-chat/parley/client/capture"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/client/lines"
	"github.com/parley-chat/parley/resources"
	"github.com/parley-chat/parley/shared/protocol"
)

// addFileCommands adds the file commands (/files, /upload, /download, /rm,
// /sticker, /screenshot) to line mode. The file server's address comes from the chat server's
// welcome, and its tokens from the chat session.
func addFileCommands(ctx context.Context, s *chat.Session, r *command.Runner, cfg *lines.Config, tlsConf *tls.Config, idx *files.Index) {
	// Line mode and the file commands print from different goroutines;
	// every line is one write, and the writes take turns.
	out := files.NewSyncWriter(cfg.Out)
	cfg.Out = out
	c := files.New(files.Options{
		BaseURL:  func() string { return s.Welcome().FilesURL },
		Tokens:   files.NewSessionTokens(s),
		TLS:      filesTLS(tlsConf),
		User:     s.Me(),
		StateDir: uploadStateDir(),
		Progress: files.NewLinePrinter(out, cfg.JSON).Progress,
	})
	printer := files.NewLinePrinter(out, cfg.JSON)
	cmds := &files.Commands{Client: c, Runner: r, Index: idx, Printer: printer}
	r.Extra = append(r.Extra, cmds.Specs()...)
	r.Extra = append(r.Extra,
		command.NewSpec("sticker", "NAME", "post a sticker ("+strings.Join(resources.StickerNames(), ", ")+")",
			func(ctx context.Context, args string) (*command.Output, error) {
				name := strings.ToLower(strings.TrimSpace(args))
				png, err := resources.Sticker(name)
				if err != nil {
					return nil, protocol.Errorf(command.CodeUsage, "%v", err)
				}
				return postMade(ctx, c, r, printer, "sticker-"+name+".png", png)
			}),
		command.NewSpec("screenshot", "", "capture every display, upload it and post it in the conversation",
			func(ctx context.Context, _ string) (*command.Output, error) {
				png, err := capture.PNG()
				if err != nil {
					return nil, protocol.Errorf("no_display", "%v", err)
				}
				name := "screenshot-" + time.Now().Format("20060102-150405") + ".png"
				return postMade(ctx, c, r, printer, name, png)
			}),
	)
}

// postMade uploads an image the client made and posts it as a file
// message in the current conversation.
func postMade(ctx context.Context, c *files.Client, r *command.Runner, printer *files.LinePrinter, name string, data []byte) (*command.Output, error) {
	conv := r.Current
	e, err := c.Publish(ctx, name, bytes.NewReader(data), files.PublishOptions{})
	if err != nil {
		return nil, files.UserError(err)
	}
	if _, err := r.SendFile(ctx, conv, protocol.File{Name: e.Name, Size: e.Size, Path: e.Path, SHA256: e.SHA256}, ""); err != nil {
		return nil, err
	}
	printer.Notice(files.Notice{Type: "uploaded", Path: e.Path, Size: e.Size, SHA256: e.SHA256, Posted: conv.String()})
	return nil, nil
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
