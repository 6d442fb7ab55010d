package hub

import (
	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// Nicks. A user keeps their login name and account, and may choose
// another name to be shown by. A nick follows the name rules, and no
// two people may be shown alike: a nick whose skeleton (see skeleton)
// is another user's login name's or nick's is refused, and so is a new
// login name that looks like someone's nick. userLike holds the
// skeletons of both.

// loadNick indexes u's nick, loaded from the store.
func (h *Hub) loadNick(u *user) {
	if u.nick == "" {
		return
	}
	n, err := protocol.ParseName(u.nick)
	if err != nil {
		u.nick = ""
		return
	}
	h.nicks[n.Key] = u
	if _, taken := h.userLike[skeleton(n.Key)]; !taken {
		h.userLike[skeleton(n.Key)] = u.key
	}
}

// mentions reports whether text names u by their name or nick.
func (h *Hub) mentions(u *user, text string) bool {
	return protocol.Mentions(text, u.name) || (u.nick != "" && protocol.Mentions(text, u.nick))
}

// setNick answers a nick request: f.Nick becomes how the user is shown;
// an empty one goes back to the login name. Everyone online is told.
func (h *Hub) setNick(s *Session, f *protocol.Frame) *protocol.Error {
	u := s.user
	nick := ""
	var key string
	if f.Nick != "" {
		n, err := protocol.ParseName(f.Nick)
		if err != nil {
			err.Message = "nick: " + err.Message
			return err
		}
		if n.Key != u.key {
			// The login name in another case is no nick.
			nick, key = n.Display, n.Key
		}
	}
	like := skeleton(key)
	if nick != "" {
		if other := h.users[key]; other != nil && other != u {
			return protocol.Errorf(protocol.CodeNameTaken, "%s is the login name of someone else; pick another nick", nick)
		}
		if other := h.nicks[key]; other != nil && other != u {
			return protocol.Errorf(protocol.CodeNameTaken, "%s is %s's nick already; pick another", nick, other.name)
		}
		if owner, taken := h.userLike[like]; taken && owner != u.key {
			return protocol.Errorf(protocol.CodeNameTaken, "%s looks too much like %s, the name of %s; pick another nick",
				nick, h.shown(h.users[owner]), h.userName(owner))
		}
	}
	if old := u.nick; old != "" {
		if n, err := protocol.ParseName(old); err == nil {
			delete(h.nicks, n.Key)
			if sk := skeleton(n.Key); h.userLike[sk] == u.key && sk != skeleton(u.key) {
				delete(h.userLike, sk)
			}
		}
	}
	u.nick = nick
	if nick != "" {
		h.nicks[key] = u
		h.userLike[like] = u.key
	}
	h.queue(&record{
		changes: []store.Change{{Kind: store.SetNick, User: store.User{Key: u.key, Nick: nick}}},
		publish: func() {
			h.presenceFirst(u, nil)
			ev := event.New(event.Nick, &protocol.Frame{Type: protocol.TypeNick, Name: u.name, Nick: nick})
			for o := range h.online {
				h.deliver(o, ev)
			}
			h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Name: u.name, Nick: nick})
		},
		fail: h.failReply(s, f.ID),
	})
	return nil
}

// shown is how u is shown: their nick, or their name.
func (h *Hub) shown(u *user) string {
	if u == nil {
		return ""
	}
	if u.nick != "" {
		return u.nick
	}
	return u.name
}

// likeName is the name of user key whose skeleton is like: their nick,
// or their login name.
func (h *Hub) likeName(key, like string) string {
	u := h.users[key]
	if u != nil && u.nick != "" {
		if n, err := protocol.ParseName(u.nick); err == nil && skeleton(n.Key) == like {
			return u.nick
		}
	}
	return h.userName(key)
}
