package main

import (
	"context"
	"crypto/tls"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/lines"
)

// addFileCommands adds the file commands (/files, /upload, /download, /rm)
// to line mode.
func addFileCommands(ctx context.Context, s *chat.Session, r *command.Runner, cfg *lines.Config, tlsConf *tls.Config) {
}
