// Command fileserver runs Parley's file server: a shared group folder
// that people list, download from and upload to over HTTP, with
// resumable uploads (tus) and a live stream of changes. Access needs a
// token from the chat server; the two servers share only a secret.
//
//	fileserver -addr :7780 -dir parley-data/files
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/parley-chat/parley/fileserver/server"
	"github.com/parley-chat/parley/shared/filetoken"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Logs to a pipe whose reader has gone (Ctrl-C on "server | tee log")
	// must not kill the server before it has told its clients.
	signal.Ignore(syscall.SIGPIPE)
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // -h: the usage was printed
		}
		fmt.Fprintln(os.Stderr, "fileserver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, level, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := server.Start(ctx, cfg)
	if err != nil {
		return err
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

// bytesFlag is a size in bytes that reads "2GiB", "500MB" or "0".
type bytesFlag struct{ n *int64 }

func (b bytesFlag) String() string {
	if b.n == nil || *b.n == 0 {
		return "0"
	}
	return humanize.IBytes(uint64(*b.n))
}

func (b bytesFlag) Set(s string) error {
	v, err := humanize.ParseBytes(s)
	if err != nil {
		return err
	}
	*b.n = int64(v)
	return nil
}

func parseFlags(args []string, stderr io.Writer) (server.Config, slog.Level, error) {
	fs := flag.NewFlagSet("fileserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: fileserver [flags]

Runs Parley's file server: the group's shared folder. With no flags it
listens on every interface on port 7780, serves ./parley-data/files, keeps
partial uploads in ./parley-data/fileserver, and checks tokens with the
same secret file a chat server started by the same user uses, so the two
work together with no setup.

Sizes take units: 500MB, 2GiB, 1TB.

Flags:
`)
		fs.PrintDefaults()
	}
	cfg := server.Config{
		MaxSize: 16 << 30,
		MinFree: 1 << 30,
	}
	// Flags whose defaults the server package keeps.
	cfg.MaxFolders, cfg.MaxFolderDepth = server.DefaultMaxFolders, server.DefaultMaxFolderDepth
	cfg.MaxUploads, cfg.UploadShare, cfg.ReserveIdle = server.DefaultMaxUploads, server.DefaultUploadShare, server.DefaultReserveIdle
	cfg.MaxStreams = server.DefaultMaxStreams
	var level slog.Level
	fs.StringVar(&cfg.Addr, "addr", ":7780", "listen on `host:port`; the chat server tells clients port 7780 on its own host by default")
	fs.StringVar(&cfg.Dir, "dir", "parley-data/files", "share this `folder`; files copied into it by other means appear too")
	fs.StringVar(&cfg.State, "state", "parley-data/fileserver", "keep partial uploads and file records in this `folder`, which must be outside -dir and on the same file system")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "serve HTTPS with this PEM certificate `file` (needs -tls-key)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "serve HTTPS with this PEM private key `file` (needs -tls-cert)")
	secretFile := fs.String("secret-file", filetoken.DefaultSecretFile(), "check file tokens with the secret in this `file`, shared with the chat server (created if missing; $"+filetoken.EnvSecret+" overrides it)")
	fs.BoolVar(&cfg.PublicRead, "public-read", false, "let anyone list, download and watch the folder without a token; uploads and deletes still need one")
	fs.Var(bytesFlag{&cfg.MaxSize}, "max-size", "largest file one upload may be, in `bytes` (0: no limit)")
	fs.Var(bytesFlag{&cfg.Quota}, "quota", "most the shared folder may hold, in `bytes`, counting uploads in progress (0: no quota)")
	fs.Var(bytesFlag{&cfg.MinFree}, "min-free", "refuse uploads that would leave less than this many `bytes` free on the disk (0: fill it)")
	fs.IntVar(&cfg.MaxFolders, "max-folders", cfg.MaxFolders, "let one person's uploads create at most this many folders, which each count 4 KiB against -quota (0: no limit)")
	fs.IntVar(&cfg.MaxFolderDepth, "max-folder-depth", cfg.MaxFolderDepth, "let uploads create folders at most this many levels deep (0: only the path rules' limit of 31)")
	fs.IntVar(&cfg.MaxUploads, "max-uploads", cfg.MaxUploads, "let one person have at most this many uploads in progress (receiving data) at once (0: no limit)")
	fs.IntVar(&cfg.UploadShare, "upload-share", cfg.UploadShare, "promise one person's uploads in progress at most this `percent` of the quota and of the disk's space above -min-free, ahead of their data; larger files reserve more as their data arrives (100: no share)")
	fs.DurationVar(&cfg.ReserveIdle, "reserve-idle", cfg.ReserveIdle, "release the space promised to an upload that receives no data for this long; it reserves again when data comes, if there is room")
	fs.IntVar(&cfg.MaxStreams, "max-streams", cfg.MaxStreams, "let one person (or, with -public-read and no token, one address) have at most this many event streams open (0: no limit)")
	fs.DurationVar(&cfg.UploadExpiry, "upload-expiry", 24*time.Hour, "drop an unfinished resumable upload after this long without progress")
	fs.DurationVar(&cfg.Settle, "settle", 250*time.Millisecond, "announce a change once its path has been quiet this long; files being written are hidden until then")
	fs.DurationVar(&cfg.Stall, "stall-timeout", time.Minute, "cut a transfer that moves no data for this long")
	allowOrigin := fs.String("allow-origin", strings.Join(server.DefaultAllowOrigins, ","), "comma-separated `origins` of web pages that may use this server from a browser (CORS), such as https://chat.example.org:7701; {host} is the host the browser reached this server by, * allows any, and an empty value none. The default allows Parley's web client served by a chat server on this host")
	fs.TextVar(&level, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, level, err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return cfg, level, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	cfg.AllowOrigins = []string{}
	for _, o := range strings.Split(*allowOrigin, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.AllowOrigins = append(cfg.AllowOrigins, o)
		}
	}
	secret, err := filetoken.LoadSecret(*secretFile)
	if err != nil {
		return cfg, level, err
	}
	cfg.Secret = secret
	return cfg, level, nil
}
