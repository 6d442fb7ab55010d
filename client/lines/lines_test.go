package lines_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/lines"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cutter passes one connection through to the server and cuts it, both
// ways, when the client sends a line that contains cut: the request is
// never answered.
func cutter(t *testing.T, target, cut string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			return
		}
		wg.Add(1)
		go func() { defer wg.Done(); io.Copy(c, s); c.Close() }()
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadBytes('\n')
			if err != nil || bytes.Contains(line, []byte(cut)) {
				break
			}
			if _, err := s.Write(line); err != nil {
				break
			}
		}
		c.Close()
		s.Close()
	}()
	return ln.Addr().String()
}

// A message line sent when the session ends, before its reply, is
// reported as not acknowledged, with its line number and text, and Run
// says so in its error.
func TestLineUnacknowledgedWhenSessionEnds(t *testing.T) {
	srv := servertest.Start(t, nil)
	addr := cutter(t, srv.Addr(), `"text":"doomed"`)
	s, err := chat.Connect(context.Background(), chat.Options{Addr: addr, Name: "alice", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out bytes.Buffer
	err = lines.Run(context.Background(), lines.Config{
		In:     strings.NewReader("kept\ndoomed\nnever read\n"),
		Out:    &out,
		JSON:   true,
		Runner: command.NewRunner(s),
	})
	var ns *lines.NotStoredError
	if !errors.As(err, &ns) {
		t.Fatalf("Run: %v, want a NotStoredError", err)
	}
	if ns.Err == nil {
		t.Error("the error does not say the session ended")
	}
	want := lines.NotStored{Type: "not_stored", Line: 2, Text: "doomed", Code: lines.CodeNotAcknowledged}
	if len(ns.Lines) != 1 || ns.Lines[0].Message == "" {
		t.Fatalf("not stored: %+v, want %+v", ns.Lines, want)
	}
	if got := ns.Lines[0]; got.Type != want.Type || got.Line != want.Line || got.Text != want.Text || got.Code != want.Code {
		t.Errorf("not stored: %+v, want %+v", got, want)
	}
	// The same report is printed as it happens.
	var printed []lines.NotStored
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var ns lines.NotStored
		if json.Unmarshal([]byte(l), &ns) == nil && ns.Type == "not_stored" {
			printed = append(printed, ns)
		}
	}
	if len(printed) != 1 || printed[0] != ns.Lines[0] {
		t.Errorf("printed %+v, want %+v", printed, ns.Lines)
	}
}
