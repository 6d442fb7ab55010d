// Command chatserver runs Parley's chat server: rooms, private messages,
// presence, history and recall, in newline-delimited JSON over TCP and
// over WebSocket (its HTTP door, with health and metrics), and over IRC.
//
//	chatserver -addr :7700 -data parley-data/chat
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/hub"
	"github.com/parley-chat/parley/chatserver/server"
	"github.com/parley-chat/parley/chatserver/session"
	"github.com/parley-chat/parley/shared/filetoken"
	"github.com/parley-chat/parley/shared/protocol"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Logs to a pipe whose reader has gone (Ctrl-C on "server | tee log")
	// must not kill the server before it has told its clients.
	signal.Ignore(syscall.SIGPIPE)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage was printed
		}
		fmt.Fprintln(os.Stderr, "chatserver:", err)
		os.Exit(1)
	}
}

// defaultGCPercent is the collector's target unless GOGC says otherwise.
// Much of what an idle connection costs is Go heap, which Go lets grow by
// GOGC percent over what is live before it collects. At 50 rather than
// Go's 100, idle connections took 2.9 KB each instead of 3.4 (9,000 held
// by one load process) and 3.6-4.1 KB instead of 3.7-4.5 (18,000 held by
// two), with no difference in CPU per message beyond the host's noise
// (chatserver/BENCHMARKS.md).
const defaultGCPercent = 50

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "hash-password" {
		return hashPasswordCmd(ctx, args[1:], os.Stdin, os.Stdout, stderr)
	}
	cfg, logLevel, pprofAddr, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return err
	}
	if pprofAddr != "" {
		stopProfiling, err := serveProfiles(pprofAddr, cfg.Logger)
		if err != nil {
			srv.Shutdown(context.Background())
			return err
		}
		defer stopProfiling()
	}
	select {
	case <-ctx.Done():
		cfg.Logger.Info("shutting down")
	case <-srv.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// hashPasswordCmd is "chatserver hash-password [-hash-memory KiB]": it
// reads a password from the first line of stdin and prints its argon2id
// hash, for an -opers file.
func hashPasswordCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chatserver hash-password", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mem := fs.Uint("hash-memory", uint(auth.DefaultParams.MemoryKiB), "memory in `KiB` for the argon2id hash")
	if err := fs.Parse(args); err != nil {
		return err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return errors.New("hash-password: give the password on standard input")
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("hash-password: the password is empty")
	}
	p := auth.DefaultParams
	p.MemoryKiB = uint32(*mem)
	if p.MemoryKiB < 8 {
		return errors.New("-hash-memory must be at least 8 KiB")
	}
	h, err := auth.NewHasher(p, 1, 1).Hash(ctx, password)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, h)
	return err
}

// readOperators reads an -opers file: a name and a password hash a line;
// blank lines and lines starting with # are skipped.
func readOperators(path string) ([]hub.Operator, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []hub.Operator
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 || !strings.HasPrefix(f[1], "$argon2id$") {
			return nil, fmt.Errorf("%s:%d: want a name and an argon2id hash (chatserver -hash-password prints one)", path, i+1)
		}
		out = append(out, hub.Operator{Name: f[0], Hash: f[1]})
	}
	return out, nil
}

func parseFlags(args []string, stderr io.Writer) (cfg server.Config, level slog.Level, pprofAddr string, err error) {
	fs := flag.NewFlagSet("chatserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: chatserver [flags]

Runs Parley's chat server. With no flags it listens on every interface on
port 7700 (the chat protocol over TCP), port 7701 (HTTP: WebSocket,
health, metrics) and port 6667 (IRC), and keeps its database in
./parley-data/chat.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Addr, "addr", ":7700", "listen for the chat protocol over TCP on `host:port`")
	fs.StringVar(&cfg.HTTPAddr, "http", ":7701", "serve HTTP on `host:port`: the chat protocol over WebSocket at /ws, /healthz and /metrics; empty for none")
	allowOrigins := fs.String("allow-origin", "", "comma-separated `hosts` whose web pages may connect to /ws besides this server's own (patterns such as *.example.org)")
	fs.StringVar(&cfg.IRC, "irc", ":6667", "speak IRC on `host:port` (irssi, WeeChat, bots): the same accounts, rooms and private messages; empty for none")
	fs.StringVar(&cfg.IRCTLS, "irc-tls", ":6697", "with -tls-cert, speak IRC over TLS on `host:port`; empty for none")
	hostName, _ := os.Hostname()
	fs.StringVar(&cfg.IRCServerName, "irc-server-name", hostName, "the `name` the IRC door announces as its server")
	fs.BoolVar(&cfg.IRCGuests, "irc-guests", false, "let an IRC connection without PASS or SASL register its nick as an account without a password of its own (for conformance tests and open LAN servers; a name registered with a password stays its owner's)")
	fs.StringVar(&cfg.IRCGuestPassword, "irc-guest-password", "", "with -irc-guests, the server `password` guests must send with PASS; accounts then log in with SASL PLAIN ($PARLEY_IRC_GUEST_PASSWORD overrides it)")
	opers := fs.String("opers", "", "a `file` of server operators, one a line: a name and the argon2id hash of its password, as 'chatserver hash-password' prints it; an operator becomes one with IRC's OPER or the protocol's oper request")
	motd := fs.String("irc-motd", "", "a `file` whose lines are the IRC door's message of the day")
	fs.StringVar(&cfg.DataDir, "data", "parley-data/chat", "keep accounts, rooms and history in this `directory` (SQLite); empty keeps them in memory only")
	fs.StringVar(&cfg.DB, "db", "", "keep accounts, rooms and history in this PostgreSQL database instead of -data (`URL` postgres://USER[:PASSWORD]@HOST:5432/DB); without -nats, one database serves one chat server")
	fs.StringVar(&cfg.NATS, "nats", "", "run as a node of a cluster whose nodes meet on this NATS bus (`URL` nats://HOST:4222, several comma-separated); needs -db, shared by every node")
	fs.StringVar(&cfg.Node, "node", hostName, "with -nats, this node's `name`, unique in the cluster")
	fs.DurationVar(&cfg.ClusterBeat, "cluster-beat", time.Second, "with -nats, how often nodes tell each other they are alive; a node silent for -cluster-ttl is counted gone and its users offline")
	fs.DurationVar(&cfg.ClusterTTL, "cluster-ttl", 5*time.Second, "with -nats, how long a node may be silent before the others count it gone")
	fs.StringVar(&cfg.Advertise, "advertise", "", "with -nats, the `host` clients reach this node by, which the other nodes pass on to theirs (default: the listen address's, or the machine's name)")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "serve TLS with this PEM certificate `file` (needs -tls-key)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "serve TLS with this PEM private key `file` (needs -tls-cert)")
	fs.StringVar(&cfg.FilesURL, "files-url", "http://{host}:7780", "the file server's `URL`, told to clients; {host} becomes the address the client reached this server on")
	secretFile := fs.String("secret-file", filetoken.DefaultSecretFile(), "sign file-access tokens with the secret in this `file`, shared with the file server (created if missing; $"+filetoken.EnvSecret+" overrides it)")
	fs.DurationVar(&cfg.FilesTTL, "files-token-ttl", filetoken.DefaultTTL, "how long a file-access token is valid; clients renew it before then")
	fs.DurationVar(&cfg.RecallWindow, "recall-window", hub.DefaultRecallWindow, "how long after sending people may recall a message")
	fs.Var(daysFlag{&cfg.Retention}, "retention", "delete messages, file messages included, older than this `age` (30d, 12h; 0 keeps everything)")
	fs.DurationVar(&cfg.ResumeTTL, "resume-ttl", hub.DefaultResumeTTL, "how long a resume token stays valid; after that the client logs in with the password")
	fs.IntVar(&cfg.JoinHistory, "history", hub.DefaultJoinHistory, "messages of history shown on joining a room")
	fs.IntVar(&cfg.Limits.Frame, "max-frame", protocol.DefaultMaxFrame, "largest frame in `bytes`; a larger one closes the connection")
	fs.IntVar(&cfg.Limits.Text, "max-text", protocol.MaxTextBytes, "largest message text in `bytes`")
	fs.IntVar(&cfg.Limits.RatePerSec, "rate", session.DefaultRate, "requests per second one connection may make, sustained")
	fs.IntVar(&cfg.Limits.RateBurst, "burst", session.DefaultBurst, "requests one connection may make in a burst")
	fs.IntVar(&cfg.ReadRate, "read-rate", session.DefaultReadRate, "history pages and joins one connection may ask for a second, and 4 times as many at once: they read the store")
	fs.DurationVar(&cfg.PingInterval, "ping", session.DefaultPingInterval, "ping a client after this much silence")
	fs.DurationVar(&cfg.PingTimeout, "ping-timeout", session.DefaultPingTimeout, "close a connection whose ping is not answered within this")
	fs.DurationVar(&cfg.Coalesce, "coalesce", 0, "how long a TCP write waits for more frames to the same clients, so that several go in one system call (for example 2ms); 0 writes at once")
	fs.IntVar(&cfg.MaxQueue, "max-queue", session.DefaultMaxQueue, "`bytes` queued for one client before it is disconnected as a slow consumer")
	loginRate := fs.Int("login-rate", 60, "password logins one address may start a minute, and `N` at once; an account gets half as many (0: no limit). Resume tokens are never limited")
	registerRate := fs.Int("register-rate", 20, "new accounts one address may register an hour, and `N` at once (0: no limit)")
	mem := fs.Uint("hash-memory", uint(auth.DefaultParams.MemoryKiB), "memory in `KiB` for each argon2id password hash")
	fs.IntVar(&cfg.HashParallel, "hash-parallel", 0, "password hashes computed at once (0: one per CPU); more logins wait")
	fs.TextVar(&level, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.StringVar(&pprofAddr, "pprof", "", "serve Go's profiling endpoints (/debug/pprof/) on this `host:port`; keep it on loopback")
	if err = fs.Parse(args); err != nil {
		return cfg, level, pprofAddr, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, level, pprofAddr, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"history", cfg.JoinHistory}, {"max-frame", cfg.Limits.Frame}, {"max-text", cfg.Limits.Text},
		{"rate", cfg.Limits.RatePerSec}, {"burst", cfg.Limits.RateBurst}, {"read-rate", cfg.ReadRate}, {"max-queue", cfg.MaxQueue}} {
		if c.v <= 0 {
			return cfg, level, pprofAddr, fmt.Errorf("-%s must be positive", c.name)
		}
	}
	if cfg.Limits.Text > cfg.Limits.Frame/2 {
		return cfg, level, pprofAddr, errors.New("-max-text must be at most half of -max-frame, so that a message fits in a frame")
	}
	for _, c := range []struct {
		name string
		v    time.Duration
	}{{"recall-window", cfg.RecallWindow}, {"resume-ttl", cfg.ResumeTTL}, {"ping", cfg.PingInterval},
		{"ping-timeout", cfg.PingTimeout}, {"files-token-ttl", cfg.FilesTTL}} {
		if c.v <= 0 {
			return cfg, level, pprofAddr, fmt.Errorf("-%s must be positive", c.name)
		}
	}
	for _, c := range []struct {
		name string
		v    *int
		to   *int
	}{{"login-rate", loginRate, &cfg.Logins.PerMinute}, {"register-rate", registerRate, &cfg.Logins.Registrations}} {
		switch {
		case *c.v < 0:
			return cfg, level, pprofAddr, fmt.Errorf("-%s must not be negative", c.name)
		case *c.v == 0:
			*c.to = -1 // no limit
		default:
			*c.to = *c.v
		}
	}
	for _, o := range strings.Split(*allowOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.AllowOrigins = append(cfg.AllowOrigins, o)
		}
	}
	if v := os.Getenv("PARLEY_IRC_GUEST_PASSWORD"); v != "" {
		cfg.IRCGuestPassword = v
	}
	if cfg.IRCGuestPassword != "" && !cfg.IRCGuests {
		return cfg, level, pprofAddr, errors.New("-irc-guest-password needs -irc-guests")
	}
	if cfg.TLSCert == "" {
		cfg.IRCTLS = ""
	}
	if *opers != "" {
		if cfg.Operators, err = readOperators(*opers); err != nil {
			return cfg, level, pprofAddr, fmt.Errorf("-opers: %w", err)
		}
	}
	if *motd != "" {
		b, err := os.ReadFile(*motd)
		if err != nil {
			return cfg, level, pprofAddr, fmt.Errorf("-irc-motd: %w", err)
		}
		cfg.IRCMOTD = strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	}
	if cfg.Retention < 0 {
		return cfg, level, pprofAddr, errors.New("-retention must not be negative")
	}
	secret, err := filetoken.LoadSecret(*secretFile)
	if err != nil {
		return cfg, level, pprofAddr, err
	}
	cfg.FilesSecret = secret
	cfg.HashParams = auth.DefaultParams
	cfg.HashParams.MemoryKiB = uint32(*mem)
	if cfg.HashParams.MemoryKiB < 8 {
		return cfg, level, pprofAddr, errors.New("-hash-memory must be at least 8 KiB")
	}
	return cfg, level, pprofAddr, nil
}

// daysFlag is a duration that also reads whole days: "30d", "1d12h".
type daysFlag struct{ d *time.Duration }

func (f daysFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return "0"
	}
	if *f.d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", *f.d/(24*time.Hour))
	}
	return f.d.String()
}

func (f daysFlag) Set(s string) error {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 16)
		if err != nil {
			return fmt.Errorf("%q: days must be a whole number, as in 30d", s)
		}
		days, s = time.Duration(n)*24*time.Hour, s[i+1:]
		if s == "" {
			*f.d = days
			return nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not an age such as 30d, 12h or 1d12h", s)
	}
	*f.d = days + d
	return nil
}
