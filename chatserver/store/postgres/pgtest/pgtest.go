// Package pgtest runs a real PostgreSQL server for tests: the one
// installed on the machine (Debian's postgresql package keeps it under
// /usr/lib/postgresql/VERSION/bin), initialised in a temporary directory
// and listening on a free port of 127.0.0.1. Nothing is mocked.
//
// A test binary starts one server and gives each test a schema of its
// own, which is much cheaper than a database or a server per test:
//
//	srv := pgtest.Start(t)
//	url := srv.Schema(t) // postgres://…?search_path=t1
package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled is returned by Find when no PostgreSQL server is
// installed.
var ErrNotInstalled = errors.New("PostgreSQL is not installed (apt-get install postgresql)")

// Find returns the directory of the newest installed PostgreSQL's
// programs (initdb, postgres).
func Find() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNotInstalled
}

func version(bindir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bindir)))
	return v
}

// Server is a running PostgreSQL server.
type Server struct {
	dir  string
	bin  string
	data string
	cred *syscall.Credential
	port int
	cmd  *exec.Cmd
	done chan struct{} // closed when the server's process has exited
	log  *tail

	mu      sync.Mutex
	schemas int
}

// Start starts a server for the test binary and stops it when t ends. A
// machine without PostgreSQL fails t (ErrNotInstalled says what to
// install).
func Start(t testing.TB) *Server {
	t.Helper()
	srv, err := StartServer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("stop PostgreSQL: %v", err)
		}
	})
	return srv
}

// StartServer initialises a database cluster in a new temporary
// directory and starts a server on it. Stop ends it and removes the
// directory. Run as root, the server runs as the postgres user, since
// PostgreSQL refuses to run as root.
func StartServer(ctx context.Context) (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	srv := &Server{dir: dir, log: &tail{}}
	fail := func(err error) (*Server, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fail(fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w", err))
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return fail(err)
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "parley",
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %v\n%s", err, out))
	}

	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	srv.port, srv.bin, srv.data, srv.cred = port, bin, data, cred
	if err := srv.run(ctx); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return srv, nil
}

// run starts the server's process on its data and port, and waits until
// it takes connections.
func (srv *Server) run(ctx context.Context) error {
	srv.done = make(chan struct{})
	cmd := exec.Command(filepath.Join(srv.bin, "postgres"), "-D", srv.data, "-p", strconv.Itoa(srv.port),
		"-k", srv.dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: srv.cred, Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	srv.cmd = cmd
	ready := make(chan struct{})
	done := srv.done
	go func() {
		// The server's log goes to stderr; it says when it takes
		// connections, so nothing polls for that.
		sc := bufio.NewScanner(stderr)
		once := sync.OnceFunc(func() { close(ready) })
		for sc.Scan() {
			line := sc.Text()
			srv.log.add(line)
			if strings.Contains(line, "database system is ready to accept connections") {
				once()
			}
		}
		io.Copy(io.Discard, stderr)
		cmd.Wait()
		close(done)
	}()
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case <-ready:
		return nil
	case <-done:
		return fmt.Errorf("postgres exited before it was ready:\n%s", srv.log.String())
	case <-timer.C:
		srv.Stop()
		return fmt.Errorf("postgres was not ready after 60 s:\n%s", srv.log.String())
	case <-ctx.Done():
		srv.Stop()
		return ctx.Err()
	}
}

// Kill ends the server's processes with SIGKILL, as a crash would; its
// data stays, for Restart.
func (srv *Server) Kill() {
	if srv.cmd != nil && srv.cmd.Process != nil {
		syscall.Kill(-srv.cmd.Process.Pid, syscall.SIGKILL)
		<-srv.done
	}
}

// Restart starts the server again on the same port and data, after Kill.
func (srv *Server) Restart(ctx context.Context) error { return srv.run(ctx) }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL is the server's address, for database db.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://parley@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// Schema creates a new, empty schema and returns a URL whose
// connections use it. The schema is dropped when t ends.
func (s *Server) Schema(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.schemas++
	name := fmt.Sprintf("t%d", s.schemas)
	s.mu.Unlock()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err != nil {
			t.Errorf("connect to PostgreSQL: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+name+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return s.URL("postgres") + "&search_path=" + name
}

// Stop shuts the server down (a fast shutdown: connections are ended)
// and removes its directory.
func (s *Server) Stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		select {
		case <-s.done:
		default:
			s.cmd.Process.Signal(syscall.SIGINT)
			timer := time.NewTimer(30 * time.Second)
			select {
			case <-s.done:
			case <-timer.C:
				syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
				<-s.done
			}
			timer.Stop()
		}
	}
	return os.RemoveAll(s.dir)
}

// Log returns the server's last log lines.
func (s *Server) Log() string { return s.log.String() }

// tail keeps the last lines of the server's log, for error messages.
type tail struct {
	mu    sync.Mutex
	lines []string
}

func (t *tail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 50 {
		t.lines = t.lines[1:]
	}
	t.lines = append(t.lines, line)
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
