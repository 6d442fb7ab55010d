package hub

import (
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/parley-chat/parley/chatserver/event"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// sendReply stores a message, a reply to the message reply if that is
// not nil, and, once it is durable, delivers it to the conversation's
// online members (the sender's echo included) and replies with its id.
func (h *Hub) sendReply(s *Session, f *protocol.Frame, reply *store.Message) *protocol.Error {
	u := s.user
	if len(f.Key) > protocol.MaxKeyBytes {
		return protocol.Errorf(protocol.CodeBadRequest, "idempotency key is longer than %d bytes", protocol.MaxKeyBytes)
	}
	m := store.Message{From: u.key, FromName: u.name, FromNick: u.nick, Kind: f.Kind, Text: f.Text, Key: f.Key}
	switch f.Kind {
	case protocol.KindText, protocol.KindNotice, protocol.KindAction:
		if err := protocol.CheckText(f.Text, h.cfg.MaxText); err != nil {
			return err
		}
	case protocol.KindFile:
		if err := checkFile(f.File); err != nil {
			return err
		}
		if f.Text != "" {
			if err := protocol.CheckText(f.Text, h.cfg.MaxText); err != nil {
				return err
			}
		}
		b, _ := json.Marshal(f.File)
		m.File = string(b)
	default:
		return protocol.Errorf(protocol.CodeBadRequest, "unknown message kind %q", f.Kind)
	}

	var r *room
	var to *user
	switch {
	case f.Room != "" && f.To != "":
		return protocol.Errorf(protocol.CodeBadRequest, "a message goes to a room or to a person, not both")
	case f.To == "" && f.Kind == protocol.KindFile && f.File.Private:
		return protocol.Errorf(protocol.CodeBadRequest, "a private file can only be sent in a private conversation; upload it to the shared folder to post it in a room")
	case f.To != "":
		var err *protocol.Error
		if to, err = h.userFor(f.To); err != nil {
			return err
		}
		m.To, m.ToName, m.Conv = to.key, to.name, store.PrivateConv(u.key, to.key)
	default:
		var err *protocol.Error
		if r, err = h.roomFor(f.Room); err != nil {
			return err
		}
		if !h.isMember(r, u.key) {
			return protocol.Errorf(protocol.CodeNotMember, "you are not in %s; /join it first", r.name)
		}
		m.Room, m.Conv = r.key, store.RoomConv(r.key)
	}
	if reply != nil {
		if reply.Conv != m.Conv {
			return protocol.Errorf(protocol.CodeNoSuchMessage, "message %d is in another conversation; reply to it there", reply.ID)
		}
		m.ReplyTo = reply.ID
		m.Quote = store.Quote{From: reply.FromName, Text: reply.Text, Kind: reply.Kind}
	}

	if f.Key != "" {
		if id, ok := h.keys.get(u.key, f.Key); ok {
			// A retry of a message already accepted: answer with its id
			// once it is durable, and store nothing.
			h.queue(&record{publish: func() {
				h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Msg: id})
			}})
			return nil
		}
	}

	h.nextID++
	m.ID = h.nextID
	m.Time = h.cfg.Now()
	if f.Key != "" {
		h.keys.put(u.key, f.Key, m.ID)
	}
	// Sending in a conversation is having read it.
	changes := append([]store.Change{{Kind: store.AddMessage, Message: m}}, h.moveRead(u, m.Conv, m.ID)...)
	var mem *members
	if r != nil {
		mem = r.members
	}
	h.queue(&record{
		changes: changes,
		publish: func() {
			h.published(m)
			b := h.messageEvent(&m, false)
			b.Frame.ClientTags = f.ClientTags
			h.presenceFirst(u, nil)
			if r != nil {
				h.fanoutLog(r, mem, b)
			} else {
				if u.sess != nil {
					h.deliverLog(u.sess, b)
				}
				if to != u && to.sess != nil && h.deliverLog(to.sess, b) {
					h.markDelivered(to, []store.Message{m})
				}
			}
			h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Msg: m.ID})
		},
		fail: func(error) {
			h.lastPub = m.ID // the id is skipped
			h.keys.forget(u.key, f.Key)
			h.reply(s, protocol.Errorf(h.writeCode(), "message could not be stored; send it again").Frame(f.ID))
		},
	})
	return nil
}

func checkFile(f *protocol.File) *protocol.Error {
	switch {
	case f == nil:
		return protocol.Errorf(protocol.CodeBadRequest, "a file message needs a file")
	case f.Name == "" || f.Path == "":
		return protocol.Errorf(protocol.CodeBadRequest, "a file message needs the file's name and path")
	case f.Size < 0:
		return protocol.Errorf(protocol.CodeBadRequest, "file size is negative")
	case len(f.Name) > 1024 || len(f.Path) > 4096:
		return protocol.Errorf(protocol.CodeBadRequest, "file reference is too long")
	case f.SHA256 != "" && !isHexDigest(f.SHA256):
		return protocol.Errorf(protocol.CodeBadRequest, "file sha256 must be 64 hexadecimal digits")
	}
	if err := protocol.CheckText(f.Name, 1024); err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "file name: %s", err.Message)
	}
	if err := protocol.CheckText(f.Path, 4096); err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "file path: %s", err.Message)
	}
	return nil
}

func isHexDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func decodeFile(s string) *protocol.File {
	var f protocol.File
	if json.Unmarshal([]byte(s), &f) != nil {
		return nil
	}
	return &f
}

// join creates a room or joins it; the creator of a room owns it. It
// runs on the hub goroutine, and returns the read of the room's history
// that goes before the reply (see handleRead).
func (h *Hub) join(s *Session, f *protocol.Frame) (*historyRead, *protocol.Error) {
	u := s.user
	n, perr := protocol.ParseRoom(f.Room)
	if perr != nil {
		return nil, perr
	}
	r := h.rooms[n.Key]
	if n.Key == protocol.Lobby {
		r = h.lobby
	}
	if r != nil && r.banned[u.key] {
		return nil, protocol.Errorf(protocol.CodeBanned, "you were removed from %s; only %s, its owner, or its operators can let you back in",
			r.name, h.userName(r.owner))
	}
	if r != nil && h.isMember(r, u.key) {
		// Already in: show the history and the room again.
		h.hold(s)
		return &historyRead{conv: store.RoomConv(r.key), room: r.name, before: h.lastPub + 1, limit: h.cfg.JoinHistory,
			reply: withModes(withTopic(&protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Room: r.name, Owner: h.userName(r.owner)}, r), r)}, nil
	}
	var changes []store.Change
	if r == nil {
		like := skeleton(n.Key)
		if other := h.roomLike[like]; other != "" {
			return nil, protocol.Errorf(protocol.CodeBadName, "%s looks too much like the room %s, which exists; join that one or pick another name",
				n.Display, h.roomName(other))
		}
		r = &room{key: n.Key, name: n.Display, created: h.cfg.Now(), members: &members{seq: map[string]uint64{}}, banned: map[string]bool{},
			topicLock: true, ops: map[string]bool{}, voiced: map[string]bool{}}
		h.rooms[r.key] = r
		h.roomLike[like] = r.key
		changes = append(changes, store.Change{Kind: store.CreateRoom, Room: store.Room{Key: r.key, Name: r.name, Owner: u.key, Created: r.created}})
	}
	ownerChanged := false
	if r.owner == "" {
		r.owner = u.key
		ownerChanged = true
		changes = append(changes, store.Change{Kind: store.SetOwner, Room: store.Room{Key: r.key, Owner: u.key}})
	}
	h.seq++
	mb := store.Member{User: u.key, Seq: h.seq}
	r.members = r.members.with(mb, u)
	u.rooms[r.key] = r
	changes = append(changes, store.Change{Kind: store.AddMember, Room: store.Room{Key: r.key}, Member: mb})
	// The history a join shows counts as read.
	changes = append(changes, h.moveRead(u, store.RoomConv(r.key), h.lastPub)...)
	mem := r.members
	owner := r.owner
	hr := &historyRead{conv: store.RoomConv(r.key), room: r.name, limit: h.cfg.JoinHistory, published: make(chan struct{}),
		reply: withModes(withTopic(&protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Room: r.name, Owner: h.userName(owner)}, r), r)}
	h.queue(&record{
		changes: changes,
		publish: func() {
			defer close(hr.published)
			h.presenceFirst(u, nil)
			h.fanout(r, mem, event.New(event.Member, &protocol.Frame{Type: protocol.TypeMember, Room: r.name, Name: u.name, Nick: u.nick, Action: protocol.ActionJoin}))
			if ownerChanged {
				h.fanout(r, mem, event.New(event.Owner, &protocol.Frame{Type: protocol.TypeOwner, Room: r.name, Name: u.name}))
			}
			if u.sess != s {
				hr.skip = true // replaced meanwhile: nobody to answer
				return
			}
			hr.before = h.lastPub + 1
			h.hold(s)
		},
		fail: func(err error) {
			defer close(hr.published)
			hr.skip = true
			h.failReply(s, f.ID)(err)
		},
	})
	return hr, nil
}

func (h *Hub) failReply(s *Session, re uint64) func(error) {
	return func(error) {
		h.reply(s, protocol.Errorf(h.writeCode(), "could not save the change; try again").Frame(re))
	}
}

// writeCode is the code of a reply to a request whose write failed.
func (h *Hub) writeCode() string {
	if h.cfg.WriteFailed != nil {
		return protocol.CodeUnavailable
	}
	return protocol.CodeInternal
}

// leave removes the session's user from a room. If they owned it, the member
// who joined earliest becomes the owner, and the room is told.
func (h *Hub) leave(s *Session, f *protocol.Frame) *protocol.Error {
	r, err := h.roomFor(f.Room)
	if err != nil {
		return err
	}
	if r.isLobby {
		return protocol.Errorf(protocol.CodeLobby, "everyone stays in the lobby")
	}
	u := s.user
	if !r.members.has(u.key) {
		return protocol.Errorf(protocol.CodeNotMember, "you are not in %s", r.name)
	}
	reason, perr := memberReason(f.Text)
	if perr != nil {
		return perr
	}
	h.removeMember(r, u, nil, reason, f.ID, s)
	return nil
}

// memberReason checks the optional reason of a leave or a kick: one line,
// as long as a topic at most.
func memberReason(text string) (string, *protocol.Error) {
	if strings.TrimSpace(text) == "" {
		return "", nil
	}
	if perr := checkTopic(text); perr != nil {
		return "", protocol.Errorf(perr.Code, "%s", strings.Replace(perr.Message, "topic", "reason", 1))
	}
	return text, nil
}

// kick removes another member from a room; the owner and the room's
// operators may.
func (h *Hub) kick(s *Session, f *protocol.Frame) *protocol.Error {
	r, err := h.roomFor(f.Room)
	if err != nil {
		return err
	}
	if r.isLobby {
		return protocol.Errorf(protocol.CodeLobby, "nobody can be kicked from the lobby")
	}
	u := s.user
	if !h.canOp(s, r) {
		return protocol.Errorf(protocol.CodeNotOwner, "only %s, the owner of %s, and its operators can kick", h.userName(r.owner), r.name)
	}
	target, err := h.userFor(f.Name)
	if err != nil {
		return err
	}
	if target == u {
		return protocol.Errorf(protocol.CodeBadRequest, "you cannot kick yourself; use /leave")
	}
	if !r.members.has(target.key) {
		return protocol.Errorf(protocol.CodeNotMember, "%s is not in %s", target.name, r.name)
	}
	reason, perr := memberReason(f.Text)
	if perr != nil {
		return perr
	}
	h.removeMember(r, target, u, reason, f.ID, s)
	return nil
}

// unban lets a member who was kicked join the room again; the owner and
// the room's operators may.
func (h *Hub) unban(s *Session, f *protocol.Frame) *protocol.Error {
	r, err := h.roomFor(f.Room)
	if err != nil {
		return err
	}
	if r.isLobby {
		return protocol.Errorf(protocol.CodeLobby, "nobody is banned from the lobby")
	}
	if !h.canOp(s, r) {
		return protocol.Errorf(protocol.CodeNotOwner, "only %s, the owner of %s, and its operators can unban", h.userName(r.owner), r.name)
	}
	target, err := h.userFor(f.Name)
	if err != nil {
		return err
	}
	if !r.banned[target.key] {
		return protocol.Errorf(protocol.CodeBadRequest, "%s is not banned from %s", target.name, r.name)
	}
	delete(r.banned, target.key)
	h.queue(&record{
		changes: []store.Change{{Kind: store.RemoveBan, Room: store.Room{Key: r.key}, Member: store.Member{User: target.key}}},
		publish: func() { h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Room: r.name}) },
		fail:    h.failReply(s, f.ID),
	})
	return nil
}

// removeMember takes u out of r, by themselves (by == nil) or kicked,
// and banned, by the owner, passes ownership on if needed, and replies to
// s. A room its last member leaves is deleted with its history and bans:
// whoever joins that name next makes a new room, and reads nothing of
// the old one.
func (h *Hub) removeMember(r *room, u, by *user, reason string, re uint64, s *Session) {
	before := r.members
	r.members = r.members.without(u.key)
	delete(u.rooms, r.key)
	delete(r.ops, u.key) // roles go with the membership
	delete(r.voiced, u.key)
	changes := []store.Change{{Kind: store.RemoveMember, Room: store.Room{Key: r.key}, Member: store.Member{User: u.key}}}
	if by != nil {
		r.banned[u.key] = true
		changes = append(changes, store.Change{Kind: store.AddBan, Room: store.Room{Key: r.key}, Member: store.Member{User: u.key}})
	}
	gone := len(r.members.list) == 0
	if gone {
		delete(h.rooms, r.key)
		delete(h.roomLike, skeleton(r.key))
		changes = append(changes, store.Change{Kind: store.DeleteRoom, Room: store.Room{Key: r.key}})
	}
	var newOwner string
	ownerChanged := r.owner == u.key && !gone
	if ownerChanged {
		if len(r.members.list) > 0 {
			newOwner = r.members.list[0].User // lowest sequence: joined earliest
		}
		r.owner = newOwner
		changes = append(changes, store.Change{Kind: store.SetOwner, Room: store.Room{Key: r.key, Owner: newOwner}})
	}
	action, byName := protocol.ActionLeave, ""
	if by != nil {
		action, byName = protocol.ActionKick, by.name
	}
	h.queue(&record{
		changes: changes,
		publish: func() {
			// Everyone who was in the room, the one leaving included, hears it.
			h.presenceFirst(u, by)
			h.fanout(r, before, event.New(event.Member, &protocol.Frame{Type: protocol.TypeMember, Room: r.name, Name: u.name, Action: action, By: byName, Text: reason}))
			if by != nil && u.sess != nil {
				h.deliver(u.sess, event.New(event.Kicked, &protocol.Frame{Type: protocol.TypeKicked, Room: r.name, By: byName,
					Message: byName + " removed you from " + r.name + "; you cannot join it again unless they unban you"}))
			}
			if ownerChanged {
				h.presenceFirst(h.users[newOwner], nil)
				h.fanout(r, before, event.New(event.Owner, &protocol.Frame{Type: protocol.TypeOwner, Room: r.name, Name: h.userName(newOwner)}))
			}
			h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: re, Room: r.name})
		},
		fail: h.failReply(s, re),
	})
}

// recallWith withdraws one of the session user's own messages within
// the recall window: m, which handleRecall looked up (err if it could
// not). The log keeps a tombstone and gains a recall entry, which every
// member of the conversation receives.
func (h *Hub) recallWith(s *Session, f *protocol.Frame, m store.Message, err error) *protocol.Error {
	u := s.user
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.Kind == store.KindRecall) {
		if f.Msg == 0 {
			return protocol.Errorf(protocol.CodeNoSuchMessage, "you have sent no message to recall")
		}
		return protocol.Errorf(protocol.CodeNoSuchMessage, "there is no message %d", f.Msg)
	}
	if err != nil {
		return h.internal("load message", err)
	}
	if m.From != u.key {
		// Say nothing of who sent it: the ids of private messages
		// between others are not the asker's business.
		return protocol.Errorf(protocol.CodeNotYours, "message %d is not yours; you can only recall your own", m.ID)
	}
	var r *room
	var mem *members
	if m.Room != "" {
		if m.Room == protocol.Lobby {
			r = h.lobby
		} else {
			r = h.rooms[m.Room]
		}
		if r == nil || r.created.After(m.Time) {
			// The room went with its last member, history and all, and
			// may have been made anew since.
			return protocol.Errorf(protocol.CodeNoSuchMessage, "there is no message %d", m.ID)
		}
		mem = r.members
	}
	if m.Recalled || h.recalls.has(m.ID) {
		return protocol.Errorf(protocol.CodeNoSuchMessage, "message %d is already recalled", m.ID)
	}
	now := h.cfg.Now()
	if age := now.Sub(m.Time); age > h.cfg.RecallWindow {
		return protocol.Errorf(protocol.CodeRecallExpired, "message %d is %s old; messages can be recalled for %s",
			m.ID, age.Round(1e9), h.cfg.RecallWindow)
	}
	h.recalls.add(m.ID, m.Time, now.Add(-h.cfg.RecallWindow))
	h.nextID++
	rc := store.Message{ID: h.nextID, Conv: m.Conv, Room: m.Room, From: m.From, FromName: m.FromName,
		To: m.To, ToName: m.ToName, Kind: store.KindRecall, Target: m.ID, Time: now}
	h.queue(&record{
		changes: []store.Change{{Kind: store.RecallMsg, Message: rc}},
		publish: func() {
			h.published(rc)
			b := h.messageEvent(&rc, false)
			h.presenceFirst(h.users[m.From], nil)
			switch {
			case r != nil:
				h.fanoutLog(r, mem, b)
			default:
				for _, k := range []string{m.From, m.To} {
					if pu := h.users[k]; pu != nil && pu.sess != nil {
						h.deliverLog(pu.sess, b)
					}
					if m.From == m.To {
						break
					}
				}
			}
			h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Msg: m.ID})
		},
		fail: func(err error) {
			h.lastPub = rc.ID
			h.recalls.forget(m.ID)
			h.failReply(s, f.ID)(err)
		},
	})
	return nil
}

// maxRooms is the most rooms a rooms or login reply lists. An entry takes
// at most about 320 bytes of JSON (two names of 32 four-byte characters),
// so the reply stays under the 64 KiB frame limit.
const maxRooms = 150

// roomInfos lists the lobby and the rooms that have members: the user's
// own first, then the busiest. With joinedOnly, only the user's. It
// returns at most maxRooms entries and how many more there are.
func (h *Hub) roomInfos(u *user, joinedOnly bool) ([]protocol.RoomInfo, int) {
	out := []protocol.RoomInfo{{Name: protocol.Lobby, Members: len(h.users), Joined: true}}
	var rest []protocol.RoomInfo
	for _, r := range h.rooms {
		joined := r.members.has(u.key)
		if len(r.members.list) == 0 || (joinedOnly && !joined) || (r.secret && !joined) {
			continue
		}
		rest = append(rest, protocol.RoomInfo{Name: r.name, Members: len(r.members.list), Owner: h.userName(r.owner), Joined: joined, Topic: r.topic,
			Secret: r.secret, TopicLock: r.topicLock})
	}
	sort.Slice(rest, func(i, j int) bool {
		a, b := rest[i], rest[j]
		if a.Joined != b.Joined {
			return a.Joined
		}
		if a.Members != b.Members {
			return a.Members > b.Members
		}
		return a.Name < b.Name
	})
	more := 0
	if len(rest) > maxRooms-1 {
		more = len(rest) - (maxRooms - 1)
		rest = rest[:maxRooms-1]
	}
	return append(out, rest...), more
}

func (h *Hub) listRooms(s *Session, f *protocol.Frame) *protocol.Error {
	rooms, more := h.roomInfos(s.user, false)
	h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Rooms: rooms, More: more})
	return nil
}

// maxWho is the most members a who reply lists; a name takes at most 130
// bytes of JSON, so the reply stays under the 64 KiB frame limit.
const maxWho = 400

// who lists a room's members, online ones first, with online and owner
// marks. For the lobby, that is every registered user.
func (h *Hub) who(s *Session, f *protocol.Frame) *protocol.Error {
	r, err := h.roomFor(f.Room)
	if err != nil {
		return err
	}
	if r.secret && !r.members.has(s.user.key) {
		// A secret room is not there for those outside it.
		return protocol.Errorf(protocol.CodeNoSuchRoom, "there is no room %q", f.Room)
	}
	var list []protocol.MemberInfo
	if r.isLobby {
		for _, u := range h.users {
			list = append(list, protocol.MemberInfo{Name: u.name, Online: u.sess != nil, Nick: u.nick, ServerOperator: u.sess != nil && u.sess.serverOp})
		}
		sort.Slice(list, func(i, j int) bool {
			if list[i].Online != list[j].Online {
				return list[i].Online
			}
			return list[i].Name < list[j].Name
		})
	} else {
		for _, mb := range r.members.list { // join order
			u := h.users[mb.User]
			list = append(list, protocol.MemberInfo{Name: u.name, Online: u.sess != nil, Owner: mb.User == r.owner, Nick: u.nick,
				Operator: mb.User == r.owner || r.ops[mb.User], Voice: r.voiced[mb.User], ServerOperator: u.sess != nil && u.sess.serverOp})
		}
		sort.SliceStable(list, func(i, j int) bool { return list[i].Online && !list[j].Online })
	}
	more := 0
	if len(list) > maxWho {
		more = len(list) - maxWho
		list = list[:maxWho]
	}
	var banned []string
	if !r.isLobby && h.canOp(s, r) {
		for k := range r.banned {
			banned = append(banned, h.userName(k))
		}
		sort.Strings(banned)
		banned = banned[:min(len(banned), maxWho)]
	}
	h.reply(s, withModes(&protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Room: r.name, Members: list, More: more, Banned: banned}, r))
	return nil
}

// historyQuery checks a history request, which pages back through a
// conversation: the messages before f.Before (or the newest), sent as
// history events, then the reply. It returns the read to do off the hub
// goroutine (see handleRead).
func (h *Hub) historyQuery(s *Session, f *protocol.Frame) (*historyRead, *protocol.Error) {
	u := s.user
	limit := f.Limit
	if limit <= 0 {
		limit = h.cfg.JoinHistory
	}
	limit = min(limit, protocol.MaxHistory)
	before := f.Before
	if before == 0 || before > h.lastPub+1 {
		before = h.lastPub + 1
	}
	hr := &historyRead{before: before, limit: limit, page: true, reply: &protocol.Frame{Type: protocol.TypeOK, Re: f.ID}}
	if f.To != "" {
		other, err := h.userFor(f.To)
		if err != nil {
			return nil, err
		}
		hr.conv = store.PrivateConv(u.key, other.key)
		return hr, nil
	}
	r, err := h.roomFor(f.Room)
	if err != nil {
		return nil, err
	}
	if !h.isMember(r, u.key) {
		return nil, protocol.Errorf(protocol.CodeNotMember, "you are not in %s; /join it first", r.name)
	}
	hr.conv, hr.room = store.RoomConv(r.key), r.name
	return hr, nil
}

// idemCache remembers the message id of recent (sender, key) pairs, so a
// client that sends a message again after a reconnect stores it once.
type idemCache struct {
	ids  map[string]uint64
	ring []idemEntry // grows to size, then the oldest entry goes for each new one
	next int
	size int
}

// idemEntry is a key as it was put. A key forgotten and put again has two
// entries; the older one going must not take the newer one's id with it.
type idemEntry struct {
	key string
	id  uint64
}

func newIdemCache(n int) idemCache {
	return idemCache{ids: make(map[string]uint64), size: n}
}

func idemKey(user, key string) string { return user + "\x00" + key }

func (c *idemCache) get(user, key string) (uint64, bool) {
	id, ok := c.ids[idemKey(user, key)]
	return id, ok
}

func (c *idemCache) put(user, key string, id uint64) {
	e := idemEntry{idemKey(user, key), id}
	if len(c.ring) < c.size {
		c.ring = append(c.ring, e)
	} else {
		if old := c.ring[c.next]; c.ids[old.key] == old.id {
			delete(c.ids, old.key)
		}
		c.ring[c.next] = e
		c.next = (c.next + 1) % len(c.ring)
	}
	c.ids[e.key] = e.id
}

func (c *idemCache) forget(user, key string) {
	if key != "" {
		delete(c.ids, idemKey(user, key))
	}
}
