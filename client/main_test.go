package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/parley-chat/parley/client/files"
)

// A server given without a port is on the chat server's default port,
// 7700; IPv6 literals work with and without brackets.
func TestChatAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"localhost", "localhost:7700"},
		{"localhost:7701", "localhost:7701"},
		{"localhost:", "localhost:7700"},
		{" chat.example ", "chat.example:7700"},
		{"192.168.1.20", "192.168.1.20:7700"},
		{"192.168.1.20:9000", "192.168.1.20:9000"},
		{"::1", "[::1]:7700"},
		{"[::1]", "[::1]:7700"},
		{"[::1]:7701", "[::1]:7701"},
		{"fe80::1%eth0", "[fe80::1%eth0]:7700"},
		{"[fe80::1%eth0]:7701", "[fe80::1%eth0]:7701"},
		{"小明.example", "小明.example:7700"},
	} {
		if got := chatAddr(tc.in); got != tc.want {
			t.Errorf("chatAddr(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestServerFlagWithoutPort(t *testing.T) {
	o, err := parseFlags([]string{"-server", "::1", "-name", "bob"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.server != "[::1]:7700" {
		t.Errorf("-server ::1 gives %q, want [::1]:7700", o.server)
	}
	o.useTLS = true
	conf, err := tlsConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	// Each node's certificate is checked against the name it is dialed
	// by, so the configuration names none.
	if conf.ServerName != "" {
		t.Errorf("TLS server name %q, want none", conf.ServerName)
	}
}

// -server takes a cluster's nodes, separated by commas, each completed
// as a single address is; empty entries and repeats are left out, and a
// list with no address is refused.
func TestServerFlagList(t *testing.T) {
	o, err := parseFlags([]string{"-server", "a.example, b.example:7800,,[::1],a.example:7700", "-name", "bob"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.example:7700", "b.example:7800", "[::1]:7700"}; !slices.Equal(o.addrs, want) {
		t.Errorf("addresses %q, want %q", o.addrs, want)
	}
	if o.server != "a.example:7700,b.example:7800,[::1]:7700" {
		t.Errorf("server %q", o.server)
	}
	for _, bad := range []string{",", " , "} {
		if _, err := parseFlags([]string{"-server", bad, "-name", "bob"}, io.Discard); err == nil {
			t.Errorf("-server %q accepted", bad)
		}
	}
}

// The full-screen client's file command output says where files are.
func TestCollectPrinterSaysWhere(t *testing.T) {
	var p collectPrinter
	p.Listing(&files.Listing{With: "bob", Entries: []files.Entry{{Name: "a.pdf", Path: "a.pdf", Size: 3, Uploader: "alice"}}})
	p.Listing(&files.Listing{Path: "docs"})
	p.Listing(&files.Listing{Entries: []files.Entry{{Name: "dropped.txt", Path: "dropped.txt"}}})
	p.Notice(files.Notice{Type: "removed", Path: "a.pdf", With: "bob"})
	p.Notice(files.Notice{Type: "uploaded", Path: "b.pdf", Size: 2, With: "bob"})
	got := p.take()
	for _, want := range []string{
		"the private space you share with bob:\n  a.pdf  3 B  by alice",
		"docs in the shared folder is empty",
		"the shared folder:\n  dropped.txt  0 B  copied in by hand",
		"removed a.pdf from the private space you share with bob",
		"uploaded b.pdf (2 B) to the private space you share with bob",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
}
