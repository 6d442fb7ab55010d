// Package sqlite is the default Store: one SQLite database in write-ahead
// log mode, written by one connection and read by several. Apply commits a
// whole batch in one transaction and returns after it is synced to disk
// (synchronous=FULL), which gives the hub group commit.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// FileName is the database's file name inside the data directory.
const FileName = "chat.db"

// Store is a store.Store backed by SQLite.
type Store struct {
	w *sql.DB // one connection: every write
	r *sql.DB // readers
}

var _ store.Store = (*Store)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS users (
	key          TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	hash         TEXT NOT NULL,
	pm_delivered INTEGER NOT NULL DEFAULT 0,
	created      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
	hash    BLOB PRIMARY KEY,
	user    TEXT NOT NULL,
	expires INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rooms (
	key     TEXT PRIMARY KEY,
	name    TEXT NOT NULL,
	owner   TEXT NOT NULL,
	created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
	room TEXT NOT NULL,
	user TEXT NOT NULL,
	seq  INTEGER NOT NULL,
	PRIMARY KEY (room, user)
);
CREATE TABLE IF NOT EXISTS bans (
	room TEXT NOT NULL,
	user TEXT NOT NULL,
	PRIMARY KEY (room, user)
);
CREATE TABLE IF NOT EXISTS topics (
	room    TEXT PRIMARY KEY,
	text    TEXT NOT NULL,
	by_name TEXT NOT NULL,
	time    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS room_modes (
	room       TEXT PRIMARY KEY,
	secret     INTEGER NOT NULL,
	topic_lock INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS roles (
	room     TEXT NOT NULL,
	user     TEXT NOT NULL,
	operator INTEGER NOT NULL,
	voice    INTEGER NOT NULL,
	PRIMARY KEY (room, user)
);
CREATE TABLE IF NOT EXISTS messages (
	id        INTEGER PRIMARY KEY,
	conv      TEXT NOT NULL,
	room      TEXT NOT NULL,
	sender    TEXT NOT NULL,
	from_name TEXT NOT NULL,
	recipient TEXT NOT NULL,
	to_name   TEXT NOT NULL,
	kind      TEXT NOT NULL,
	text      TEXT NOT NULL,
	file      TEXT NOT NULL,
	time      INTEGER NOT NULL,
	target    INTEGER NOT NULL,
	recalled  INTEGER NOT NULL,
	idem      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_conv ON messages (conv, id);
CREATE INDEX IF NOT EXISTS messages_sender ON messages (sender, id);
CREATE INDEX IF NOT EXISTS messages_recipient ON messages (recipient, id);
CREATE TABLE IF NOT EXISTS reactions (
	msg   INTEGER NOT NULL,
	emoji TEXT NOT NULL,
	user  TEXT NOT NULL,
	name  TEXT NOT NULL,
	seq   INTEGER NOT NULL,
	PRIMARY KEY (msg, emoji, user)
);
CREATE VIRTUAL TABLE IF NOT EXISTS search USING fts5 (text, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS reads (
	user TEXT NOT NULL,
	conv TEXT NOT NULL,
	msg  INTEGER NOT NULL,
	PRIMARY KEY (user, conv)
);
`

// added are the columns of messages that databases made before them
// lack; Open adds them.
var added = []struct{ table, column, decl string }{
	{"messages", "edited", "INTEGER NOT NULL DEFAULT 0"},
	{"messages", "reply_to", "INTEGER NOT NULL DEFAULT 0"},
	{"messages", "react_on", "INTEGER NOT NULL DEFAULT 0"},
	{"messages", "nick", "TEXT NOT NULL DEFAULT ''"},
	{"users", "nick", "TEXT NOT NULL DEFAULT ''"},
}

// migrate adds the columns in added that their tables lack, and fills
// the search index of a database made before it.
func migrate(ctx context.Context, db *sql.DB) error {
	var indexed int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM search LIMIT 1)`).Scan(&indexed); err != nil {
		return err
	}
	if indexed == 0 {
		if err := indexAll(ctx, db); err != nil {
			return fmt.Errorf("fill the search index: %w", err)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'`)
	if err != nil {
		return err
	}
	have := map[[2]string]bool{}
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			rows.Close()
			return err
		}
		have[[2]string{t, c}] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, a := range added {
		if !have[[2]string{a.table, a.column}] {
			if _, err := db.ExecContext(ctx, `ALTER TABLE `+a.table+` ADD COLUMN `+a.column+` `+a.decl); err != nil {
				return fmt.Errorf("add column %s to %s: %w", a.column, a.table, err)
			}
		}
	}
	return nil
}

// readerCacheKiB is each reader's page cache, as SQLite's cache_size
// (negative: KiB). Every connection keeps a cache of its own, 2 MB by
// default; filled by a login wave's catch-up reads, the four readers' held
// about 8 MB that nothing idle needed. A page a reader's cache misses is
// read from the kernel's page cache of the same file. The writer keeps
// the default: its cache holds the indexes that each commit updates.
const readerCacheKiB = -256

// Open opens or creates the database in dir.
func Open(ctx context.Context, dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(OFF)"} {
		q.Add("_pragma", p)
	}
	dsn := "file:" + path + "?" + q.Encode()
	w, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if _, err := w.ExecContext(ctx, schema); err != nil {
		w.Close()
		return nil, fmt.Errorf("create schema in %s: %w", path, err)
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("update schema in %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn+"&_pragma=query_only(1)&_pragma=cache_size("+strconv.Itoa(readerCacheKiB)+")")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	return &Store{w: w, r: r}, nil
}

func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// sqlID converts a message id to SQLite's signed integers. Ids are assigned
// from 1 upwards; a larger bound than any id (from a client) saturates
// instead of turning negative.
func sqlID(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

func fromMS(v int64) time.Time { return time.UnixMilli(v) }

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.w.ExecContext(ctx,
		`INSERT INTO users (key, name, hash, pm_delivered, created) VALUES (?, ?, ?, ?, ?)`,
		u.Key, u.Name, u.Hash, int64(u.PMDelivered), ms(u.Created))
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint") {
		return store.ErrExists
	}
	return err
}

func (s *Store) User(ctx context.Context, key string) (store.User, error) {
	var u store.User
	var pm, created int64
	err := s.r.QueryRowContext(ctx,
		`SELECT key, name, hash, pm_delivered, created, nick FROM users WHERE key = ?`, key).
		Scan(&u.Key, &u.Name, &u.Hash, &pm, &created, &u.Nick)
	if errors.Is(err, sql.ErrNoRows) {
		return u, store.ErrNotFound
	}
	u.PMDelivered, u.Created = uint64(pm), fromMS(created)
	return u, err
}

func (s *Store) Users(ctx context.Context) ([]store.User, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, name, hash, pm_delivered, created, nick FROM users ORDER BY key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		var u store.User
		var pm, created int64
		if err := rows.Scan(&u.Key, &u.Name, &u.Hash, &pm, &created, &u.Nick); err != nil {
			return nil, err
		}
		u.PMDelivered, u.Created = uint64(pm), fromMS(created)
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *Store) PutToken(ctx context.Context, hash []byte, user string, expires time.Time) error {
	_, err := s.w.ExecContext(ctx, `INSERT OR REPLACE INTO tokens (hash, user, expires) VALUES (?, ?, ?)`,
		hash, user, ms(expires))
	return err
}

func (s *Store) TokenUser(ctx context.Context, hash []byte) (string, time.Time, error) {
	var user string
	var exp int64
	err := s.r.QueryRowContext(ctx, `SELECT user, expires FROM tokens WHERE hash = ?`, hash).Scan(&user, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, store.ErrNotFound
	}
	return user, fromMS(exp), err
}

func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time) error {
	_, err := s.w.ExecContext(ctx, `DELETE FROM tokens WHERE expires < ?`, ms(now))
	return err
}

func (s *Store) Rooms(ctx context.Context) ([]store.Room, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT key, name, owner, created FROM rooms ORDER BY key`)
	if err != nil {
		return nil, err
	}
	var out []store.Room
	index := map[string]int{}
	for rows.Next() {
		var r store.Room
		var created int64
		if err := rows.Scan(&r.Key, &r.Name, &r.Owner, &created); err != nil {
			rows.Close()
			return nil, err
		}
		r.Created = fromMS(created)
		r.TopicLock = true // unless room_modes says otherwise
		index[r.Key] = len(out)
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	mrows, err := s.r.QueryContext(ctx, `SELECT m.room, m.user, m.seq, COALESCE(r.operator, 0), COALESCE(r.voice, 0)
		FROM members m LEFT JOIN roles r ON r.room = m.room AND r.user = m.user ORDER BY m.room, m.seq`)
	if err != nil {
		return nil, err
	}
	defer mrows.Close()
	for mrows.Next() {
		var room string
		var m store.Member
		var seq int64
		if err := mrows.Scan(&room, &m.User, &seq, &m.Operator, &m.Voice); err != nil {
			return nil, err
		}
		m.Seq = uint64(seq)
		if i, ok := index[room]; ok {
			out[i].Members = append(out[i].Members, m)
		}
	}
	if err := mrows.Err(); err != nil {
		return nil, err
	}
	brows, err := s.r.QueryContext(ctx, `SELECT room, user FROM bans ORDER BY room, user`)
	if err != nil {
		return nil, err
	}
	defer brows.Close()
	for brows.Next() {
		var room, user string
		if err := brows.Scan(&room, &user); err != nil {
			return nil, err
		}
		if i, ok := index[room]; ok {
			out[i].Banned = append(out[i].Banned, user)
		}
	}
	if err := brows.Err(); err != nil {
		return nil, err
	}
	trows, err := s.r.QueryContext(ctx, `SELECT room, text, by_name, time FROM topics`)
	if err != nil {
		return nil, err
	}
	defer trows.Close()
	for trows.Next() {
		var room, text, by string
		var t int64
		if err := trows.Scan(&room, &text, &by, &t); err != nil {
			return nil, err
		}
		if i, ok := index[room]; ok {
			out[i].Topic, out[i].TopicBy, out[i].TopicTime = text, by, fromMS(t)
		}
	}
	if err := trows.Err(); err != nil {
		return nil, err
	}
	xrows, err := s.r.QueryContext(ctx, `SELECT room, secret, topic_lock FROM room_modes`)
	if err != nil {
		return nil, err
	}
	defer xrows.Close()
	for xrows.Next() {
		var room string
		var secret, lock bool
		if err := xrows.Scan(&room, &secret, &lock); err != nil {
			return nil, err
		}
		if i, ok := index[room]; ok {
			out[i].Secret, out[i].TopicLock = secret, lock
		}
	}
	return out, xrows.Err()
}

// Apply writes the batch in one immediate transaction. With WAL and
// synchronous=FULL the commit returns after the log is synced.
func (s *Store) Apply(ctx context.Context, batch []store.Change) (err error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var insert *sql.Stmt
	for _, c := range batch {
		switch c.Kind {
		case store.AddMessage, store.RecallMsg, store.EditMsg, store.ReactMsg:
			m := c.Message
			if err = applyTo(ctx, tx, c.Kind, m); err != nil {
				return err
			}
			if insert == nil {
				insert, err = tx.PrepareContext(ctx, `INSERT INTO messages
					(id, conv, room, sender, from_name, recipient, to_name, kind, text, file, time, target, recalled, idem, edited, reply_to, react_on, nick)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
				if err != nil {
					return fmt.Errorf("prepare insert: %w", err)
				}
				defer insert.Close()
			}
			if _, err = insert.ExecContext(ctx, int64(m.ID), m.Conv, m.Room, m.From, m.FromName, m.To, m.ToName,
				m.Kind, m.Text, m.File, ms(m.Time), int64(m.Target), m.Recalled, m.Key, m.Edited, int64(m.ReplyTo), m.On, m.FromNick); err != nil {
				return fmt.Errorf("insert message %d: %w", m.ID, err)
			}
		case store.CreateRoom:
			if _, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO rooms (key, name, owner, created) VALUES (?, ?, ?, ?)`,
				c.Room.Key, c.Room.Name, c.Room.Owner, ms(c.Room.Created)); err != nil {
				return fmt.Errorf("create room %s: %w", c.Room.Key, err)
			}
			if _, err = tx.ExecContext(ctx, `DELETE FROM room_modes WHERE room = ?`, c.Room.Key); err != nil {
				return fmt.Errorf("create room %s: %w", c.Room.Key, err)
			}
		case store.AddMember:
			if _, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO members (room, user, seq) VALUES (?, ?, ?)`,
				c.Room.Key, c.Member.User, int64(c.Member.Seq)); err != nil {
				return fmt.Errorf("add member: %w", err)
			}
			if _, err = tx.ExecContext(ctx, `DELETE FROM roles WHERE room = ? AND user = ?`, c.Room.Key, c.Member.User); err != nil {
				return fmt.Errorf("add member: %w", err)
			}
		case store.RemoveMember:
			for _, q := range []string{`DELETE FROM members WHERE room = ? AND user = ?`, `DELETE FROM roles WHERE room = ? AND user = ?`} {
				if _, err = tx.ExecContext(ctx, q, c.Room.Key, c.Member.User); err != nil {
					return fmt.Errorf("remove member: %w", err)
				}
			}
		case store.SetModes:
			if _, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO room_modes (room, secret, topic_lock) VALUES (?, ?, ?)`,
				c.Room.Key, c.Room.Secret, c.Room.TopicLock); err != nil {
				return fmt.Errorf("set modes: %w", err)
			}
		case store.SetRoles:
			if !c.Member.Operator && !c.Member.Voice {
				_, err = tx.ExecContext(ctx, `DELETE FROM roles WHERE room = ? AND user = ?`, c.Room.Key, c.Member.User)
			} else {
				_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO roles (room, user, operator, voice) VALUES (?, ?, ?, ?)`,
					c.Room.Key, c.Member.User, c.Member.Operator, c.Member.Voice)
			}
			if err != nil {
				return fmt.Errorf("set roles: %w", err)
			}
		case store.SetOwner:
			if _, err = tx.ExecContext(ctx, `UPDATE rooms SET owner = ? WHERE key = ?`,
				c.Room.Owner, c.Room.Key); err != nil {
				return fmt.Errorf("set owner: %w", err)
			}
		case store.SetDelivered:
			if _, err = tx.ExecContext(ctx, `UPDATE users SET pm_delivered = MAX(pm_delivered, ?) WHERE key = ?`,
				int64(c.User.PMDelivered), c.User.Key); err != nil {
				return fmt.Errorf("set delivered: %w", err)
			}
		case store.AddBan:
			if _, err = tx.ExecContext(ctx, `INSERT OR IGNORE INTO bans (room, user) VALUES (?, ?)`,
				c.Room.Key, c.Member.User); err != nil {
				return fmt.Errorf("add ban: %w", err)
			}
		case store.RemoveBan:
			if _, err = tx.ExecContext(ctx, `DELETE FROM bans WHERE room = ? AND user = ?`,
				c.Room.Key, c.Member.User); err != nil {
				return fmt.Errorf("remove ban: %w", err)
			}
		case store.SetTopic:
			if c.Room.Topic == "" {
				_, err = tx.ExecContext(ctx, `DELETE FROM topics WHERE room = ?`, c.Room.Key)
			} else {
				_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO topics (room, text, by_name, time) VALUES (?, ?, ?, ?)`,
					c.Room.Key, c.Room.Topic, c.Room.TopicBy, c.Room.TopicTime.UnixMilli())
			}
			if err != nil {
				return fmt.Errorf("set topic: %w", err)
			}
		case store.SetNick:
			if _, err = tx.ExecContext(ctx, `UPDATE users SET nick = ? WHERE key = ?`, c.User.Nick, c.User.Key); err != nil {
				return fmt.Errorf("set nick: %w", err)
			}
		case store.SetRead:
			if _, err = tx.ExecContext(ctx, `INSERT INTO reads (user, conv, msg) VALUES (?, ?, ?)
				ON CONFLICT (user, conv) DO UPDATE SET msg = MAX(msg, excluded.msg)`,
				c.Read.User, c.Read.Conv, sqlID(c.Read.Msg)); err != nil {
				return fmt.Errorf("set read: %w", err)
			}
		case store.DeleteRoom:
			for _, q := range []string{
				`DELETE FROM reads WHERE conv = ?`,
				`DELETE FROM reactions WHERE msg IN (SELECT id FROM messages WHERE conv = ?)`,
				`DELETE FROM search WHERE rowid IN (SELECT id FROM messages WHERE conv = ?)`,
				`DELETE FROM messages WHERE conv = ?`,
				`DELETE FROM members WHERE room = ?`,
				`DELETE FROM bans WHERE room = ?`,
				`DELETE FROM topics WHERE room = ?`,
				`DELETE FROM room_modes WHERE room = ?`,
				`DELETE FROM roles WHERE room = ?`,
				`DELETE FROM rooms WHERE key = ?`,
			} {
				arg := c.Room.Key
				if strings.Contains(q, "WHERE conv") {
					arg = store.RoomConv(c.Room.Key)
				}
				if _, err = tx.ExecContext(ctx, q, arg); err != nil {
					return fmt.Errorf("delete room %s: %w", c.Room.Key, err)
				}
			}
		default:
			return fmt.Errorf("unknown change kind %d", c.Kind)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// searchable reports whether m goes in the search index.
func searchable(m store.Message) bool {
	return store.IsMessage(m.Kind) && !m.Recalled && strings.TrimSpace(m.Text) != ""
}

// indexAll puts every message in the search index.
func indexAll(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT id, text FROM messages WHERE kind NOT IN ('recall', 'edit', 'react') AND recalled = 0 AND text != ''`)
	if err != nil {
		return err
	}
	type doc struct {
		id   int64
		text string
	}
	var docs []doc
	for rows.Next() {
		var d doc
		if err := rows.Scan(&d.id, &d.text); err != nil {
			rows.Close()
			return err
		}
		docs = append(docs, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(docs) == 0 {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, d := range docs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO search (rowid, text) VALUES (?, ?)`, d.id, store.SearchForm(d.text)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// applyTo makes what an entry of kind k does to the message it is about.
func applyTo(ctx context.Context, tx *sql.Tx, k store.ChangeKind, m store.Message) error {
	var qs []string
	var args [][]any
	switch k {
	case store.AddMessage:
		if searchable(m) {
			qs = []string{`INSERT INTO search (rowid, text) VALUES (?, ?)`}
			args = [][]any{{int64(m.ID), store.SearchForm(m.Text)}}
		}
	case store.RecallMsg:
		// The recalled text goes from the message, its edits and its
		// reactions.
		qs = []string{
			`UPDATE messages SET recalled = 1, text = '', file = '' WHERE id = ?`,
			`UPDATE messages SET text = '' WHERE kind = 'edit' AND target = ?`,
			`DELETE FROM reactions WHERE msg = ?`,
			`DELETE FROM search WHERE rowid = ?`,
		}
		args = [][]any{{int64(m.Target)}, {int64(m.Target)}, {int64(m.Target)}, {int64(m.Target)}}
	case store.EditMsg:
		qs = []string{`UPDATE messages SET text = ?, edited = 1 WHERE id = ?`, `DELETE FROM search WHERE rowid = ?`,
			`INSERT INTO search (rowid, text) VALUES (?, ?)`}
		args = [][]any{{m.Text, int64(m.Target)}, {int64(m.Target)}, {int64(m.Target), store.SearchForm(m.Text)}}
	case store.ReactMsg:
		if m.On {
			qs = []string{`INSERT OR IGNORE INTO reactions (msg, emoji, user, name, seq) VALUES (?, ?, ?, ?, ?)`}
			args = [][]any{{int64(m.Target), m.Text, m.From, m.FromName, int64(m.ID)}}
		} else {
			qs = []string{`DELETE FROM reactions WHERE msg = ? AND emoji = ? AND user = ?`}
			args = [][]any{{int64(m.Target), m.Text, m.From}}
		}
	}
	for i, q := range qs {
		if _, err := tx.ExecContext(ctx, q, args[i]...); err != nil {
			return fmt.Errorf("%s of %d by entry %d: %w", m.Kind, m.Target, m.ID, err)
		}
	}
	return nil
}

const msgColumns = `id, conv, room, sender, from_name, recipient, to_name, kind, text, file, time, target, recalled, idem, edited, reply_to, react_on, nick`

// decorate fills in the quotes of msgs that are replies and, with
// reactions, every message's reactions.
func (s *Store) decorate(ctx context.Context, msgs []store.Message, reactions bool) error {
	var replies, all []any
	for _, m := range msgs {
		if m.ReplyTo != 0 {
			replies = append(replies, int64(m.ReplyTo))
		}
		if reactions && store.IsMessage(m.Kind) {
			all = append(all, int64(m.ID))
		}
	}
	if len(replies) > 0 {
		quotes := map[uint64]store.Quote{}
		for part := range slices.Chunk(replies, 500) {
			rows, err := s.r.QueryContext(ctx, `SELECT id, from_name, text, kind, recalled FROM messages WHERE id IN (`+marks(len(part))+`)`, part...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id int64
				var q store.Quote
				if err := rows.Scan(&id, &q.From, &q.Text, &q.Kind, &q.Recalled); err != nil {
					rows.Close()
					return err
				}
				quotes[uint64(id)] = q
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		for i := range msgs {
			if msgs[i].ReplyTo != 0 {
				msgs[i].Quote = quotes[msgs[i].ReplyTo]
			}
		}
	}
	if len(all) == 0 {
		return nil
	}
	byMsg := map[uint64][]store.Reaction{}
	for part := range slices.Chunk(all, 500) {
		rows, err := s.r.QueryContext(ctx, `SELECT msg, emoji, user, name FROM reactions WHERE msg IN (`+marks(len(part))+`) ORDER BY msg, seq`, part...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			var emoji, user, name string
			if err := rows.Scan(&id, &emoji, &user, &name); err != nil {
				rows.Close()
				return err
			}
			byMsg[uint64(id)] = store.AddReaction(byMsg[uint64(id)], emoji, user, name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for i := range msgs {
		msgs[i].Reactions = byMsg[msgs[i].ID]
	}
	return nil
}

// marks returns n comma-separated placeholders.
func marks(n int) string { return strings.TrimSuffix(strings.Repeat("?,", n), ",") }

func scanMessages(rows *sql.Rows) ([]store.Message, error) {
	defer rows.Close()
	var out []store.Message
	for rows.Next() {
		var m store.Message
		var id, t, target, replyTo int64
		if err := rows.Scan(&id, &m.Conv, &m.Room, &m.From, &m.FromName, &m.To, &m.ToName,
			&m.Kind, &m.Text, &m.File, &t, &target, &m.Recalled, &m.Key, &m.Edited, &replyTo, &m.On, &m.FromNick); err != nil {
			return nil, err
		}
		m.ID, m.Time, m.Target, m.ReplyTo = uint64(id), fromMS(t), uint64(target), uint64(replyTo)
		out = append(out, m)
	}
	return out, rows.Err()
}

func (s *Store) one(ctx context.Context, query string, args ...any) (store.Message, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return store.Message{}, err
	}
	ms, err := scanMessages(rows)
	if err != nil {
		return store.Message{}, err
	}
	if len(ms) == 0 {
		return store.Message{}, store.ErrNotFound
	}
	return ms[0], nil
}

func (s *Store) LastID(ctx context.Context) (uint64, error) {
	var id sql.NullInt64
	err := s.r.QueryRowContext(ctx, `SELECT MAX(id) FROM messages`).Scan(&id)
	return uint64(id.Int64), err
}

func (s *Store) Message(ctx context.Context, msg uint64) (store.Message, error) {
	m, err := s.one(ctx, `SELECT `+msgColumns+` FROM messages WHERE id = ?`, sqlID(msg))
	if err != nil {
		return m, err
	}
	one := []store.Message{m}
	err = s.decorate(ctx, one, true)
	return one[0], err
}

func (s *Store) LastBy(ctx context.Context, user string, max uint64) (store.Message, error) {
	return s.one(ctx, `SELECT `+msgColumns+` FROM messages
		WHERE sender = ? AND id <= ? AND kind NOT IN ('recall', 'edit', 'react') ORDER BY id DESC LIMIT 1`, user, sqlID(max))
}

func (s *Store) History(ctx context.Context, conv string, before uint64, limit int) ([]store.Message, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgColumns+` FROM messages
		WHERE conv = ? AND id < ? AND kind NOT IN ('recall', 'edit', 'react') ORDER BY id DESC LIMIT ?`, conv, sqlID(before), limit)
	if err != nil {
		return nil, err
	}
	out, err := scanMessages(rows)
	if err != nil {
		return nil, err
	}
	slices.Reverse(out)
	return out, s.decorate(ctx, out, true)
}

// Since is a union of index range scans: each conversation's by (conv,
// id), and the user's private messages by (sender, id) and by
// (recipient, id). One query with ORs over those columns would scan the
// whole log. SQLite allows at most 500 arms in one compound query, so a
// user in many rooms is read in several queries of at most
// sinceArms arms, each stopping at the limit, and their results merged.
func (s *Store) Since(ctx context.Context, user string, convs []string, after, upto uint64, limit int) ([]store.Message, error) {
	var out []store.Message
	for first := true; first || len(convs) > 0; first = false {
		part := convs[:min(len(convs), sinceArms)]
		convs = convs[len(part):]
		q, args := sinceQuery(user, part, first, after, upto, limit)
		rows, err := s.r.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		msgs, err := scanMessages(rows)
		if err != nil {
			return nil, err
		}
		out = store.MergeByID(out, msgs, limit)
	}
	return out, s.decorate(ctx, out, false)
}

// sinceArms is the most conversations one of Since's queries reads; it
// stays well under SQLite's limit of 500 arms in a compound query.
const sinceArms = 200

// sinceQuery is one of Since's queries. It has one arm per conversation,
// and with private the two arms of the user's private messages: each
// reads its index in id order, so the union is merged in order and stops
// at the limit. A single arm with conv IN (...) would read and sort every
// matching entry first, which costs a login as much as its rooms' whole
// history.
func sinceQuery(user string, convs []string, private bool, after, upto uint64, limit int) (string, []any) {
	var b strings.Builder
	var args []any
	for i, c := range convs {
		if i > 0 {
			b.WriteString(` UNION ALL `)
		}
		b.WriteString(`SELECT ` + msgColumns + ` FROM messages WHERE conv = ? AND id > ? AND id <= ?`)
		args = append(args, c, sqlID(after), sqlID(upto))
	}
	if private {
		if len(convs) > 0 {
			b.WriteString(` UNION ALL `)
		}
		b.WriteString(`SELECT ` + msgColumns + ` FROM messages WHERE sender = ? AND room = '' AND id > ? AND id <= ?
		UNION ALL SELECT ` + msgColumns + ` FROM messages WHERE recipient = ? AND sender != ? AND room = '' AND id > ? AND id <= ?`)
		args = append(args, user, sqlID(after), sqlID(upto), user, user, sqlID(after), sqlID(upto))
	}
	b.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, limit)
	return b.String(), args
}

func (s *Store) PrivateTo(ctx context.Context, user string, after, upto uint64, limit int) ([]store.Message, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgColumns+` FROM messages
		WHERE recipient = ? AND id > ? AND id <= ? AND sender != ? AND room = '' AND kind NOT IN ('recall', 'edit', 'react')
		ORDER BY id LIMIT ?`, user, sqlID(after), sqlID(upto), user, limit)
	if err != nil {
		return nil, err
	}
	out, err := scanMessages(rows)
	if err != nil {
		return nil, err
	}
	return out, s.decorate(ctx, out, false)
}

// Prune reads the oldest entries in id order and deletes the leading run
// of those older than before, in one transaction.
func (s *Store) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	rows, err := s.w.QueryContext(ctx, `SELECT id, time FROM messages ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return 0, err
	}
	var last int64
	n := 0
	for rows.Next() {
		var id, t int64
		if err := rows.Scan(&id, &t); err != nil {
			rows.Close()
			return 0, err
		}
		if t >= ms(before) {
			break
		}
		last = id
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil || n == 0 {
		return 0, err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	defer tx.Rollback()
	for _, q := range []string{`DELETE FROM reactions WHERE msg <= ?`, `DELETE FROM search WHERE rowid <= ?`, `DELETE FROM messages WHERE id <= ?`} {
		if _, err := tx.ExecContext(ctx, q, last); err != nil {
			return 0, fmt.Errorf("prune: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	return n, nil
}

func (s *Store) Reads(ctx context.Context) ([]store.Read, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT user, conv, msg FROM reads ORDER BY user, conv`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Read
	for rows.Next() {
		var r store.Read
		var msg int64
		if err := rows.Scan(&r.User, &r.Conv, &msg); err != nil {
			return nil, err
		}
		r.Msg = uint64(msg)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Counts reads each conversation's index range after its position: a
// count, and the texts that may mention the user (LIKE finds the name in
// any ASCII case; protocol.Mentions decides).
func (s *Store) Counts(ctx context.Context, user string, names []string, convs []store.Unread, upto uint64, limit int) ([]store.Count, error) {
	out := make([]store.Count, len(convs))
	// LIKE narrows the texts to read to those with a name in them; it
	// folds the case of ASCII letters only, so a name with others (Zoë)
	// is looked for in every unread text.
	var likes []string
	var likeArgs []any
	for _, n := range names {
		if strings.IndexFunc(n, func(r rune) bool { return r >= 0x80 }) >= 0 {
			likes, likeArgs = []string{"1"}, nil
			break
		}
		likes = append(likes, `text LIKE ? ESCAPE '\'`)
		likeArgs = append(likeArgs, "%"+strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(n)+"%")
	}
	if len(likes) == 0 {
		likes = []string{"0"}
	}
	for i, u := range convs {
		out[i].Conv = u.Conv
		if u.After == 0 {
			var own sql.NullInt64
			if err := s.r.QueryRowContext(ctx, `SELECT MAX(id) FROM messages WHERE sender = ? AND conv = ? AND kind NOT IN ('recall', 'edit', 'react')`,
				user, u.Conv).Scan(&own); err != nil {
				return nil, err
			}
			u.After = uint64(own.Int64)
		}
		const where = `conv = ? AND id > ? AND id <= ? AND sender != ? AND recalled = 0 AND kind NOT IN ('recall', 'edit', 'react')`
		args := []any{u.Conv, sqlID(u.After), sqlID(upto), user}
		if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE `+where+` LIMIT ?)`,
			append(args, limit)...).Scan(&out[i].Unread); err != nil {
			return nil, err
		}
		if out[i].Unread == 0 {
			continue
		}
		rows, err := s.r.QueryContext(ctx, `SELECT text FROM messages WHERE `+where+` AND (`+strings.Join(likes, " OR ")+`) ORDER BY id LIMIT ?`,
			append(append(args, likeArgs...), limit*4)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() && out[i].Mentions < limit {
			var text string
			if err := rows.Scan(&text); err != nil {
				rows.Close()
				return nil, err
			}
			if slices.ContainsFunc(names, func(n string) bool { return protocol.Mentions(text, n) }) {
				out[i].Mentions++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// PrivateConvs groups the user's private messages, read by the sender
// and the recipient indexes, by conversation; SQLite takes the other
// columns of a MAX() aggregate from the row with the maximum.
func (s *Store) PrivateConvs(ctx context.Context, user string, upto uint64, limit int) ([]store.Private, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT conv, MAX(id), sender, from_name, recipient, to_name FROM messages
		WHERE room = '' AND (sender = ? OR recipient = ?) AND id <= ? AND kind NOT IN ('recall', 'edit', 'react')
		GROUP BY conv ORDER BY 2 DESC LIMIT ?`, user, user, sqlID(upto), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Private
	for rows.Next() {
		var pc store.Private
		var last int64
		var from, fromName, to, toName string
		if err := rows.Scan(&pc.Conv, &last, &from, &fromName, &to, &toName); err != nil {
			return nil, err
		}
		pc.Last = uint64(last)
		pc.FillWith(user, from, fromName, to, toName)
		out = append(out, pc)
	}
	return out, rows.Err()
}

// Search matches the index with every word as a quoted phrase, so that
// nothing typed is FTS5 syntax ("OR", "NEAR", "*", quotes), and reads
// the messages of the matches in the conversations allowed, newest
// first.
func (s *Store) Search(ctx context.Context, user string, convs []string, private bool, words []string, limit int) ([]store.Message, error) {
	var phrases []string
	for _, w := range words {
		phrases = append(phrases, `"`+strings.ReplaceAll(w, `"`, `""`)+`"`)
	}
	if len(phrases) == 0 {
		return nil, nil
	}
	var where []string
	args := []any{strings.Join(phrases, " AND ")}
	if len(convs) > 0 {
		where = append(where, `m.conv IN (`+marks(len(convs))+`)`)
		for _, c := range convs {
			args = append(args, c)
		}
	}
	if private {
		where = append(where, `(m.room = '' AND (m.sender = ? OR m.recipient = ?))`)
		args = append(args, user, user)
	}
	if len(where) == 0 {
		return nil, nil
	}
	cols := "m." + strings.ReplaceAll(msgColumns, ", ", ", m.")
	rows, err := s.r.QueryContext(ctx, `SELECT `+cols+` FROM search JOIN messages m ON m.id = search.rowid
		WHERE search MATCH ? AND m.recalled = 0 AND (`+strings.Join(where, " OR ")+`) ORDER BY m.id DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	out, err := scanMessages(rows)
	if err != nil {
		return nil, err
	}
	return out, s.decorate(ctx, out, false)
}

func (s *Store) RecentKeys(ctx context.Context, n int) ([]store.Message, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT `+msgColumns+` FROM
		(SELECT * FROM messages WHERE idem != '' ORDER BY id DESC LIMIT ?) ORDER BY id`, n)
	if err != nil {
		return nil, err
	}
	return scanMessages(rows)
}
