package tui

import (
	"context"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/parley-chat/parley/shared/protocol"
)

func TestLoginForm(t *testing.T) {
	var tried []Login
	conn := newFakeConn("Bob")
	t.Cleanup(func() { close(conn.events) })
	a := NewApp(AppConfig{
		Login: Login{Server: "chat.example:7700"},
		Connect: func(_ context.Context, l Login) (Config, error) {
			tried = append(tried, l)
			if l.Password != "right" {
				return Config{}, &protocol.Error{Code: protocol.CodeBadCredentials, Message: "wrong password for bob"}
			}
			return Config{Conn: conn, Server: l.Server}, nil
		},
	})
	if a.Init() != nil {
		t.Fatal("the form connects before it is filled in")
	}
	a.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	screen := func() string { return ansi.Strip(a.View().Content) }
	if s := screen(); !strings.Contains(s, "Server      chat.example:7700") || !strings.Contains(s, "Password") {
		t.Fatalf("form:\n%s", s)
	}
	press := func(keys ...string) tea.Cmd {
		var cmd tea.Cmd
		for _, k := range keys {
			_, cmd = a.Update(keyMsg(k))
		}
		return cmd
	}
	typeIn := func(s string) {
		for _, g := range graphemes(s) {
			a.Update(tea.KeyPressMsg{Code: []rune(g)[0], Text: g})
		}
	}
	// The name field has the focus: the server is filled in.
	typeIn("bob")
	if cmd := press("enter"); cmd != nil {
		t.Fatal("enter on the name submits with no password")
	}
	typeIn("wrong")
	if s := screen(); strings.Contains(s, "wrong") || !strings.Contains(s, "•••••") {
		t.Fatalf("the password shows:\n%s", s)
	}
	cmd := press("enter")
	if cmd == nil {
		t.Fatal("enter on the password does not log in")
	}
	if s := screen(); !strings.Contains(s, "Connecting to chat.example:7700") {
		t.Fatalf("no sign of connecting:\n%s", s)
	}
	a.Update(cmd())
	if s := screen(); !strings.Contains(s, "wrong password for bob") {
		t.Fatalf("the error is not shown:\n%s", s)
	}
	if len(tried) != 1 || tried[0] != (Login{Server: "chat.example:7700", Name: "bob", Password: "wrong"}) {
		t.Fatalf("tried %+v", tried)
	}
	// Fix the password and log in.
	press("end", "ctrl+u")
	typeIn("right")
	cmd = press("enter")
	a.Update(cmd())
	if a.Chat() == nil {
		t.Fatalf("not logged in after the right password:\n%s", screen())
	}
	if s := screen(); !strings.Contains(s, "Bob @ chat.example:7700") {
		t.Fatalf("chat screen:\n%s", s)
	}
}

func TestLoginFormAutoConnect(t *testing.T) {
	called := make(chan Login, 1)
	a := NewApp(AppConfig{
		Login:       Login{Server: "s:1", Name: "王小明"},
		AutoConnect: true,
		Connect: func(_ context.Context, l Login) (Config, error) {
			called <- l
			return Config{}, &protocol.Error{Code: protocol.CodeBadToken, Message: "the saved login has expired; a password is needed"}
		},
	})
	cmd := a.Init()
	if cmd == nil {
		t.Fatal("no connect with a saved session")
	}
	a.Update(cmd())
	if l := <-called; l.Name != "王小明" {
		t.Fatalf("connected as %q", l.Name)
	}
	s := ansi.Strip(a.View().Content)
	if !strings.Contains(s, "the saved login has expired") || a.form.focus != 2 {
		t.Fatalf("form after an expired session (focus %d):\n%s", a.form.focus, s)
	}
	// Esc leaves.
	if _, cmd := a.Update(keyMsg("esc")); cmd == nil {
		t.Fatal("esc does not quit")
	}
}
