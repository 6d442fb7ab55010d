package tui

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/shared/protocol"
)

// TestMonkey presses random keys, clicks, resizes and feeds random events,
// and checks after each step that the screen is still exactly the size
// of the terminal. A panic fails the test.
func TestMonkey(t *testing.T) {
	keys := []string{"enter", "tab", "esc", "up", "down", "left", "right", "pgup", "pgdown", "backspace", "home", "end",
		"f1", "f2", "f3", "f4", "f6", "ctrl+n", "ctrl+p", "ctrl+g", "ctrl+x", "ctrl+w", "ctrl+u", "ctrl+k", "shift+tab",
		"alt+1", "alt+2", "alt+3", "alt+enter", "a", "/", "@", "#", ":", "中", "👍", "space", "r", "j", "k", "d"}
	texts := []string{"/join r", "/switch @b", "/sticker", "/who", "/emoji", "/query 王", "//x", "/clear", "/download 3", "/upload /nonexistent", "/cancel"}
	names := []string{"bob", "王小明", "alice", "ZOË"}
	rooms := []string{"lobby", "r", "中文"}
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed))
			h := newHarness(t)
			w, ht := 100, 30
			var id uint64 = 1000
			for step := 0; step < 300; step++ {
				switch r := rng.IntN(20); {
				case r < 9:
					h.send(keyMsg(keys[rng.IntN(len(keys))]))
				case r < 10:
					h.typeText(texts[rng.IntN(len(texts))])
				case r < 11:
					w, ht = 10+rng.IntN(150), 4+rng.IntN(50)
					h.send(tea.WindowSizeMsg{Width: w, Height: ht})
				case r < 12:
					h.send(tea.MouseClickMsg{X: rng.IntN(w), Y: rng.IntN(ht), Button: tea.MouseLeft})
				case r < 13:
					h.send(tea.MouseWheelMsg{Button: tea.MouseWheelUp + tea.MouseButton(rng.IntN(2))})
				case r < 18:
					id++
					f := &protocol.Frame{Type: protocol.TypeMessage, ID: id - uint64(rng.IntN(5)), From: names[rng.IntN(len(names))],
						Text: "word 中文 👍🏽 " + fmt.Sprint(step), Time: h.now.UnixMilli(), History: rng.IntN(4) == 0}
					if rng.IntN(3) == 0 {
						f.To = names[rng.IntN(len(names))]
					} else {
						f.Room = rooms[rng.IntN(len(rooms))]
					}
					if rng.IntN(5) == 0 {
						f.Kind, f.File = protocol.KindFile, &protocol.File{Name: "f.bin", Size: int64(rng.IntN(1 << 30))}
					}
					h.frame(f)
				case r < 19:
					evs := []*protocol.Frame{
						{Type: protocol.TypePresence, Name: names[rng.IntN(len(names))], Status: protocol.StatusOffline},
						{Type: protocol.TypeMember, Room: rooms[rng.IntN(len(rooms))], Name: names[rng.IntN(len(names))], Action: protocol.ActionJoin},
						{Type: protocol.TypeMember, Room: rooms[rng.IntN(len(rooms))], Name: names[rng.IntN(len(names))], Action: protocol.ActionLeave},
						{Type: protocol.TypeKicked, Room: rooms[rng.IntN(len(rooms))], By: "bob"},
						{Type: protocol.TypeRecall, ID: id + 1, Msg: id - uint64(rng.IntN(10)), From: "bob", Room: "lobby"},
						{Type: protocol.TypeOwner, Room: "r", Name: "bob"},
						{Type: protocol.TypeError, Code: "x", Message: "boom"},
					}
					h.frame(evs[rng.IntN(len(evs))])
				default:
					evs := []chat.Event{
						{Kind: chat.EvReconnecting, Wait: time.Duration(rng.IntN(5000)) * time.Millisecond, Attempt: rng.IntN(9)},
						{Kind: chat.EvReconnected},
					}
					h.event(evs[rng.IntN(len(evs))])
				}
				if w >= 20 && ht >= 8 {
					h.checkGeometry(w, ht)
				} else {
					h.m.View()
				}
			}
		})
	}
}
