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

// Login authenticates a login frame from the address from and attaches a
// new session for peer. The expensive part, checking a password, runs on
// the caller's goroutine under the hasher's concurrency bound, and the
// throttle's bounds for from and for the account (see auth.Limits). On
// success the login's ok reply and the catch-up have been queued to peer
// when Login returns.
//
// A login with the right password or a valid resume token for a name that
// is online replaces the older session: it gets a replaced event and is
// closed. A wrong credential leaves the online session alone.
func (h *Hub) Login(ctx context.Context, peer Peer, f *protocol.Frame, from netip.Addr) (*Session, error) {
	// Logins are numbered as they arrive, before the credential is
	// checked, so that one whose checks or catch-up took longer cannot
	// take over from a later one: a client that gave up on a slow login
	// and tried again keeps its retry.
	seq := h.logins.Add(1)
	name, perr := protocol.ParseName(f.Name)
	if perr != nil {
		return nil, perr
	}
	var err error
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
		done, refused := h.cfg.Throttle.Begin(from, name.Key)
		if refused != nil {
			return nil, refusal(refused)
		}
		registered, err = h.checkPassword(ctx, name, f.Password, from)
		done(outcome(err))
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
	s := &Session{hub: h, peer: peer, Key: name.Key}
	var refused *protocol.Error
	always := func() bool { return true }
	err = h.catchUp(ctx, name.Key, true, f.Resume || f.Since > 0, f.Since, always, func(ra *readAhead) {
		refused = h.attach(s, name, registered, seq, f.NoTakeover, ra, ok)
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	return s, nil
}

// wait runs fn on the hub goroutine and waits for it to return.
func (h *Hub) wait(fn func()) error {
	done := make(chan struct{})
	if err := h.do(func() { defer close(done); fn() }); err != nil {
		return protocol.Errorf(protocol.CodeShutdown, "server is shutting down")
	}
	select {
	case <-done:
		return nil
	case <-h.done:
		return protocol.Errorf(protocol.CodeShutdown, "server is shutting down")
	}
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
func (h *Hub) checkPassword(ctx context.Context, name protocol.Name, password string, from netip.Addr) (bool, error) {
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
		if refused := h.cfg.Throttle.Register(from); refused != nil {
			return false, refusal(refused)
		}
		if err := h.claimName(name); err != nil {
			return false, err
		}
		hash, err := h.cfg.Hasher.Hash(ctx, password)
		if err != nil {
			h.unclaimName(name)
			return false, h.hashErr(err)
		}
		err = h.store.CreateUser(ctx, store.User{Key: name.Key, Name: name.Display, Hash: hash, Created: h.cfg.Now()})
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, store.ErrExists) {
			h.unclaimName(name)
			return false, h.internal("create user", err)
		}
		// Someone registered the name a moment ago: check against theirs.
	}
	return false, protocol.Errorf(protocol.CodeBusy, "could not register %s; try again", name.Display)
}

// refusal is the error reply for a login the throttle refused.
func refusal(r *auth.Refusal) *protocol.Error {
	e := protocol.Errorf(protocol.CodeRateLimited, "%s", r.Message)
	e.RetryMS = r.Retry.Milliseconds()
	return e
}

// outcome is how a password check that returned err ended, for the
// throttle.
func outcome(err error) auth.Outcome {
	var pe *protocol.Error
	switch {
	case err == nil:
		return auth.Passed
	case errors.As(err, &pe) && pe.Code == protocol.CodeBadCredentials:
		return auth.Failed
	}
	return auth.Unfinished
}

// claimName reserves the look of a name about to be registered, so that
// no other name that looks like it (see skeleton) can be registered,
// even at the same moment. It refuses a name that looks like one
// registered or claimed already.
func (h *Hub) claimName(name protocol.Name) error {
	like := skeleton(name.Key)
	var refused *protocol.Error
	if err := h.wait(func() {
		other, taken := h.userLike[like]
		switch {
		case !taken:
			h.userLike[like] = name.Key
		case other != name.Key:
			refused = protocol.Errorf(protocol.CodeBadName, "%s looks too much like %s, who is registered already; pick another name",
				name.Display, h.likeName(other, like))
		}
	}); err != nil {
		return err
	}
	if refused != nil {
		return refused
	}
	return nil
}

// unclaimName gives up the claim of a registration that failed.
func (h *Hub) unclaimName(name protocol.Name) {
	h.do(func() {
		like := skeleton(name.Key)
		if h.userLike[like] == name.Key && h.users[name.Key] == nil {
			delete(h.userLike, like)
		}
	})
}

func (h *Hub) hashErr(err error) error {
	if errors.Is(err, auth.ErrBusy) {
		e := protocol.Errorf(protocol.CodeBusy, "too many logins at once; try again in a moment")
		e.RetryMS = 500
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return protocol.Errorf(protocol.CodeShutdown, "login abandoned")
	}
	return h.internal("password hash", err)
}

// attach runs on the hub goroutine: it takes over any older session of the
// user, replies to the login, and sends the catch-up, most of which ra
// has read already. seq numbers the login as it arrived: a login that
// arrived before the one attached last is refused, not attached. With
// noTakeover, a login for a name that is online is refused instead: the
// check and the attach happen together, here, so two such logins of one
// name cannot both succeed.
func (h *Hub) attach(s *Session, name protocol.Name, registered bool, seq uint64, noTakeover bool, ra *readAhead, ok *protocol.Frame) *protocol.Error {
	u := h.users[name.Key]
	if u == nil {
		u = &user{key: name.Key, name: name.Display, rooms: map[string]*room{}}
		h.users[name.Key] = u
	}
	if noTakeover && u.sess != nil {
		if registered {
			h.announceRegistered(u)
		}
		return protocol.Errorf(protocol.CodeNameTaken, "%s is logged in already", u.name)
	}
	if seq < u.login {
		h.log.Info("login overtaken", "user", u.name)
		if registered {
			// The later login found the name registered already: this
			// one, refused, still made a new member of the lobby.
			h.announceRegistered(u)
		}
		return protocol.Errorf(protocol.CodeReplaced, "a later login of %s has taken over", u.name)
	}
	u.login = seq
	h.nextSess++
	s.id, s.user, s.Name = h.nextSess, u, u.name

	takeover := u.sess != nil
	if old := u.sess; old != nil {
		h.unhold(old, nil) // what it holds goes first: it is told, then closed
		h.deliver(old, event.New(event.Replaced, &protocol.Frame{Type: protocol.TypeReplaced,
			Message: "you logged in from somewhere else; this session is closed"}))
		old.peer.Close(protocol.CodeReplaced, "logged in from somewhere else")
		delete(h.online, old)
		h.log.Info("session replaced", old.logAttrs("by", s.id)...)
	}
	u.sess = s
	h.online[s] = struct{}{}
	h.log.Info("logged in", s.logAttrs("registered", registered, "resume", ra.resume, "takeover", takeover)...)

	ok.Name, ok.Nick = u.name, u.nick
	ok.Rooms, _ = h.roomInfos(u, true)
	h.fillCounts(u, ra, ok)
	if registered {
		// What the lobby held before is not news to a newcomer.
		h.queue(&record{changes: h.moveRead(u, store.RoomConv(protocol.Lobby), h.lastPub)})
	}
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
	if h.finishCatchUp(s, ra) {
		ok.Since = h.lastPub
	} else {
		// Hold live messages back until the client has fetched the rest
		// with sync; they are in the log, so sync brings them in order.
		s.catchingUp = true
		ok.More = 1
	}
	h.reply(s, ok)

	if !takeover {
		h.broadcastPresence(u, protocol.StatusOnline)
	}
	if registered {
		h.announceRegistered(u)
	}
	return nil
}

// announceRegistered tells the lobby that u, just registered, is a new
// member of it, after u's presence.
func (h *Hub) announceRegistered(u *user) {
	h.presenceFirst(u, nil)
	h.fanout(h.lobby, nil, event.New(event.Member, &protocol.Frame{Type: protocol.TypeMember,
		Room: protocol.Lobby, Name: u.name, Action: protocol.ActionJoin}))
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

// Online reports whether the user named name has a session online. A
// transport that lets a connection take a name without a password asks
// it first, so that such a connection never takes over a session.
func (h *Hub) Online(name string) bool {
	n, perr := protocol.ParseName(name)
	if perr != nil {
		return false
	}
	online := false
	h.wait(func() {
		if u := h.users[n.Key]; u != nil {
			online = u.sess != nil
		}
	})
	return online
}
