package hub

import (
	"context"
	"errors"
	"sort"

	"github.com/parley-chat/parley/chatserver/auth"
	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// Login authenticates a login frame and attaches a new session for peer.
// The expensive part, checking a password, runs on the caller's goroutine
// under the hasher's concurrency bound. On success the login's ok reply
// and the catch-up have been queued to peer when Login returns.
//
// A login with the right password or a valid resume token for a name that
// is online replaces the older session: it gets a replaced event and is
// closed. A wrong credential leaves the online session alone.
func (h *Hub) Login(ctx context.Context, peer Peer, f *protocol.Frame) (*Session, error) {
	name, err := protocol.ParseName(f.Name)
	if err != nil {
		return nil, err
	}
	token := f.Token
	var registered bool
	switch {
	case f.Token != "":
		key, expires, err := h.store.TokenUser(ctx, auth.HashToken(f.Token))
		if errors.Is(err, store.ErrNotFound) || (err == nil && (key != name.Key || !h.cfg.Now().Before(expires))) {
			return nil, protocol.Errorf(protocol.CodeBadToken, "resume token is unknown or expired; log in with your password")
		}
		if err != nil {
			return nil, h.internal("check token", err)
		}
	case f.Password != "":
		if len(f.Password) > protocol.MaxPasswordBytes {
			return nil, protocol.Errorf(protocol.CodeBadRequest, "password is longer than %d bytes", protocol.MaxPasswordBytes)
		}
		registered, err = h.checkPassword(ctx, name, f.Password)
		if err != nil {
			return nil, err
		}
		var hash []byte
		token, hash = auth.NewToken()
		if err := h.store.PutToken(ctx, hash, name.Key, h.cfg.Now().Add(h.cfg.ResumeTTL)); err != nil {
			return nil, h.internal("store token", err)
		}
	default:
		return nil, protocol.Errorf(protocol.CodeBadRequest, "login needs a password or a resume token")
	}

	ok := &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, Token: token}

	s := &Session{peer: peer, Key: name.Key}
	done := make(chan struct{})
	if err := h.do(func() {
		defer close(done)
		h.attach(s, name, registered, f.Resume || f.Since > 0, f.Since, ok)
	}); err != nil {
		return nil, protocol.Errorf(protocol.CodeShutdown, "server is shutting down")
	}
	select {
	case <-done:
	case <-h.done:
		return nil, protocol.Errorf(protocol.CodeShutdown, "server is shutting down")
	}
	return s, nil
}

// filesToken answers a request for a fresh file-access token.
func (h *Hub) filesToken(s *Session, f *protocol.Frame) *protocol.Error {
	if h.cfg.FilesToken == nil {
		return protocol.Errorf(protocol.CodeBadRequest, "this server issues no file tokens")
	}
	tok, exp, err := h.cfg.FilesToken(s.Name)
	if err != nil {
		return h.internal("issue files token", err)
	}
	h.reply(s, &protocol.Frame{Type: protocol.TypeOK, Re: f.ID, FilesToken: tok, Expires: exp.UnixMilli()})
	return nil
}

func (h *Hub) internal(what string, err error) *protocol.Error {
	h.log.Error(what, "err", err)
	return protocol.Errorf(protocol.CodeInternal, "internal error; try again")
}

// checkPassword verifies a password, or registers the name with it if the
// name is new. It reports whether it registered.
func (h *Hub) checkPassword(ctx context.Context, name protocol.Name, password string) (bool, error) {
	for attempt := 0; attempt < 2; attempt++ {
		u, err := h.store.User(ctx, name.Key)
		if err == nil {
			ok, err := h.cfg.Hasher.Verify(ctx, password, u.Hash)
			if err != nil {
				return false, h.hashErr(err)
			}
			if !ok {
				return false, protocol.Errorf(protocol.CodeBadCredentials, "wrong password for %s", u.Name)
			}
			return false, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return false, h.internal("load user", err)
		}
		hash, err := h.cfg.Hasher.Hash(ctx, password)
		if err != nil {
			return false, h.hashErr(err)
		}
		err = h.store.CreateUser(ctx, store.User{Key: name.Key, Name: name.Display, Hash: hash, Created: h.cfg.Now()})
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, store.ErrExists) {
			return false, h.internal("create user", err)
		}
		// Someone registered the name a moment ago: check against theirs.
	}
	return false, protocol.Errorf(protocol.CodeBusy, "could not register %s; try again", name.Display)
}

func (h *Hub) hashErr(err error) error {
	if errors.Is(err, auth.ErrBusy) {
		return protocol.Errorf(protocol.CodeBusy, "too many logins at once; try again in a moment")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return protocol.Errorf(protocol.CodeShutdown, "login abandoned")
	}
	return h.internal("password hash", err)
}

// attach runs on the hub goroutine: it takes over any older session of the
// user, replies to the login, and sends the catch-up.
func (h *Hub) attach(s *Session, name protocol.Name, registered, resume bool, since uint64, ok *protocol.Frame) {
	u := h.users[name.Key]
	if u == nil {
		u = &user{key: name.Key, name: name.Display, rooms: map[string]*room{}}
		h.users[name.Key] = u
	}
	h.nextSess++
	s.id, s.user, s.Name = h.nextSess, u, u.name

	takeover := u.sess != nil
	if old := u.sess; old != nil {
		h.deliver(old, protocol.Encode(&protocol.Frame{Type: protocol.TypeReplaced,
			Message: "you logged in from somewhere else; this session is closed"}))
		old.peer.Close(protocol.CodeReplaced, "logged in from somewhere else")
		delete(h.online, old)
		h.log.Info("session replaced", old.logAttrs("by", s.id)...)
	}
	u.sess = s
	h.online[s] = struct{}{}
	h.log.Info("logged in", s.logAttrs("registered", registered, "resume", resume, "takeover", takeover)...)

	ok.Name = u.name
	ok.Rooms, _ = h.roomInfos(u, true)
	if h.cfg.FilesToken != nil {
		// The token names the user as registered, which the file server
		// records as the uploader.
		if ft, exp, err := h.cfg.FilesToken(u.name); err != nil {
			h.log.Error("issue files token", s.logAttrs("err", err)...)
		} else {
			ok.FilesToken, ok.Expires = ft, exp.UnixMilli()
		}
	}
	// The catch-up comes before the reply, so a client that has the
	// reply has the whole catch-up: the reply's since never claims more
	// than arrived.
	frames, complete := h.catchUp(s, u, resume, since)
	for _, b := range frames {
		h.deliver(s, b)
	}
	if complete {
		ok.Since = h.lastPub
	} else {
		// Hold live messages back until the client has fetched the rest
		// with sync; they are in the log, so sync brings them in order.
		s.catchingUp = true
		ok.More = 1
	}
	h.reply(s, ok)

	if registered {
		// A new user is a new member of the lobby.
		h.fanout(h.lobby, nil, protocol.Encode(&protocol.Frame{Type: protocol.TypeMember,
			Room: protocol.Lobby, Name: u.name, Action: protocol.ActionJoin}))
	}
	if !takeover {
		h.broadcastPresence(u, protocol.StatusOnline)
	}
}

// convs lists the conversation keys of u's rooms, the lobby first.
func (h *Hub) convs(u *user) []string {
	convs := []string{store.RoomConv(protocol.Lobby)}
	var rooms []string
	for _, r := range u.rooms {
		rooms = append(rooms, store.RoomConv(r.key))
	}
	sort.Strings(rooms)
	return append(convs, rooms...)
}

// catchUp returns what a login missed, encoded, at most CatchUpBytes of
// it. A resuming client says the last id it saw and gets every later entry
// of its conversations. A fresh login gets the recent history of its rooms
// and the private messages it was not yet handed. complete is false if the
// catch-up was cut short; the client goes on with sync from the last id it
// received.
func (h *Hub) catchUp(s *Session, u *user, resume bool, since uint64) (frames [][]byte, complete bool) {
	ctx := context.Background()
	budget := h.cfg.CatchUpBytes
	if resume {
		return h.since(s, u, since)
	}
	for _, conv := range h.convs(u) {
		msgs, err := h.store.History(ctx, conv, h.lastPub+1, h.cfg.JoinHistory)
		if err != nil {
			h.log.Error("history", s.logAttrs("err", err)...)
			break
		}
		for i := range msgs {
			b := protocol.Encode(h.messageFrame(&msgs[i], true))
			if budget -= len(b); budget < 0 {
				break // history only: what is left out is not missed
			}
			frames = append(frames, b)
		}
	}
	if u.pmDelivered >= h.lastPub {
		return frames, true
	}
	// The private messages that waited, within what the budget has left
	// (at least a share of it, so that they are never crowded out).
	budget = max(budget, h.cfg.CatchUpBytes/4)
	msgs, err := h.store.PrivateTo(ctx, u.key, u.pmDelivered, h.lastPub, h.cfg.CatchUp)
	if err != nil {
		h.log.Error("private catch-up", s.logAttrs("err", err)...)
		return frames, false
	}
	var sent []store.Message
	for i := range msgs {
		b := protocol.Encode(h.messageFrame(&msgs[i], false))
		if budget -= len(b); budget < 0 {
			break
		}
		frames = append(frames, b)
		sent = append(sent, msgs[i])
	}
	h.markDelivered(u, sent)
	return frames, len(sent) == len(msgs) && len(msgs) < h.cfg.CatchUp
}

// since returns, encoded, the entries of u's conversations after id
// after, up to CatchUpBytes of them, and whether that was all of them.
func (h *Hub) since(s *Session, u *user, after uint64) (frames [][]byte, complete bool) {
	msgs, err := h.store.Since(context.Background(), u.key, h.convs(u), after, h.lastPub, h.cfg.CatchUp)
	if err != nil {
		h.log.Error("catch-up", s.logAttrs("err", err)...)
		return nil, false
	}
	budget := h.cfg.CatchUpBytes
	n := 0
	for i := range msgs {
		b := protocol.Encode(h.messageFrame(&msgs[i], false))
		if budget -= len(b); budget < 0 && n > 0 {
			break
		}
		frames = append(frames, b)
		n++
	}
	h.markDelivered(u, msgs[:n])
	return frames, n == len(msgs) && len(msgs) < h.cfg.CatchUp
}

// sync answers a client whose catch-up was cut short: the next part of
// it, then a reply whose since is set once the catch-up is complete, when
// live messages flow to the session again.
func (h *Hub) sync(s *Session, f *protocol.Frame) *protocol.Error {
	frames, complete := h.since(s, s.user, f.Since)
	for _, b := range frames {
		h.deliver(s, b)
	}
	r := &protocol.Frame{Type: protocol.TypeOK, Re: f.ID}
	if complete {
		r.Since = h.lastPub
		s.catchingUp = false
	} else {
		r.More = 1
	}
	h.reply(s, r)
	return nil
}

// markDelivered records that the private messages to u among msgs were
// handed to a session.
func (h *Hub) markDelivered(u *user, msgs []store.Message) {
	var last uint64
	for _, m := range msgs {
		if m.To == u.key {
			last = m.ID
		}
	}
	if last <= u.pmDelivered {
		return
	}
	u.pmDelivered = last
	h.queue(&record{changes: []store.Change{{Kind: store.SetDelivered, User: store.User{Key: u.key, PMDelivered: last}}}})
}

// broadcastPresence announces that u came online or went offline. The
// announcement waits, as Config.PresenceWait says, or until something
// else is fanned out, to be sent with others (see flushPresence).
func (h *Hub) broadcastPresence(u *user, status string) {
	h.presence = append(h.presence, protocol.Encode(&protocol.Frame{Type: protocol.TypePresence, Name: u.name, Status: status})...)
}

// flushPresence sends the gathered presence events, one line each, to
// every online session.
func (h *Hub) flushPresence() {
	if len(h.presence) == 0 {
		return
	}
	b := h.presence
	h.presence = nil
	for s := range h.online {
		h.deliver(s, b)
	}
}

// detach runs when a session's connection has ended.
func (h *Hub) detach(s *Session) {
	u := s.user
	if u == nil || u.sess != s {
		return // never attached, or already replaced
	}
	u.sess = nil
	delete(h.online, s)
	h.log.Info("logged out", s.logAttrs()...)
	h.broadcastPresence(u, protocol.StatusOffline)
}
