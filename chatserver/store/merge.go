package store

import "slices"

// MergeByID merges two lists of log entries, each in increasing id
// order, and keeps the first limit entries. Stores that read a catch-up
// in several queries merge their results with it.
func MergeByID(a, b []Message, limit int) []Message {
	if len(a) == 0 {
		return b[:min(len(b), limit)]
	}
	out := make([]Message, 0, min(len(a)+len(b), limit))
	for len(out) < limit && (len(a) > 0 || len(b) > 0) {
		if len(b) == 0 || len(a) > 0 && a[0].ID < b[0].ID {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return out
}

// AddReaction adds user's reaction emoji to rs, the reactions of one
// message in the order each emoji was first put on, and returns rs.
func AddReaction(rs []Reaction, emoji, user, name string) []Reaction {
	i := slices.IndexFunc(rs, func(r Reaction) bool { return r.Emoji == emoji })
	if i < 0 {
		rs = append(rs, Reaction{Emoji: emoji})
		i = len(rs) - 1
	}
	rs[i].Users = append(rs[i].Users, user)
	rs[i].Names = append(rs[i].Names, name)
	return rs
}

// FillWith fills in the other person of p, a private conversation of
// user whose newest message went from one to the other.
func (p *Private) FillWith(user, from, fromName, to, toName string) {
	p.With, p.WithName = to, toName
	if to == user {
		p.With, p.WithName = from, fromName
	}
}
