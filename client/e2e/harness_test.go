// Package e2e runs Parley's real binaries — chatserver, fileserver and
// client — as a user would, and checks what they print.
package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin holds the binaries built once for the whole test run.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "parley-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = dir
	cmd := exec.Command("go", "build", "-race", "-o", dir+"/", "../../chatserver", "../../fileserver", "../../client")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the binaries:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// needTool returns the path of a tool the test drives, and fails the test
// if it is not installed: a test that cannot run has not passed.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: bash .ci/run installs it, with everything else the tests need", name)
	}
	return path
}

// waitLimit bounds every wait, so that a broken build fails instead of
// hanging. It is a safety net, not a performance assertion.
const waitLimit = 60 * time.Second

// proc is a running binary whose output is collected line by line.
type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	in   io.WriteCloser

	mu     sync.Mutex
	out    []string // stdout lines
	errb   bytes.Buffer
	grew   chan struct{}
	exited chan struct{}
	err    error
}

func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = append(os.Environ(), env...)
	p := &proc{t: t, name: name, cmd: cmd, grew: make(chan struct{}), exited: make(chan struct{})}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.in = in
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &lockedWriter{p: p}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out = append(p.out, sc.Text())
			close(p.grew)
			p.grew = make(chan struct{})
			p.mu.Unlock()
		}
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", name, strings.Join(p.lines(), "\n"), name, p.stderr())
		}
	})
	return p
}

type lockedWriter struct{ p *proc }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	n, err := w.p.errb.Write(b)
	close(w.p.grew)
	w.p.grew = make(chan struct{})
	return n, err
}

func (p *proc) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.out...)
}

func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errb.String()
}

// waitStderr waits until stderr matches re and returns the first match's
// submatches.
func (p *proc) waitStderr(re *regexp.Regexp) []string {
	p.t.Helper()
	deadline := time.After(waitLimit)
	for {
		p.mu.Lock()
		m := re.FindStringSubmatch(p.errb.String())
		grew := p.grew
		p.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-grew:
		case <-p.exited:
			p.t.Fatalf("%s exited (%v) before printing %s; stderr:\n%s", p.name, p.err, re, p.stderr())
		case <-deadline:
			p.t.Fatalf("%s never printed %s; stderr:\n%s", p.name, re, p.stderr())
		}
	}
}

// send writes one line to the process's input.
func (p *proc) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		p.t.Fatalf("%s: write %q: %v", p.name, line, err)
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(waitLimit):
		p.t.Fatalf("%s did not exit", p.name)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	p.t.Fatalf("%s: %v", p.name, p.err)
	return -1
}

// event is one JSON line printed by a client in -json line mode.
type event map[string]any

func (e event) str(k string) string {
	s, _ := e[k].(string)
	return s
}

// list is a member that holds a list of objects.
func (e event) list(k string) []map[string]any {
	var out []map[string]any
	l, _ := e[k].([]any)
	for _, v := range l {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func (e event) num(k string) uint64 {
	f, _ := e[k].(float64)
	return uint64(f)
}

// events parses the JSON lines printed so far.
func (p *proc) events() []event {
	var out []event
	for _, l := range p.lines() {
		var e event
		if json.Unmarshal([]byte(l), &e) == nil {
			out = append(out, e)
		}
	}
	return out
}

// waitEvent waits for a printed event matching ok.
func (p *proc) waitEvent(what string, ok func(event) bool) event {
	p.t.Helper()
	deadline := time.After(waitLimit)
	seen := 0
	for {
		p.mu.Lock()
		lines := p.out[seen:]
		grew := p.grew
		p.mu.Unlock()
		for _, l := range lines {
			var e event
			if json.Unmarshal([]byte(l), &e) == nil && ok(e) {
				return e
			}
		}
		seen += len(lines)
		select {
		case <-grew:
		case <-p.exited:
			// Check what arrived before the exit.
			p.mu.Lock()
			rest := p.out[seen:]
			p.mu.Unlock()
			for _, l := range rest {
				var e event
				if json.Unmarshal([]byte(l), &e) == nil && ok(e) {
					return e
				}
			}
			p.t.Fatalf("%s exited (%v) before %s", p.name, p.err, what)
		case <-deadline:
			p.t.Fatalf("%s: no %s", p.name, what)
		}
	}
}

func isMessage(text string) func(event) bool {
	return func(e event) bool { return e.str("type") == "message" && e.str("text") == text }
}

// chatServer is a running chatserver binary.
type chatServer struct {
	*proc
	addr string
	data string
}

var listening = regexp.MustCompile(`msg="chat server listening" addr=(\S+)`)

// startChat starts a chatserver on a free loopback port with its data in
// data (a new temporary directory if empty), and waits until it listens.
func startChat(t *testing.T, data string, args ...string) *chatServer {
	t.Helper()
	if data == "" {
		data = t.TempDir()
	}
	secret := filepath.Join(data, "secret")
	all := append([]string{"-addr", "127.0.0.1:0", "-http", "127.0.0.1:0", "-irc", "127.0.0.1:0", "-irc-tls", "127.0.0.1:0", "-data", data, "-secret-file", secret, "-hash-memory", "64"}, args...)
	p := startProc(t, "chatserver", nil, all...)
	m := p.waitStderr(listening)
	return &chatServer{proc: p, addr: m[1], data: data}
}

// startChatAt starts a chatserver on a given address, to restart one.
func startChatAt(t *testing.T, addr, data string, args ...string) *chatServer {
	t.Helper()
	secret := filepath.Join(data, "secret")
	all := append([]string{"-addr", addr, "-http", "127.0.0.1:0", "-irc", "127.0.0.1:0", "-irc-tls", "127.0.0.1:0", "-data", data, "-secret-file", secret, "-hash-memory", "64"}, args...)
	p := startProc(t, "chatserver", nil, all...)
	p.waitStderr(listening)
	return &chatServer{proc: p, addr: addr, data: data}
}

var filesListening = regexp.MustCompile(`msg="file server listening" addr=(\S+)`)

// startFiles starts a file server sharing folder, checking tokens with the
// secret in the file secret, and returns its address.
func startFiles(t *testing.T, secret, folder string) string {
	t.Helper()
	p := startProc(t, "fileserver", nil, "-addr", "127.0.0.1:0", "-dir", folder, "-state", t.TempDir(),
		"-secret-file", secret, "-min-free", "0")
	return p.waitStderr(filesListening)[1]
}

// startClient starts a line-mode client with -json.
func startClient(t *testing.T, addr, name, password string, args ...string) *proc {
	t.Helper()
	all := append([]string{"-server", addr, "-name", name, "-json"}, args...)
	return startProc(t, "client", []string{"PARLEY_PASSWORD=" + password}, all...)
}

// connected starts a client and waits until it has logged in.
func connected(t *testing.T, addr, name string, args ...string) *proc {
	t.Helper()
	p := startClient(t, addr, name, "pw-"+strings.ToLower(name), args...)
	p.waitEvent("connected", func(e event) bool { return e.str("type") == "connected" })
	return p
}

// do sends a command and waits for a sign that the client ran it: a line
// printed after it. Commands run one after another, so a /help sent after
// it prints its help only once the command has its reply.
func (p *proc) do(line string) {
	p.t.Helper()
	n := len(p.lines())
	p.send(line)
	p.send("/help")
	deadline := time.After(waitLimit)
	for {
		p.mu.Lock()
		lines := p.out[n:]
		grew := p.grew
		p.mu.Unlock()
		for _, l := range lines {
			if strings.Contains(l, `"type":"help"`) {
				return
			}
		}
		select {
		case <-grew:
		case <-p.exited:
			p.t.Fatalf("%s exited during %q", p.name, line)
		case <-deadline:
			p.t.Fatalf("%s: %q did not finish", p.name, line)
		}
	}
}

// waitLine waits for a stdout line matching re.
func (p *proc) waitLine(re *regexp.Regexp) string {
	p.t.Helper()
	deadline := time.After(waitLimit)
	seen := 0
	for {
		p.mu.Lock()
		lines := p.out[seen:]
		grew := p.grew
		exited := p.exited
		p.mu.Unlock()
		for _, l := range lines {
			if re.MatchString(l) {
				return l
			}
		}
		seen += len(lines)
		select {
		case <-grew:
		case <-exited:
			p.mu.Lock()
			rest := p.out[seen:]
			p.mu.Unlock()
			for _, l := range rest {
				if re.MatchString(l) {
					return l
				}
			}
			p.t.Fatalf("%s exited (%v) before printing %s", p.name, p.err, re)
		case <-deadline:
			p.t.Fatalf("%s never printed %s", p.name, re)
		}
	}
}
