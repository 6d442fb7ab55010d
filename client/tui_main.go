package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/client/tui"
	"github.com/parley-chat/parley/fileserver/folder"
	"github.com/parley-chat/parley/shared/protocol"
)

// defaultServer is the -server flag's default; a remembered server
// replaces it.
const defaultServer = "localhost:7700"

// runTUI runs the full-screen terminal interface: a login form when the
// name or the password is missing (and no saved session works), then the
// chat screen.
func runTUI(ctx context.Context, o options, stderr io.Writer) int {
	store := openClientStore()
	saved := store.load()

	server := o.server
	if server == defaultServer && saved.Server != "" {
		server = saved.Server
	}
	name := o.name
	if name == "" {
		name = saved.Name
	}
	// The password comes from the environment or a file here; the form
	// asks for it otherwise, never a prompt that would fight the screen.
	password := ""
	if os.Getenv("PARLEY_PASSWORD") != "" || o.passwordFile != "" {
		p, err := readPassword(o, strings.NewReader(""), stderr)
		if err != nil {
			fmt.Fprintln(stderr, "client:", err)
			return exitUsage
		}
		password = p
	}
	token := store.token(server, name)

	var mu sync.Mutex
	var session *chat.Session
	connect := func(ctx context.Context, l tui.Login) (tui.Config, error) {
		// As typed in the form: the port may be left out, and a
		// cluster's nodes are separated by commas.
		l.Server = chatAddr(l.Server)
		addrs := chat.ParseAddrs(l.Server)
		if len(addrs) == 0 {
			return tui.Config{}, errors.New("no server address")
		}
		tlsConf, err := tlsConfig(o)
		if err != nil {
			return tui.Config{}, err
		}
		// History positions are noted as frames arrive, so that /history
		// pages back from the oldest message shown, such as those a room
		// shows on joining.
		pages := command.NewPages(l.Name)
		opts := chat.Options{Addr: addrs[0], Addrs: addrs[1:], Name: l.Name, Password: l.Password, TLS: tlsConf, Reconnect: !o.noReconnect, Observe: pages.Observe}
		if l.Password == "" {
			opts.Token = store.token(l.Server, l.Name)
		}
		s, err := chat.Connect(ctx, opts)
		if err != nil {
			if chat.IsCode(err, protocol.CodeBadToken) {
				store.saveToken(l.Server, l.Name, "")
			}
			return tui.Config{}, err
		}
		mu.Lock()
		if session != nil {
			session.Close()
		}
		session = s
		mu.Unlock()
		store.save(savedLogin{Server: l.Server, Name: s.Me()})
		store.saveToken(l.Server, s.Me(), s.Token())
		r := command.NewRunner(s)
		r.Pages = pages
		fs := newTUIFiles(s, r, tlsConf)
		return tui.Config{
			Conn:      tui.NewConn(s, r, fs.printer.take),
			Server:    l.Server,
			Node:      s.Addr(),
			TLS:       tlsConf != nil,
			Transfers: fs.transfers,
		}, nil
	}

	notice := ""
	if name != "" && password == "" && token == "" {
		notice = "Enter your password to log in as " + name + "."
	}
	m, err := tui.Run(ctx, tui.AppConfig{
		Login:       tui.Login{Server: server, Name: name, Password: password},
		AutoConnect: name != "" && (password != "" || token != ""),
		Notice:      notice,
		Connect:     connect,
	})

	mu.Lock()
	s := session
	mu.Unlock()
	if s != nil {
		if t := s.Token(); t != "" && !errors.Is(s.Err(), chat.ErrReplaced) {
			store.saveToken(serverOf(m, server), s.Me(), t)
		}
		s.Close()
	}
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(stderr, "client:", err)
		return exitFailed
	}
	if m == nil {
		return exitOK
	}
	return sessionExit(m.Err(), stderr)
}

func serverOf(m *tui.Model, fallback string) string {
	if m == nil {
		return fallback
	}
	return m.Server()
}

// clientStore keeps what the client remembers between runs in
// os.UserConfigDir()/parley: the last server and name in login.json, and
// resume tokens, readable only by the user, in sessions.json. Passwords
// are never written.
type clientStore struct{ dir string }

type savedLogin struct {
	Server string `json:"server"`
	Name   string `json:"name"`
}

func openClientStore() clientStore {
	dir, err := os.UserConfigDir()
	if err != nil {
		return clientStore{}
	}
	return clientStore{dir: filepath.Join(dir, "parley")}
}

func (c clientStore) load() savedLogin {
	var l savedLogin
	if c.dir == "" {
		return l
	}
	if b, err := os.ReadFile(filepath.Join(c.dir, "login.json")); err == nil {
		json.Unmarshal(b, &l)
	}
	return l
}

func (c clientStore) save(l savedLogin) {
	if b, err := json.MarshalIndent(l, "", "  "); err == nil {
		c.write("login.json", append(b, '\n'), 0o644)
	}
}

func sessionKey(server, name string) string {
	if n, err := protocol.ParseName(name); err == nil {
		name = n.Key
	}
	return server + " " + name
}

func (c clientStore) tokens() map[string]string {
	t := map[string]string{}
	if c.dir == "" {
		return t
	}
	if b, err := os.ReadFile(filepath.Join(c.dir, "sessions.json")); err == nil {
		json.Unmarshal(b, &t)
	}
	return t
}

func (c clientStore) token(server, name string) string {
	if name == "" {
		return ""
	}
	return c.tokens()[sessionKey(server, name)]
}

// saveToken remembers a resume token, or forgets it if token is empty.
func (c clientStore) saveToken(server, name, token string) {
	t := c.tokens()
	if token == "" {
		if _, ok := t[sessionKey(server, name)]; !ok {
			return
		}
		delete(t, sessionKey(server, name))
	} else {
		t[sessionKey(server, name)] = token
	}
	if b, err := json.MarshalIndent(t, "", "  "); err == nil {
		c.write("sessions.json", append(b, '\n'), 0o600)
	}
}

// write replaces a file atomically with the given mode, through the
// file server's folder.WriteFile: the data goes to a new file beside it,
// is synced, and is renamed over it, so that a crash leaves the old file
// or the new one, never half of one (a resume token cut short would cost
// the user their session).
func (c clientStore) write(name string, data []byte, mode os.FileMode) {
	if c.dir == "" || os.MkdirAll(c.dir, 0o700) != nil {
		return
	}
	root, err := os.OpenRoot(c.dir)
	if err != nil {
		return
	}
	defer root.Close()
	folder.WriteFile(root, name, data, mode)
}

// tuiFiles connects the screen to the file server the chat server
// announced: the transfer service line mode uses, for /upload,
// /download, stickers and screenshots with the screen's progress bars,
// and the line-mode file commands (/files, /rm) whose reports become the
// commands' output on the screen.
type tuiFiles struct {
	transfers *files.Transfers
	printer   *collectPrinter
}

func newTUIFiles(s *chat.Session, r *command.Runner, tlsConf *tls.Config) *tuiFiles {
	c := files.New(files.Options{
		BaseURL:  func() string { return s.Welcome().FilesURL },
		Tokens:   files.NewSessionTokens(s),
		TLS:      filesTLS(tlsConf),
		User:     s.Me(),
		StateDir: uploadStateDir(),
	})
	f := &tuiFiles{transfers: files.NewTransfers(c, r), printer: &collectPrinter{}}
	cmds := &files.Commands{Client: c, Runner: r, Index: files.NewIndex(0), Printer: f.printer, Transfers: f.transfers}
	r.Extra = append(r.Extra, cmds.Specs()...)
	return f
}

// collectPrinter keeps what the file commands report, for the screen to
// show as their output.
type collectPrinter struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (p *collectPrinter) Progress(files.Progress) {}

func (p *collectPrinter) Listing(l *files.Listing) {
	p.mu.Lock()
	defer p.mu.Unlock()
	where := files.Place(l.With)
	if l.Path != "" {
		where = l.Path + " in " + where
	}
	if len(l.Entries) == 0 {
		fmt.Fprintf(&p.buf, "%s is empty", where)
		return
	}
	fmt.Fprintf(&p.buf, "%s:", where)
	for _, e := range l.Entries {
		if e.Dir {
			fmt.Fprintf(&p.buf, "\n  📁 %s/", e.Name)
			continue
		}
		fmt.Fprintf(&p.buf, "\n  %s  %s", e.Name, files.Size(e.Size))
		if e.Uploader != "" {
			fmt.Fprintf(&p.buf, "  by %s", e.Uploader)
		} else {
			p.buf.WriteString("  copied in by hand")
		}
		if !e.Mtime.IsZero() {
			fmt.Fprintf(&p.buf, "  %s", e.Mtime.Local().Format("2006-01-02 15:04"))
		}
	}
}

func (p *collectPrinter) Notice(n files.Notice) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch n.Type {
	case "removed":
		fmt.Fprintf(&p.buf, "removed %s from %s", n.Path, files.Place(n.With))
	case "downloaded":
		fmt.Fprintf(&p.buf, "saved %s to %s", n.Path, n.Dest)
	case "uploaded":
		fmt.Fprintf(&p.buf, "uploaded %s (%s) to %s", n.Path, files.Size(n.Size), files.Place(n.With))
	default:
		fmt.Fprintf(&p.buf, "%s %s", n.Type, n.Path)
	}
}

// take returns what was reported since the last call.
func (p *collectPrinter) take() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.buf.String()
	p.buf.Reset()
	return s
}
