// Package inmem is a Store kept in memory, for tests. It behaves like the
// SQLite store except that nothing survives the process.
package inmem

import (
	"context"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	mu     sync.Mutex
	users  map[string]store.User
	tokens map[string]token
	rooms  map[string]*store.Room
	log    []store.Message // in id order
	reads  map[[2]string]uint64
}

type token struct {
	user    string
	expires time.Time
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		users:  make(map[string]store.User),
		tokens: make(map[string]token),
		rooms:  make(map[string]*store.Room),
		reads:  make(map[[2]string]uint64),
	}
}

func (s *Store) CreateUser(_ context.Context, u store.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.Key]; ok {
		return store.ErrExists
	}
	s.users[u.Key] = u
	return nil
}

func (s *Store) User(_ context.Context, key string) (store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[key]
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

func (s *Store) Users(_ context.Context) ([]store.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (s *Store) PutToken(_ context.Context, hash []byte, user string, expires time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[string(hash)] = token{user, expires}
	return nil
}

func (s *Store) TokenUser(_ context.Context, hash []byte) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[string(hash)]
	if !ok {
		return "", time.Time{}, store.ErrNotFound
	}
	return t.user, t.expires, nil
}

func (s *Store) DeleteExpiredTokens(_ context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, t := range s.tokens {
		if t.expires.Before(now) {
			delete(s.tokens, h)
		}
	}
	return nil
}

func (s *Store) Rooms(_ context.Context) ([]store.Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.Room, 0, len(s.rooms))
	for _, r := range s.rooms {
		c := *r
		c.Members = slices.Clone(r.Members)
		c.Banned = slices.Clone(r.Banned)
		slices.Sort(c.Banned)
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (s *Store) Apply(_ context.Context, batch []store.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range batch {
		switch c.Kind {
		case store.AddMessage:
			s.log = append(s.log, c.Message)
		case store.RecallMsg:
			if i, ok := s.find(c.Message.Target); ok {
				s.log[i].Recalled = true
				s.log[i].Text = ""
				s.log[i].File = ""
				s.log[i].Reactions = nil
			}
			for i := range s.log {
				if s.log[i].Kind == store.KindEdit && s.log[i].Target == c.Message.Target {
					s.log[i].Text = ""
				}
			}
			s.log = append(s.log, c.Message)
		case store.EditMsg:
			if i, ok := s.find(c.Message.Target); ok {
				s.log[i].Text = c.Message.Text
				s.log[i].Edited = true
			}
			s.log = append(s.log, c.Message)
		case store.ReactMsg:
			if i, ok := s.find(c.Message.Target); ok {
				s.log[i].Reactions = react(s.log[i].Reactions, c.Message)
			}
			s.log = append(s.log, c.Message)
		case store.CreateRoom:
			r := c.Room
			r.Members = nil
			r.Secret, r.TopicLock = false, true
			s.rooms[r.Key] = &r
		case store.AddMember:
			if r := s.rooms[c.Room.Key]; r != nil {
				mb := c.Member
				mb.Operator, mb.Voice = false, false
				r.Members = slices.DeleteFunc(r.Members, func(m store.Member) bool { return m.User == mb.User })
				r.Members = append(r.Members, mb)
			}
		case store.SetModes:
			if r := s.rooms[c.Room.Key]; r != nil {
				r.Secret, r.TopicLock = c.Room.Secret, c.Room.TopicLock
			}
		case store.SetRoles:
			if r := s.rooms[c.Room.Key]; r != nil {
				for i := range r.Members {
					if r.Members[i].User == c.Member.User {
						r.Members[i].Operator, r.Members[i].Voice = c.Member.Operator, c.Member.Voice
					}
				}
			}
		case store.RemoveMember:
			if r := s.rooms[c.Room.Key]; r != nil {
				r.Members = slices.DeleteFunc(r.Members, func(m store.Member) bool { return m.User == c.Member.User })
			}
		case store.SetOwner:
			if r := s.rooms[c.Room.Key]; r != nil {
				r.Owner = c.Room.Owner
			}
		case store.SetDelivered:
			if u, ok := s.users[c.User.Key]; ok {
				u.PMDelivered = max(u.PMDelivered, c.User.PMDelivered)
				s.users[c.User.Key] = u
			}
		case store.AddBan:
			if r := s.rooms[c.Room.Key]; r != nil && !slices.Contains(r.Banned, c.Member.User) {
				r.Banned = append(r.Banned, c.Member.User)
			}
		case store.RemoveBan:
			if r := s.rooms[c.Room.Key]; r != nil {
				r.Banned = slices.DeleteFunc(r.Banned, func(u string) bool { return u == c.Member.User })
			}
		case store.SetTopic:
			if r := s.rooms[c.Room.Key]; r != nil {
				r.Topic, r.TopicBy, r.TopicTime = c.Room.Topic, c.Room.TopicBy, c.Room.TopicTime
				if r.Topic == "" {
					r.TopicBy, r.TopicTime = "", time.Time{}
				}
			}
		case store.SetNick:
			if u, ok := s.users[c.User.Key]; ok {
				u.Nick = c.User.Nick
				s.users[c.User.Key] = u
			}
		case store.SetRead:
			k := [2]string{c.Read.User, c.Read.Conv}
			s.reads[k] = max(s.reads[k], c.Read.Msg)
		case store.DeleteRoom:
			delete(s.rooms, c.Room.Key)
			conv := store.RoomConv(c.Room.Key)
			for k := range s.reads {
				if k[1] == conv {
					delete(s.reads, k)
				}
			}
			s.log = slices.DeleteFunc(s.log, func(m store.Message) bool { return m.Conv == conv })
		}
	}
	return nil
}

// react returns rs with e's reaction put on or taken back. It never
// changes rs, which messages handed out may share.
func react(rs []store.Reaction, e store.Message) []store.Reaction {
	out := make([]store.Reaction, 0, len(rs)+1)
	found := false
	for _, r := range rs {
		if r.Emoji != e.Text {
			out = append(out, r)
			continue
		}
		found = true
		i := slices.Index(r.Users, e.From)
		switch {
		case e.On && i < 0:
			r.Users = append(slices.Clone(r.Users), e.From)
			r.Names = append(slices.Clone(r.Names), e.FromName)
		case !e.On && i >= 0:
			r.Users = slices.Delete(slices.Clone(r.Users), i, i+1)
			r.Names = slices.Delete(slices.Clone(r.Names), i, i+1)
		}
		if len(r.Users) > 0 {
			out = append(out, r)
		}
	}
	if !found && e.On {
		out = append(out, store.Reaction{Emoji: e.Text, Users: []string{e.From}, Names: []string{e.FromName}})
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// quoted returns m with its quote filled in.
func (s *Store) quoted(m store.Message) store.Message {
	if m.ReplyTo == 0 {
		return m
	}
	if i, ok := s.find(m.ReplyTo); ok {
		r := s.log[i]
		m.Quote = store.Quote{From: r.FromName, Text: r.Text, Kind: r.Kind, Recalled: r.Recalled}
	}
	return m
}

// bare returns m as Since and PrivateTo return it: with its quote, and
// without its reactions.
func (s *Store) bare(m store.Message) store.Message {
	m.Reactions = nil
	return s.quoted(m)
}

func (s *Store) find(id uint64) (int, bool) {
	return slices.BinarySearchFunc(s.log, id, func(m store.Message, id uint64) int {
		switch {
		case m.ID < id:
			return -1
		case m.ID > id:
			return 1
		}
		return 0
	})
}

func (s *Store) LastID(_ context.Context) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.log) == 0 {
		return 0, nil
	}
	return s.log[len(s.log)-1].ID, nil
}

func (s *Store) Message(_ context.Context, id uint64) (store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.find(id); ok {
		return s.quoted(s.log[i]), nil
	}
	return store.Message{}, store.ErrNotFound
}

func (s *Store) LastBy(_ context.Context, user string, max uint64) (store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.log) - 1; i >= 0; i-- {
		m := s.log[i]
		if m.ID <= max && m.From == user && store.IsMessage(m.Kind) {
			m.Reactions = nil
			return m, nil
		}
	}
	return store.Message{}, store.ErrNotFound
}

func (s *Store) History(_ context.Context, conv string, before uint64, limit int) ([]store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Message
	for i := len(s.log) - 1; i >= 0 && len(out) < limit; i-- {
		m := s.log[i]
		if m.ID < before && m.Conv == conv && store.IsMessage(m.Kind) {
			out = append(out, s.quoted(m))
		}
	}
	slices.Reverse(out)
	return out, nil
}

func (s *Store) Since(_ context.Context, user string, convs []string, after, upto uint64, limit int) ([]store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Message
	for _, m := range s.log {
		if len(out) >= limit {
			break
		}
		if m.ID <= after || m.ID > upto {
			continue
		}
		if slices.Contains(convs, m.Conv) || (m.Room == "" && (m.From == user || m.To == user)) {
			out = append(out, s.bare(m))
		}
	}
	return out, nil
}

func (s *Store) PrivateTo(_ context.Context, user string, after, upto uint64, limit int) ([]store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Message
	for _, m := range s.log {
		if len(out) >= limit {
			break
		}
		if m.ID > after && m.ID <= upto && m.Room == "" && m.To == user && m.From != user && store.IsMessage(m.Kind) {
			out = append(out, s.bare(m))
		}
	}
	return out, nil
}

func (s *Store) Reads(_ context.Context) ([]store.Read, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Read
	for k, v := range s.reads {
		out = append(out, store.Read{User: k[0], Conv: k[1], Msg: v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].User != out[j].User {
			return out[i].User < out[j].User
		}
		return out[i].Conv < out[j].Conv
	})
	return out, nil
}

func (s *Store) Counts(_ context.Context, user string, names []string, convs []store.Unread, upto uint64, limit int) ([]store.Count, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]store.Count, len(convs))
	for i, u := range convs {
		out[i].Conv = u.Conv
		if u.After == 0 {
			for _, m := range s.log {
				if m.Conv == u.Conv && m.From == user && store.IsMessage(m.Kind) {
					u.After = m.ID
				}
			}
		}
		for _, m := range s.log {
			if m.ID <= u.After || m.ID > upto || m.Conv != u.Conv || m.From == user || m.Recalled || !store.IsMessage(m.Kind) {
				continue
			}
			if out[i].Unread < limit {
				out[i].Unread++
			}
			if out[i].Mentions < limit && slices.ContainsFunc(names, func(n string) bool { return protocol.Mentions(m.Text, n) }) {
				out[i].Mentions++
			}
		}
	}
	return out, nil
}

func (s *Store) PrivateConvs(_ context.Context, user string, upto uint64, limit int) ([]store.Private, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Private
	seen := map[string]bool{}
	for i := len(s.log) - 1; i >= 0 && len(out) < limit; i-- {
		m := s.log[i]
		if m.ID > upto || m.Room != "" || (m.From != user && m.To != user) || !store.IsMessage(m.Kind) || seen[m.Conv] {
			continue
		}
		seen[m.Conv] = true
		pc := store.Private{Conv: m.Conv, With: m.To, WithName: m.ToName, Last: m.ID}
		if m.To == user {
			pc.With, pc.WithName = m.From, m.FromName
		}
		out = append(out, pc)
	}
	return out, nil
}

func (s *Store) Search(_ context.Context, user string, convs []string, private bool, words []string, limit int) ([]store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Message
	for i := len(s.log) - 1; i >= 0 && len(out) < limit; i-- {
		m := s.log[i]
		if !store.IsMessage(m.Kind) || m.Recalled || m.Text == "" {
			continue
		}
		if !slices.Contains(convs, m.Conv) && !(private && m.Room == "" && (m.From == user || m.To == user)) {
			continue
		}
		if matches(m.Text, words) {
			out = append(out, s.bare(m))
		}
	}
	return out, nil
}

// matches reports whether text has every word (each as SearchWords
// makes them: one or more tokens in a row), in any case.
func matches(text string, words []string) bool {
	tokens := tokenize(store.SearchForm(text))
	for _, w := range words {
		want := tokenize(w)
		found := len(want) > 0
		if found {
			found = false
			for i := 0; i+len(want) <= len(tokens); i++ {
				if slices.Equal(tokens[i:i+len(want)], want) {
					found = true
					break
				}
			}
		}
		if !found {
			return false
		}
	}
	return len(words) > 0
}

// tokenize splits s into lower-case runs of letters and digits, as
// SQLite's unicode61 tokenizer does, closely enough for tests.
func tokenize(s string) []string {
	var b strings.Builder
	for _, r := range norm.NFD.String(strings.ToLower(s)) {
		if !unicode.Is(unicode.Mn, r) { // diacritics go, as with remove_diacritics
			b.WriteRune(r)
		}
	}
	return strings.FieldsFunc(b.String(), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func (s *Store) RecentKeys(_ context.Context, n int) ([]store.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Message
	for i := len(s.log) - 1; i >= 0 && len(out) < n; i-- {
		if s.log[i].Key != "" {
			out = append(out, s.log[i])
		}
	}
	slices.Reverse(out)
	return out, nil
}

func (s *Store) Prune(_ context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(s.log) && n < limit && s.log[n].Time.Before(before) {
		n++
	}
	s.log = slices.Delete(s.log, 0, n)
	return n, nil
}

func (s *Store) Close() error { return nil }
