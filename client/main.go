// Command client is Parley's chat client. On a terminal it opens the
// full-screen interface; when its input is not a terminal, or with -plain
// or -json, it runs in line mode for scripts and bots.
//
//	PARLEY_PASSWORD=secret client -server chat.example:7700 -name alice
//	client -server chat-a.example,chat-b.example -name alice   # a cluster's nodes
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/term"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/client/lines"
	"github.com/parley-chat/parley/shared/protocol"
)

// Exit codes.
const (
	exitOK        = 0
	exitFailed    = 1 // login refused, server unreachable, session lost
	exitUsage     = 2
	exitReplaced  = 3 // the same name logged in somewhere else
	exitNotStored = 4 // line mode: a message line read was not stored
)

type options struct {
	server       string   // as given, completed: one address or a comma-separated list
	addrs        []string // the addresses in server
	name         string
	plain        bool
	json         bool
	passwordFile string
	useTLS       bool
	caFile       string
	insecure     bool
	noReconnect  bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "client:", err)
		return exitUsage
	}
	// JSON output is for programs, so -json means line mode too.
	if f, ok := stdin.(*os.File); ok && !o.plain && !o.json && term.IsTerminal(int(f.Fd())) {
		return runTUI(ctx, o, stderr)
	}
	return runLines(ctx, o, stdin, stdout, stderr)
}

// runLines runs line mode: log in, then read commands from stdin.
func runLines(ctx context.Context, o options, stdin io.Reader, stdout, stderr io.Writer) int {
	if o.name == "" {
		fmt.Fprintln(stderr, "client: -name is required")
		return exitUsage
	}
	password, err := readPassword(o, stdin, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "client:", err)
		return exitUsage
	}
	tlsConf, err := tlsConfig(o)
	if err != nil {
		fmt.Fprintln(stderr, "client:", err)
		return exitUsage
	}
	// File messages and history positions are noted as frames arrive,
	// so that a command typed right after them (/download ID, /history)
	// knows of them.
	idx := files.NewIndex(0)
	pages := command.NewPages(o.name)
	s, err := chat.Connect(ctx, chat.Options{
		Addr:      o.addrs[0],
		Addrs:     o.addrs[1:],
		Name:      o.name,
		Password:  password,
		TLS:       tlsConf,
		Reconnect: !o.noReconnect,
		Observe: func(f *protocol.Frame) {
			idx.ObserveFrame(f)
			pages.Observe(f)
		},
	})
	if err != nil {
		fmt.Fprintf(stderr, "client: cannot log in to %s as %s: %v\n", o.server, o.name, err)
		return exitFailed
	}
	r := command.NewRunner(s)
	r.Pages = pages
	cfg := lines.Config{In: stdin, Out: stdout, Err: stderr, JSON: o.json, Runner: r}
	addFileCommands(ctx, s, r, &cfg, tlsConf, idx)
	return sessionExit(lines.Run(ctx, cfg), stderr)
}

// sessionExit reports how a session ended and returns the exit code. Lines
// not stored decide it whatever else happened: they are what a script
// has to send again.
func sessionExit(err error, stderr io.Writer) int {
	var ns *lines.NotStoredError
	if errors.As(err, &ns) {
		if ns.Err != nil {
			sessionExit(ns.Err, stderr)
		}
		return exitNotStored
	}
	switch {
	case errors.Is(err, chat.ErrReplaced):
		fmt.Fprintln(stderr, "client: this session was replaced: the same name logged in from somewhere else")
		return exitReplaced
	case err != nil:
		fmt.Fprintln(stderr, "client:", err)
		return exitFailed
	}
	return exitOK
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: client [-server HOST[:PORT][,HOST[:PORT]...]] [-name NAME] [flags]

Connects to a Parley chat server. The first login of a name registers it
with the password given; later logins must use the same password. The
password comes from $PARLEY_PASSWORD, else from -password-file, else from a
prompt on the terminal.

On a terminal the client opens a full-screen interface; without -name or a
password it starts with a login form, and it remembers the server and the
name (never the password) for next time. F1 or /help lists the keys and
commands.

In line mode (input not a terminal, -plain or -json) each input line is a
message for the current conversation or a command such as /join ROOM, /msg NAME
TEXT, /upload FILE or /help, and each event is printed on one line.

For a cluster of chat servers, give -server several nodes, separated by
commas: the client connects to the first that answers, and when its node
goes away (or says it is unavailable) it moves to the next one and resumes
there, losing nothing; /refresh moves to the next node too. Nodes the
servers announce are added after those given. The client says which node
it is connected to.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.server, "server", "localhost:7700", "chat server address, `host[:port]`, or a cluster's nodes as a comma-separated list of them; the port is "+chat.DefaultPort+" if left out")
	fs.StringVar(&o.name, "name", "", "your `name`; any script, no spaces, at most 32 characters")
	fs.BoolVar(&o.plain, "plain", false, "line mode even on a terminal")
	fs.BoolVar(&o.json, "json", false, "line mode, printing one JSON object per event")
	fs.StringVar(&o.passwordFile, "password-file", "", "read the password from the first line of `file` (if $PARLEY_PASSWORD is not set)")
	fs.BoolVar(&o.useTLS, "tls", false, "connect with TLS")
	fs.StringVar(&o.caFile, "ca", "", "trust the server certificate(s) in this PEM `file` (implies -tls)")
	fs.BoolVar(&o.insecure, "insecure", false, "with TLS, do not verify the server's certificate (testing only)")
	fs.BoolVar(&o.noReconnect, "no-reconnect", false, "exit when the connection drops instead of reconnecting")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q; see -help", fs.Arg(0))
	}
	o.server = chatAddr(o.server)
	if o.addrs = chat.ParseAddrs(o.server); len(o.addrs) == 0 {
		return o, errors.New("-server names no address")
	}
	for _, a := range o.addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return o, fmt.Errorf("-server %q: %w", a, err)
		}
	}
	return o, nil
}

// chatAddr completes the chat server addresses of a -server value or the
// login form's server field, as people type them: each host alone
// (localhost, 192.168.1.20, ::1, [::1]) gets the default port, and
// host:port is kept as it is. Several addresses, the nodes of a cluster,
// are separated by commas.
func chatAddr(s string) string {
	return strings.Join(chat.ParseAddrs(s), ",")
}

func readPassword(o options, stdin io.Reader, stderr io.Writer) (string, error) {
	if p := os.Getenv("PARLEY_PASSWORD"); p != "" {
		return p, nil
	}
	if o.passwordFile != "" {
		b, err := os.ReadFile(o.passwordFile)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		p, _, _ := strings.Cut(string(b), "\n")
		p = strings.TrimRight(p, "\r")
		if p == "" {
			return "", fmt.Errorf("password file %s is empty", o.passwordFile)
		}
		return p, nil
	}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(stderr, "Password for %s: ", o.name)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if len(b) == 0 {
			return "", errors.New("empty password")
		}
		return string(b), nil
	}
	return "", errors.New("no password: set PARLEY_PASSWORD or use -password-file")
}

func tlsConfig(o options) (*tls.Config, error) {
	if !o.useTLS && o.caFile == "" && !o.insecure {
		return nil, nil
	}
	// The server name is left out: each node's certificate is checked
	// against the name the client dials it by.
	conf := &tls.Config{MinVersion: protocol.MinTLS, InsecureSkipVerify: o.insecure}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no PEM certificates in %s", o.caFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}
