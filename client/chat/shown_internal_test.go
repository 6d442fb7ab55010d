package chat

import (
	"fmt"
	"testing"

	"github.com/parley-chat/parley/shared/protocol"
)

// step is one thing that happens to a session's record of what it showed:
// an event arriving (and whether it should be handed out), or a reply, a
// history page's end, leaving a room, a login.
type step struct {
	f      *protocol.Frame
	gappy  bool
	want   bool   // for an event: handed out
	reply  bool   // a reply arrives
	before uint64 // with reply: it answers a history request of conv with this before
	conv   string
	left   string // the user left this room
	login  []string
}

func room(r string, id uint64, history bool) *protocol.Frame {
	return &protocol.Frame{Type: protocol.TypeMessage, ID: id, Room: r, From: "bob", History: history}
}

func pm(from, to string, id uint64, history bool) *protocol.Frame {
	return &protocol.Frame{Type: protocol.TypeMessage, ID: id, From: from, To: to, History: history}
}

func show(f *protocol.Frame) step { return step{f: f, want: true} }
func drop(f *protocol.Frame) step { return step{f: f} }

// page is a history page of ids, oldest first, with the ones that are new.
func page(mk func(id uint64) *protocol.Frame, ids []uint64, fresh map[uint64]bool) []step {
	var out []step
	for _, id := range ids {
		out = append(out, step{f: mk(id), want: fresh[id]})
	}
	return out
}

func ids(lo, hi uint64) []uint64 {
	var out []uint64
	for i := lo; i <= hi; i++ {
		out = append(out, i)
	}
	return out
}

func set(vs ...uint64) map[uint64]bool {
	m := map[uint64]bool{}
	for _, v := range vs {
		m[v] = true
	}
	return m
}

func all(vs []uint64) map[uint64]bool { return set(vs...) }

func hist(r string) func(uint64) *protocol.Frame {
	return func(id uint64) *protocol.Frame { return room(r, id, true) }
}

func concat(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestShownHandsOutEachIDOnce(t *testing.T) {
	reply := step{reply: true}
	cases := []struct {
		name  string
		steps []step
	}{
		{"a page below what is shown comes oldest first and is all new", concat(
			page(hist("den"), ids(10, 20), all(ids(10, 20))), []step{reply},
			page(hist("den"), ids(1, 9), all(ids(1, 9))), []step{reply},
		)},
		{"a page over what is shown brings only what is not", concat(
			page(hist("den"), ids(10, 20), all(ids(10, 20))), []step{reply},
			page(hist("den"), ids(5, 15), all(ids(5, 9))), []step{reply},
			page(hist("den"), ids(15, 25), all(ids(21, 25))), []step{reply},
		)},
		{"joining again repeats nothing", concat(
			page(hist("den"), ids(1, 3), all(ids(1, 3))), []step{reply},
			page(hist("DEN"), ids(1, 3), nil), []step{reply},
		)},
		{"a catch-up that brings history again as live", concat(
			page(hist("den"), ids(1, 3), all(ids(1, 3))), []step{reply},
			[]step{drop(room("den", 1, false)), drop(room("den", 2, false)), drop(room("den", 3, false)), show(room("den", 4, false))},
		)},
		{"a live event at or below the last live one", []step{
			show(room("den", 5, false)), show(room("lobby", 7, false)),
			drop(room("den", 6, false)), drop(room("lobby", 7, false)), show(room("den", 8, false)),
		}},
		{"history of what came live", concat(
			[]step{show(room("den", 4, false)), show(room("den", 6, false)), show(room("den", 9, false))},
			page(hist("den"), []uint64{2, 4, 6, 9}, set(2)), []step{reply},
		)},
		{"pages either side of a reply are not one page", concat(
			page(hist("den"), []uint64{1, 5}, set(1, 5)), []step{reply},
			page(hist("den"), []uint64{8, 9}, set(8, 9)), []step{reply},
			page(hist("den"), []uint64{6}, set(6)), []step{reply},
		)},
		{"a page paged back from before reaches it", concat(
			page(hist("den"), []uint64{20}, set(20)), []step{reply},
			page(hist("den"), []uint64{3, 5}, set(3, 5)), []step{{reply: true, before: 20, conv: "#den"}},
			// Nothing of den lies between 5 and 20: a page that says
			// otherwise is not believed.
			page(hist("den"), []uint64{4, 12}, nil), []step{reply},
		)},
		{"a fresh login's private messages leave gaps", concat(
			[]step{{f: pm("bob", "alice", 480, false), gappy: true, want: true}, {f: pm("bob", "alice", 500, false), gappy: true, want: true}},
			[]step{reply},
			page(func(id uint64) *protocol.Frame { return pm("alice", "bob", id, true) }, []uint64{470, 480, 490, 500}, set(470, 490)),
		)},
		{"a private conversation is one whoever sends", []step{
			show(pm("alice", "Bob", 10, false)), show(pm("bob", "alice", 11, false)),
			drop(pm("BOB", "alice", 10, true)), drop(pm("alice", "bob", 11, true)),
		}},
		{"notes to oneself", []step{
			show(pm("alice", "alice", 10, false)), drop(pm("Alice", "ALICE", 10, true)),
			drop(pm("alice", "alice", 10, false)), show(pm("alice", "bob", 10, true)),
		}},
		{"recalls count in their conversation", []step{
			show(room("den", 3, true)), reply,
			show(&protocol.Frame{Type: protocol.TypeRecall, ID: 7, Room: "den", From: "bob", Msg: 3}),
			drop(&protocol.Frame{Type: protocol.TypeRecall, ID: 7, Room: "den", From: "bob", Msg: 3}),
		}},
		{"a room left and joined again starts a new live stream", concat(
			[]step{show(room("den", 10, false)), {left: "Den"}, show(room("den", 30, false))},
			page(hist("den"), ids(20, 30), all(ids(20, 29))),
		)},
		{"a room the login does not list starts a new live stream", concat(
			[]step{show(room("den", 10, false)), show(room("lobby", 11, false)), {login: []string{"lobby"}}, show(room("den", 30, false)), show(room("lobby", 31, false))},
			page(hist("den"), ids(20, 30), all(ids(20, 29))), []step{reply},
			page(hist("lobby"), ids(20, 31), nil),
		)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &shown{me: nameKey("Alice")}
			for i, st := range tc.steps {
				switch {
				case st.f != nil:
					if got := s.admit(st.f, st.gappy); got != st.want {
						t.Errorf("step %d: %s %d history %v in %s: handed out %v, want %v", i, st.f.Type, st.f.ID, st.f.History, s.keyOf(st.f), got, st.want)
					}
				case st.reply:
					if st.conv != "" {
						s.pageEnd(st.conv, st.before)
					}
					s.reply()
				case st.left != "":
					s.left(st.left)
				case st.login != nil:
					var rooms []protocol.RoomInfo
					for _, r := range st.login {
						rooms = append(rooms, protocol.RoomInfo{Name: r})
					}
					s.loggedIn(rooms)
				}
			}
		})
	}
}

// The spans of a conversation stay few, however many messages it has, and
// past the bound the oldest go first.
func TestShownStaysSmall(t *testing.T) {
	s := &shown{me: "alice"}
	for id := uint64(1); id <= 10000; id++ {
		s.admit(room("den", id, false), false)
	}
	if n := len(s.convs["#den"].spans); n != 1 {
		t.Errorf("a live stream of 10000 messages takes %d spans", n)
	}
	// Points that cannot be joined: more than the bound.
	const points = 2 * maxSpans
	last := uint64(20000 + 2*(points-1))
	for id := uint64(20000); id <= last; id += 2 {
		s.admit(pm("bob", "alice", id, false), true)
	}
	cv := s.convs["@bob"]
	if len(cv.spans) != maxSpans {
		t.Fatalf("%d spans kept, want %d", len(cv.spans), maxSpans)
	}
	if cv.contains(20000) || !cv.contains(last) || !cv.contains(last-2*(maxSpans-1)) {
		t.Errorf("spans kept: %v…%v; want the oldest forgotten", cv.spans[0], cv.spans[len(cv.spans)-1])
	}
}

func TestSpansJoin(t *testing.T) {
	cases := []struct {
		add  [][2]uint64
		want string
	}{
		{[][2]uint64{{1, 3}, {5, 7}}, "[{1 3} {5 7}]"},
		{[][2]uint64{{1, 3}, {4, 7}}, "[{1 7}]"},
		{[][2]uint64{{5, 7}, {1, 3}, {4, 4}}, "[{1 7}]"},
		{[][2]uint64{{1, 2}, {10, 12}, {20, 22}, {11, 21}}, "[{1 2} {10 22}]"},
		{[][2]uint64{{10, 12}, {1, 30}}, "[{1 30}]"},
		{[][2]uint64{{10, 12}, {11, 11}}, "[{10 12}]"},
	}
	for _, tc := range cases {
		var cv convShown
		for _, a := range tc.add {
			cv.add(a[0], a[1])
		}
		if got := fmt.Sprint(cv.spans); got != tc.want {
			t.Errorf("adding %v: %s, want %s", tc.add, got, tc.want)
		}
	}
}
