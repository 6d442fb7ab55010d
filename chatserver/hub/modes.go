package hub

import (
	"context"
	"errors"
	"net/netip"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// A room's settings and its members' roles:
//
//   - secret: the room is listed only to its members, in rooms replies
//     (and so in every client's room list), and a who of it from
//     outside finds no such room; anyone who knows its name may still
//     join it;
//   - topic_lock (on for a new room): only the owner and operators set
//     the topic; off, any member may;
//   - operator: a member who may kick, unban, set the topic and change
//     settings and roles, as the owner may; the owner is always one,
//     and stays the owner;
//   - voice: a mark the room shows (IRC's +v); it gives no right.
//
// A server operator (see handleOper) has an operator's rights in every
// room they are in.

// canOp reports whether s may act as an operator of r.
func (h *Hub) canOp(s *Session, r *room) bool {
	k := s.user.key
	return r.owner == k || r.ops[k] || s.serverOp
}

// withModes adds r's settings to a join or who reply; the lobby has
// none.
func withModes(f *protocol.Frame, r *room) *protocol.Frame {
	if r.isLobby {
		return f
	}
	secret, lock := r.secret, r.topicLock
	f.Secret, f.TopicLock = &secret, &lock
	return f
}

// setMode changes a room's settings, a member's roles, or both. Only what
// differs from the room's state is changed, stored and told to the room
// in a mode event; a request that changes nothing gets its reply alone.
func (h *Hub) setMode(s *Session, f *protocol.Frame) *protocol.Error {
	r, err := h.roomFor(f.Room)
	if err != nil {
		return err
	}
	if r.isLobby {
		return protocol.Errorf(protocol.CodeLobby, "the lobby has no settings or roles")
	}
	u := s.user
	if !r.members.has(u.key) {
		return protocol.Errorf(protocol.CodeNotMember, "you are not in %s", r.name)
	}
	role := f.Operator != nil || f.Voice != nil
	switch {
	case f.Secret == nil && f.TopicLock == nil && !role:
		return protocol.Errorf(protocol.CodeBadRequest, "a mode request sets secret or topic_lock, or with name, operator or voice")
	case role && f.Name == "":
		return protocol.Errorf(protocol.CodeBadRequest, "operator and voice need the name of a member")
	case !role && f.Name != "":
		return protocol.Errorf(protocol.CodeBadRequest, "a name needs operator or voice to set")
	}
	if !h.canOp(s, r) {
		return protocol.Errorf(protocol.CodeNotOwner, "only %s, the owner of %s, and its operators can change its settings", h.userName(r.owner), r.name)
	}
	var target *user
	if role {
		if target, err = h.userFor(f.Name); err != nil {
			return err
		}
		if !r.members.has(target.key) {
			return protocol.Errorf(protocol.CodeNotMember, "%s is not in %s", target.name, r.name)
		}
		if f.Operator != nil && !*f.Operator && target.key == r.owner {
			return protocol.Errorf(protocol.CodeBadRequest, "%s owns %s and is always an operator", target.name, r.name)
		}
	}
	ev := &protocol.Frame{Type: protocol.TypeMode, Room: r.name, By: u.name}
	var changes []store.Change
	secret, lock := r.secret, r.topicLock
	if f.Secret != nil && *f.Secret != secret {
		secret = *f.Secret
		ev.Secret = &secret
	}
	if f.TopicLock != nil && *f.TopicLock != lock {
		lock = *f.TopicLock
		ev.TopicLock = &lock
	}
	if ev.Secret != nil || ev.TopicLock != nil {
		r.secret, r.topicLock = secret, lock
		changes = append(changes, store.Change{Kind: store.SetModes, Room: store.Room{Key: r.key, Secret: secret, TopicLock: lock}})
	}
	if target != nil {
		op, voice := r.ops[target.key], r.voiced[target.key]
		if f.Operator != nil && *f.Operator != op && target.key != r.owner {
			op = *f.Operator
			ev.Operator = &op
		}
		if f.Voice != nil && *f.Voice != voice {
			voice = *f.Voice
			ev.Voice = &voice
		}
		if ev.Operator != nil || ev.Voice != nil {
			ev.Name = target.name
			setRole(r.ops, target.key, op)
			setRole(r.voiced, target.key, voice)
			changes = append(changes, store.Change{Kind: store.SetRoles, Room: store.Room{Key: r.key},
				Member: store.Member{User: target.key, Operator: op, Voice: voice}})
		}
	}
	mem := r.members
	h.queue(&record{
		changes: changes,
		publish: func() {
			if len(changes) > 0 {
				h.presenceFirst(u, nil)
				h.fanout(r, mem, event.New(event.Mode, ev))
			}
			h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Room: r.name})
		},
		fail: h.failReply(s, f.ID),
	})
	return nil
}

func setRole(m map[string]bool, key string, on bool) {
	if on {
		m[key] = true
	} else {
		delete(m, key)
	}
}

// handleOper makes s a server operator if f names one of
// Config.Operators with its password. The password is checked on the
// caller's goroutine, as a login's is: hashing takes milliseconds. The
// login throttle bounds the guesses at each operator's name as it does
// at an account's.
func (h *Hub) handleOper(s *Session, f *protocol.Frame) error {
	answer := func(perr *protocol.Error) error {
		return h.do(func() {
			if !h.attached(s) {
				return
			}
			if perr != nil {
				h.reply(s, perr.Frame(f.ID))
				return
			}
			s.serverOp = true
			h.log.Info("server operator", s.logAttrs("operator", f.Name)...)
			h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID})
		})
	}
	if len(f.Password) > protocol.MaxPasswordBytes {
		return answer(protocol.Errorf(protocol.CodeBadRequest, "password is longer than %d bytes", protocol.MaxPasswordBytes))
	}
	done, refused := h.cfg.Throttle.Begin(netip.Addr{}, "\x00oper "+f.Name)
	if refused != nil {
		return answer(refusal(refused))
	}
	hash := ""
	for _, o := range h.cfg.Operators {
		if o.Name == f.Name {
			hash = o.Hash
			break
		}
	}
	ok := false
	if hash != "" && f.Password != "" {
		var err error
		ok, err = h.cfg.Hasher.Verify(context.Background(), f.Password, hash)
		switch {
		case errors.Is(err, auth.ErrMalformedHash):
			h.log.Error("a server operator's password hash is malformed: make it again with chatserver hash-password", "operator", f.Name)
		case err != nil:
			done(auth.Unfinished)
			return answer(protocol.Errorf(protocol.CodeBusy, "the password could not be checked now; try again"))
		}
	}
	if !ok {
		done(auth.Failed)
		h.log.Warn("refused a server operator login", s.logAttrs("operator", f.Name)...)
		return answer(protocol.Errorf(protocol.CodeBadCredentials, "no server operator has that name and password"))
	}
	done(auth.Passed)
	return answer(nil)
}
