package tui

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/client/chat"
)

func TestStatusBarComponent(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := statusBar{me: "alice", server: "chat.example:7700", tls: true, link: linkState{state: chat.Connected}}
	s.SetSize(120)
	v := ansiStrip(s.View(now))
	for _, want := range []string{"alice @ chat.example:7700", "TLS 🔒", "● connected", "F1 help"} {
		if !strings.Contains(v, want) {
			t.Errorf("connected view lacks %q:\n%s", want, v)
		}
	}
	if w := width(v); w != 120 {
		t.Errorf("view is %d cells wide, want 120", w)
	}

	cmd := s.reconnecting(chat.Event{Kind: chat.EvReconnecting, Attempt: 2, Wait: 3 * time.Second, Err: errors.New("refused")}, now, false)
	if cmd == nil || !s.ticking {
		t.Fatal("reconnecting starts no countdown")
	}
	if again := s.reconnecting(chat.Event{Kind: chat.EvReconnecting, Attempt: 3, Wait: time.Second}, now, false); again != nil {
		t.Error("a second reconnect starts a second countdown")
	}
	s.reconnecting(chat.Event{Kind: chat.EvReconnecting, Attempt: 2, Wait: 3 * time.Second, Err: errors.New("refused")}, now, false)
	if v := ansiStrip(s.View(now.Add(time.Second))); !strings.Contains(v, "reconnecting in 2s (attempt 2): refused") {
		t.Errorf("countdown view:\n%s", v)
	}
	if s.Update(tickMsg(now)) == nil {
		t.Error("a tick while reconnecting asks for no next one")
	}

	s.reconnecting(chat.Event{Kind: chat.EvReconnecting, Attempt: 1, Err: errors.New("refused")}, now, true)
	if v := ansiStrip(s.View(now)); !strings.Contains(v, "reconnecting now (/refresh)") || strings.Contains(v, "refused") {
		t.Errorf("refresh view:\n%s", v)
	}

	s.reconnected()
	if s.Update(tickMsg(now)) != nil || s.ticking {
		t.Error("the countdown goes on once connected")
	}
	if v := ansiStrip(s.View(now)); !strings.Contains(v, "● connected · reconnected") {
		t.Errorf("reconnected view:\n%s", v)
	}

	s.closed(errors.New("server gone"))
	s.tls = false
	if v := ansiStrip(s.View(now)); !strings.Contains(v, "✖ disconnected: server gone") || !strings.Contains(v, "no TLS") {
		t.Errorf("closed view:\n%s", v)
	}
	s.SetSize(30)
	if w := width(s.View(now)); w != 30 {
		t.Errorf("narrow view is %d cells wide, want 30", w)
	}
}
