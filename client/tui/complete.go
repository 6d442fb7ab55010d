package tui

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/parley-chat/parley/client/compose"
	"github.com/parley-chat/parley/shared/protocol"
)

// completion is a Tab completion in progress: pressing Tab again puts the
// next candidate in place of the previous one.
type completion struct {
	start int      // first cluster of the word being completed
	end   int      // cluster after the inserted candidate
	cands []string // what the word can become
	idx   int
}

// candidates lists what word can become, given the text before it.
func (m *Model) candidates(before, word string) []string {
	fields := strings.Fields(before)
	first := len(fields) == 0
	switch {
	case first && strings.HasPrefix(word, "/"):
		var out []string
		for _, s := range m.allCommands() {
			if strings.HasPrefix(s.Name, strings.ToLower(word[1:])) {
				out = append(out, "/"+s.Name+" ")
			}
		}
		sort.Strings(out)
		return out
	case len(fields) == 1 && strings.HasPrefix(fields[0], "/"):
		return m.argCandidates(strings.ToLower(fields[0][1:]), word)
	case strings.HasPrefix(word, "@"):
		return withSuffix(prefixed("@", m.nameCandidates(word[1:])), " ")
	case strings.HasPrefix(word, "#"):
		return withSuffix(prefixed("#", m.roomCandidates(word[1:], false)), " ")
	case strings.HasPrefix(word, ":") && len(word) >= 2:
		var out []string
		for _, e := range compose.Search(word, 40) {
			out = append(out, e.Code)
		}
		return out
	case word == "":
		return nil
	case first:
		return withSuffix(m.nameCandidates(word), ": ")
	}
	return withSuffix(m.nameCandidates(word), " ")
}

func (m *Model) argCandidates(cmd, word string) []string {
	switch cmd {
	case "join":
		return withSuffix(m.roomCandidates(strings.TrimPrefix(word, "#"), false), " ")
	case "leave", "who":
		return withSuffix(m.roomCandidates(strings.TrimPrefix(word, "#"), true), " ")
	case "msg", "kick", "query":
		return withSuffix(m.nameCandidates(strings.TrimPrefix(word, "@")), " ")
	case "switch":
		var out []string
		if !strings.HasPrefix(word, "@") {
			out = append(out, prefixed("#", m.roomCandidates(strings.TrimPrefix(word, "#"), true))...)
		}
		if !strings.HasPrefix(word, "#") {
			out = append(out, prefixed("@", m.nameCandidates(strings.TrimPrefix(word, "@")))...)
		}
		return withSuffix(out, " ")
	case "sticker":
		var out []string
		for _, n := range m.cfg.StickerNames() {
			if strings.HasPrefix(n, strings.ToLower(word)) {
				out = append(out, n)
			}
		}
		return out
	case "download":
		var out []string
		msgs := m.cur.messages()
		for i := len(msgs) - 1; i >= 0; i-- {
			if msgs[i].file != nil && !msgs[i].recalled {
				if id := strconv.FormatUint(msgs[i].id, 10); strings.HasPrefix(id, word) {
					out = append(out, id)
				}
			}
		}
		return out
	case "upload":
		return pathCandidates(word)
	}
	return nil
}

// nameCandidates are the people whose names start with prefix: members
// of the current room first, then everyone else seen, never yourself.
func (m *Model) nameCandidates(prefix string) []string {
	p := strings.ToLower(prefix)
	seen := map[string]bool{m.meN.Key: true}
	var out []string
	add := func(key, display string) {
		if seen[key] || !strings.HasPrefix(strings.ToLower(display), p) && !strings.HasPrefix(key, p) {
			return
		}
		seen[key] = true
		out = append(out, display)
	}
	for _, mi := range m.cur.members {
		if n, err := protocol.ParseName(mi.Name); err == nil {
			add(n.Key, clean(n.Display, false))
		}
	}
	if m.cur.private() {
		if n, err := protocol.ParseName(m.cur.id.With); err == nil {
			add(n.Key, clean(n.Display, false))
		}
	}
	rest := make([]string, 0, len(m.names))
	for k := range m.names {
		rest = append(rest, k)
	}
	sort.Strings(rest)
	for _, k := range rest {
		add(k, m.names[k])
	}
	return out
}

// roomCandidates are the rooms whose names start with prefix; joined
// limits them to the rooms you are in.
func (m *Model) roomCandidates(prefix string, joined bool) []string {
	p := strings.ToLower(prefix)
	var out []string
	if joined {
		for _, c := range m.convs {
			if c.id.Room != "" && c.joined && strings.HasPrefix(strings.ToLower(c.id.Room), p) {
				out = append(out, clean(c.id.Room, false))
			}
		}
		return out
	}
	for _, r := range m.rooms {
		if strings.HasPrefix(strings.ToLower(r), p) {
			out = append(out, clean(r, false))
		}
	}
	sort.Strings(out)
	return out
}

// pathCandidates completes a local path; folders end in a separator so
// that Tab can go on into them.
func pathCandidates(word string) []string {
	dir, base := filepath.Split(word)
	look := dir
	if strings.HasPrefix(look, "~"+string(filepath.Separator)) || look == "~" {
		if home, err := os.UserHomeDir(); err == nil {
			look = filepath.Join(home, look[1:])
		}
	}
	if look == "" {
		look = "."
	}
	entries, err := os.ReadDir(look)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, base) || (strings.HasPrefix(name, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		if e.IsDir() {
			out = append(out, dir+name+string(filepath.Separator))
		} else {
			out = append(out, dir+name+" ")
		}
	}
	sort.Strings(out)
	if len(out) > 100 {
		out = out[:100]
	}
	return out
}

func prefixed(p string, list []string) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = p + s
	}
	return out
}

func withSuffix(list []string, s string) []string {
	for i := range list {
		list[i] += s
	}
	return list
}
