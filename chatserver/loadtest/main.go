// Command loadtest puts a chat server under load and reports what it
// delivered, how fast, and what it cost the server.
//
// It speaks Parley's protocol or IRC, so the same scenario runs against
// Parley and against IRC servers:
//
//	loadtest -scenario fanout -conns 1000 -senders 10 -size 100 -duration 20s -pid $(pgrep chatserver)
//	loadtest -driver irc -server 127.0.0.1:6667 -scenario fanout -conns 1000 -senders 10 -pid $(pgrep ngircd)
//
// More connections than one process may open are held by several load
// processes at once, each with its own -first and a -hold; the script
// compare.sh beside this file does that.
//
// Scenarios:
//
//	fanout  every connection joins one room; senders post to it
//	pairs   connections form private pairs; one of each pair sends to the other
//	idle    connections log in and stay idle; reports the server's RSS per connection
//	storm   connections log in, then wait for the server to restart and
//	        reports how long they all take to come back (Parley only)
//	history senders post flat out to a room with no one else in it; reports
//	        messages stored per second (Parley only)
//
// Latency is measured from a timestamp the sender puts in each message to
// the moment a receiver reads it, and kept to two significant digits. CPU
// time per delivered message comes from the server's /proc/PID/stat
// (-pid), which holds however the load tool shares the machine with the
// server. A connection that the server closes
// is counted as an error, with the reason it gave if it gave one.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

type config struct {
	driver   string
	server   string
	scenario string
	conns    int
	senders  int
	rate     float64 // messages per second per sender; 0 is flat out
	aligned  bool    // at a fixed rate, all senders send at the same instants
	size     int
	duration time.Duration
	warmup   time.Duration
	pid      int
	alsoPID  int
	prefix   string
	password string
	tokens   string
	room     string
	window   int
	resume   bool
	dialRate int
	json     bool
	tls      bool

	dialParallel int           // connections being set up at once
	first        int           // number of the first connection's user
	hold         time.Duration // idle: keep the connections open this long after measuring
	setupOnly    bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(2)
	}
	res, err := run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
	if cfg.json {
		json.NewEncoder(os.Stdout).Encode(res)
	} else {
		res.print(os.Stdout)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.driver, "driver", "parley", "protocol: parley (over TCP), parley-ws (over WebSocket at ws://SERVER/ws) or irc")
	fs.StringVar(&c.server, "server", "127.0.0.1:7700", "server `host:port`")
	fs.StringVar(&c.scenario, "scenario", "fanout", "fanout, pairs, idle, storm or history")
	fs.IntVar(&c.conns, "conns", 1000, "connections")
	fs.IntVar(&c.senders, "senders", 10, "connections that send (fanout, history)")
	fs.Float64Var(&c.rate, "rate", 0, "messages per second per sender; 0 sends flat out")
	fs.BoolVar(&c.aligned, "aligned", false, "at a fixed -rate, have all senders send at the same instants, so that the server gets a burst of one message per sender each period (by default their sends are spread evenly over the period, as independent senders' would be)")
	fs.IntVar(&c.size, "size", 100, "message size in `bytes`")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "how long to measure")
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "load before measuring starts")
	fs.IntVar(&c.pid, "pid", 0, "server process id, for its CPU time and RSS")
	fs.IntVar(&c.alsoPID, "also-pid", 0, "another server process `id` whose CPU time while measuring is reported apart (a cluster's writer, when the load is on another node)")
	fs.StringVar(&c.prefix, "prefix", "load", "name prefix of the load's users")
	fs.StringVar(&c.password, "password", "load-test-password", "password of the load's users (Parley)")
	fs.StringVar(&c.tokens, "tokens", "", "cache resume tokens in this `file`, so that logins after the first do no password hashing (Parley)")
	fs.StringVar(&c.room, "room", "bench", "room name")
	fs.IntVar(&c.window, "window", 64, "requests a flat-out sender keeps unanswered (Parley)")
	fs.IntVar(&c.dialRate, "dial-rate", 2000, "new connections per second while setting up")
	fs.IntVar(&c.dialParallel, "dial-parallel", 64, "connections being set up at once; raise it for servers that finish registrations on a timer (InspIRCd: once a second)")
	fs.BoolVar(&c.json, "json", false, "print the result as JSON")
	fs.BoolVar(&c.tls, "tls", false, "connect with TLS, without verifying the certificate")
	fs.IntVar(&c.first, "first", 0, "`number` of the first connection's user (prefixN, IRC nick ltN), so that several load processes can share a server without taking each other's names")
	fs.DurationVar(&c.hold, "hold", 0, "idle: after measuring, keep the connections open this long or until interrupted, so that several load processes can hold connections at once")
	fs.BoolVar(&c.resume, "resume", false, "log in as a client back from a long absence, resuming from the start of the log, so that every login carries the largest catch-up the server sends (Parley; with -tokens)")
	fs.BoolVar(&c.setupOnly, "setup-only", false, "only register the users and cache their tokens (-tokens), then exit (Parley)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	switch c.driver {
	case "parley", "parley-ws", "irc":
	default:
		return c, fmt.Errorf("unknown driver %q", c.driver)
	}
	switch c.scenario {
	case "fanout", "pairs", "idle":
	case "storm", "history":
		if c.driver == "irc" {
			return c, fmt.Errorf("scenario %s needs the parley driver", c.scenario)
		}
	default:
		return c, fmt.Errorf("unknown scenario %q", c.scenario)
	}
	if c.size < 40 {
		return c, errors.New("-size must be at least 40 bytes to hold the timestamp")
	}
	if c.first < 0 {
		return c, errors.New("-first must not be negative")
	}
	if c.senders > c.conns {
		c.senders = c.conns
	}
	return c, nil
}

func run(ctx context.Context, cfg config, log io.Writer) (*result, error) {
	var d driver
	switch cfg.driver {
	case "parley", "parley-ws":
		d = &parleyDriver{cfg: cfg}
	case "irc":
		d = &ircDriver{cfg: cfg}
	}
	r := &result{Driver: cfg.driver, Scenario: cfg.scenario, Server: cfg.server, Conns: cfg.conns,
		Senders: cfg.senders, Size: cfg.size, Rate: cfg.rate, Aligned: cfg.aligned && cfg.rate > 0, GoMaxProcs: runtime.GOMAXPROCS(0)}
	if cfg.setupOnly {
		r.Scenario = "setup"
		return r, d.setup(ctx, log)
	}
	switch cfg.scenario {
	case "fanout", "pairs", "history":
		return r, runTraffic(ctx, cfg, d, r, log)
	case "idle":
		return r, runIdle(ctx, cfg, d, r, log)
	case "storm":
		return r, runStorm(ctx, cfg, d.(*parleyDriver), r, log)
	}
	return r, nil
}
