package command_test

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-chat/parley/chatserver/server/servertest"
	"github.com/parley-chat/parley/client/chat"
	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/shared/protocol"
)

// The room's owner gives and takes roles and settings with /op, /deop,
// /voice, /devoice, /secret and /topiclock; an operator may then kick and
// set a locked topic; /who shows the roles; a member without a role is
// refused with the server's reason, and a bad argument gets the usage.
func TestRoleCommands(t *testing.T) {
	srv := servertest.Start(t, nil)
	ctx := context.Background()
	alice := command.NewRunner(login(t, srv.Addr(), "alice"))
	bob := command.NewRunner(login(t, srv.Addr(), "bob"))
	carol := command.NewRunner(login(t, srv.Addr(), "carol"))
	for _, r := range []*command.Runner{alice, bob, carol} {
		if _, err := r.Run(ctx, "/join Go"); err != nil {
			t.Fatal(err)
		}
	}
	run := func(r *command.Runner, line, want string) {
		t.Helper()
		out, err := r.Run(ctx, line)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if out == nil || out.Type != "mode" || !strings.Contains(out.Text, want) {
			t.Fatalf("%s: %+v, want %q", line, out, want)
		}
	}

	// Not an operator yet: the server says why.
	if _, err := bob.Run(ctx, "/voice carol"); !chat.IsCode(err, protocol.CodeNotOwner) {
		t.Fatalf("/voice by a plain member: %v, want not_owner", err)
	}
	run(alice, "/op @bob", "bob is an operator of #Go: they may kick, unban, set the topic and change roles")
	run(bob, "/voice carol", "carol has voice in #Go")
	run(alice, "/topiclock on", "the topic of #Go is locked")
	if _, err := carol.Run(ctx, "/topic mine"); !chat.IsCode(err, protocol.CodeNotOwner) {
		t.Fatalf("/topic by a voiced member of a locked room: %v, want not_owner", err)
	}
	if _, err := bob.Run(ctx, "/topic set by an operator"); err != nil {
		t.Fatalf("/topic by an operator: %v", err)
	}
	run(bob, "/secret on", "#Go is secret")

	who, err := carol.Run(ctx, "/who")
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]protocol.MemberInfo{}
	for _, m := range who.Members {
		roles[m.Name] = m
	}
	if !roles["alice"].Owner || !roles["alice"].Operator || !roles["bob"].Operator || roles["bob"].Voice || !roles["carol"].Voice || roles["carol"].Operator {
		t.Fatalf("/who roles %+v", who.Members)
	}

	run(alice, "/devoice carol", "carol no longer has voice in #Go")
	run(alice, "/deop bob", "bob is no longer an operator of #Go")
	run(alice, "/secret off", "#Go is listed to everyone")
	run(alice, "/topiclock off", "any member of #Go may set its topic")
	if _, err := bob.Run(ctx, "/kick carol"); !chat.IsCode(err, protocol.CodeNotOwner) {
		t.Fatalf("/kick by a former operator: %v, want not_owner", err)
	}
	if _, err := carol.Run(ctx, "/topic anyone may now"); err != nil {
		t.Fatalf("/topic with the lock off: %v", err)
	}
	// The owner always is an operator.
	if _, err := alice.Run(ctx, "/deop alice"); !chat.IsCode(err, protocol.CodeBadRequest) {
		t.Fatalf("/deop of the owner: %v, want bad_request", err)
	}

	for _, c := range []struct{ line, want string }{
		{"/op", "usage: /op NAME"},
		{"/voice a b", "usage: /voice NAME"},
		{"/secret maybe", "usage: /secret on|off"},
		{"/topiclock", "usage: /topiclock on|off"},
	} {
		if _, err := alice.Run(ctx, c.line); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.line, err, c.want)
		}
	}
	if _, err := alice.Run(ctx, "/switch @carol"); err != nil {
		t.Fatal(err)
	}
	// In a private conversation there is no room to change.
	if _, err := alice.Run(ctx, "/op carol"); err == nil || !strings.Contains(err.Error(), "/op works in a room") {
		t.Errorf("/op in a private conversation: %v", err)
	}
}
