// Package postgres is a Store in a PostgreSQL database, for a chat
// server whose data should live in a database server rather than in a
// file beside it (chatserver -db postgres://…). It keeps the same tables
// as the SQLite store. Apply sends a whole batch in one round trip and
// commits it in one transaction, which gives the hub group commit; the
// commit returns once PostgreSQL has made it durable (its default,
// synchronous_commit=on).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parley-chat/parley/chatserver/store"
	"github.com/parley-chat/parley/shared/protocol"
)

// Store is a store.Store backed by PostgreSQL.
type Store struct {
	db *pgxpool.Pool
	// owner holds the advisory lock that says one chat server writes
	// to the database: the hub numbers messages itself, so two writers
	// would hand out the same ids. Open takes it at once; a store
	// opened with OpenShared takes it in Lead.
	owner *pgx.Conn
	// term is the writer term a shared store's writes are fenced by
	// (see Lead), 0 while it is not the writer; Open's store is not
	// fenced.
	term   atomic.Int64
	shared bool
}

// ErrNotWriter is returned by the writes of a store opened with
// OpenShared that does not hold the writer's lock, or whose term has
// passed to another: they are refused rather than diverging.
var ErrNotWriter = errors.New("this chat server is not the database's writer")

// ErrInUse is returned by Open when another chat server holds the
// database.
var ErrInUse = errors.New("another chat server is using this database; one database serves one chat server")

// ownerLock is the key of the advisory lock a chat server holds on its
// database while it runs; schemaLock serialises creating the tables.
const (
	ownerLock  = 7700
	schemaLock = 7701
)

var _ store.Store = (*Store)(nil)

// schema is created if absent. Times are milliseconds since the epoch,
// as in the SQLite store, so that both give the same answers.
const schema = `
CREATE TABLE IF NOT EXISTS users (
	key          TEXT PRIMARY KEY,
	name         TEXT NOT NULL,
	hash         TEXT NOT NULL,
	pm_delivered BIGINT NOT NULL DEFAULT 0,
	created      BIGINT NOT NULL,
	nick         TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS tokens (
	hash     BYTEA PRIMARY KEY,
	user_key TEXT NOT NULL,
	expires  BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS rooms (
	key     TEXT PRIMARY KEY,
	name    TEXT NOT NULL,
	owner   TEXT NOT NULL,
	created BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS members (
	room     TEXT NOT NULL,
	user_key TEXT NOT NULL,
	seq      BIGINT NOT NULL,
	PRIMARY KEY (room, user_key)
);
CREATE TABLE IF NOT EXISTS bans (
	room     TEXT NOT NULL,
	user_key TEXT NOT NULL,
	PRIMARY KEY (room, user_key)
);
CREATE TABLE IF NOT EXISTS topics (
	room    TEXT PRIMARY KEY,
	text    TEXT NOT NULL,
	by_name TEXT NOT NULL,
	time    BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS room_modes (
	room       TEXT PRIMARY KEY,
	secret     BOOLEAN NOT NULL,
	topic_lock BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS roles (
	room     TEXT NOT NULL,
	user_key TEXT NOT NULL,
	operator BOOLEAN NOT NULL,
	voice    BOOLEAN NOT NULL,
	PRIMARY KEY (room, user_key)
);
CREATE TABLE IF NOT EXISTS messages (
	id        BIGINT PRIMARY KEY,
	conv      TEXT NOT NULL,
	room      TEXT NOT NULL,
	sender    TEXT NOT NULL,
	from_name TEXT NOT NULL,
	recipient TEXT NOT NULL,
	to_name   TEXT NOT NULL,
	kind      TEXT NOT NULL,
	text      TEXT NOT NULL,
	file      TEXT NOT NULL,
	time      BIGINT NOT NULL,
	target    BIGINT NOT NULL,
	recalled  BOOLEAN NOT NULL,
	idem      TEXT NOT NULL,
	edited    BOOLEAN NOT NULL DEFAULT FALSE,
	reply_to  BIGINT NOT NULL DEFAULT 0,
	react_on  BOOLEAN NOT NULL DEFAULT FALSE,
	nick      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS messages_conv ON messages (conv, id);
CREATE UNIQUE INDEX IF NOT EXISTS messages_idem ON messages (sender, idem) WHERE idem != '';
CREATE INDEX IF NOT EXISTS messages_sender ON messages (sender, id);
CREATE INDEX IF NOT EXISTS messages_recipient ON messages (recipient, id);
CREATE TABLE IF NOT EXISTS reactions (
	msg      BIGINT NOT NULL,
	emoji    TEXT NOT NULL,
	user_key TEXT NOT NULL,
	name     TEXT NOT NULL,
	seq      BIGINT NOT NULL,
	PRIMARY KEY (msg, emoji, user_key)
);
CREATE TABLE IF NOT EXISTS search (
	msg BIGINT PRIMARY KEY,
	doc TSVECTOR NOT NULL
);
CREATE INDEX IF NOT EXISTS search_doc ON search USING GIN (doc);
CREATE TABLE IF NOT EXISTS reads (
	user_key TEXT NOT NULL,
	conv     TEXT NOT NULL,
	msg      BIGINT NOT NULL,
	PRIMARY KEY (user_key, conv)
);
CREATE TABLE IF NOT EXISTS writer_term (
	one  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
	term BIGINT NOT NULL
);
INSERT INTO writer_term (term) VALUES (0) ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION parley_fence(t BIGINT) RETURNS VOID AS $$
BEGIN
	PERFORM 1 FROM writer_term WHERE term = t FOR SHARE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'another chat server has become the writer' USING ERRCODE = 'PY001';
	END IF;
END $$ LANGUAGE plpgsql;
`

// Open connects to the database at url (postgres://USER@HOST:PORT/DB,
// with any of libpq's parameters), creates the tables it lacks, and takes
// the database for this chat server alone: it fails with ErrInUse if
// another holds it.
func Open(ctx context.Context, url string) (*Store, error) {
	s, err := open(ctx, url)
	if err != nil {
		return nil, err
	}
	owner, err := pgx.ConnectConfig(ctx, s.db.Config().ConnConfig.Copy())
	if err != nil {
		s.db.Close()
		return nil, fmt.Errorf("connect to %s: %w", s.where(), err)
	}
	var held bool
	if err := owner.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, ownerLock).Scan(&held); err != nil || !held {
		owner.Close(ctx)
		s.db.Close()
		if err == nil {
			err = ErrInUse
		}
		return nil, fmt.Errorf("%s: %w", s.where(), err)
	}
	s.owner = owner
	return s, nil
}

// OpenShared is Open for a node of a cluster: several nodes open one
// database, and the one that Lead makes the writer writes to it. Until
// then, and after its term has passed to another, its writes fail with
// ErrNotWriter; reads work throughout.
func OpenShared(ctx context.Context, url string) (*Store, error) {
	s, err := open(ctx, url)
	if err != nil {
		return nil, err
	}
	s.shared = true
	return s, nil
}

func (s *Store) where() string {
	c := s.db.Config().ConnConfig
	return c.Host + "/" + c.Database
}

// Lead blocks until this store holds the database's writer lock, or ctx
// ends, and then starts a new writer term: from then on the writes of an
// earlier term's writer fail, even one that has not noticed that it
// lost the lock (its connection to the database broke, say), because
// every write checks the term inside its own transaction. It returns
// the term. Call Resign when the term ends.
func (s *Store) Lead(ctx context.Context) (int64, error) {
	if !s.shared || s.owner != nil {
		return 0, errors.New("Lead needs a store from OpenShared that does not lead")
	}
	owner, err := pgx.ConnectConfig(ctx, s.db.Config().ConnConfig.Copy())
	if err != nil {
		return 0, fmt.Errorf("connect to %s: %w", s.where(), err)
	}
	// pg_advisory_lock waits in the database for the holder to let go:
	// the lock is released when its session ends, so a writer that dies
	// hands it on as soon as the database notices.
	if _, err := owner.Exec(ctx, `SELECT pg_advisory_lock($1)`, ownerLock); err != nil {
		owner.Close(context.Background())
		return 0, fmt.Errorf("wait for the writer lock of %s: %w", s.where(), err)
	}
	var term int64
	if err := owner.QueryRow(ctx, `UPDATE writer_term SET term = term + 1 RETURNING term`).Scan(&term); err != nil {
		owner.Close(context.Background())
		return 0, fmt.Errorf("start a writer term in %s: %w", s.where(), err)
	}
	s.owner = owner
	s.term.Store(term)
	return term, nil
}

// Holding checks, with one round trip, that the writer lock's
// connection still works; a writer that cannot tell must stop writing.
// Call it from the goroutine that called Lead.
func (s *Store) Holding(ctx context.Context) error {
	if s.owner == nil || s.term.Load() == 0 {
		return ErrNotWriter
	}
	return s.owner.Ping(ctx)
}

// Resign ends the writer term: the lock goes to the next node waiting
// in Lead. Call it from the goroutine that called Lead.
func (s *Store) Resign() {
	s.term.Store(0)
	if s.owner != nil {
		s.owner.Close(context.Background())
		s.owner = nil
	}
}

// fence is the statement that a shared store's writes begin with.
func (s *Store) fence() (string, int64, error) {
	if !s.shared {
		return "", 0, nil
	}
	t := s.term.Load()
	if t == 0 {
		return "", 0, ErrNotWriter
	}
	return `SELECT parley_fence($1)`, t, nil
}

// fenced turns the fence's failure into ErrNotWriter.
func fenced(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "PY001" {
		return fmt.Errorf("%w: %s", ErrNotWriter, pe.Message)
	}
	return err
}

func open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database address: %w", err)
	}
	db, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", cfg.ConnConfig.Host, err)
	}
	// Several chat servers starting at once against one database may
	// race to create the tables; an advisory lock makes them take turns.
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, schemaLock); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("create tables in %s/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return &Store{db: db}, nil
}

// Close ends the store's connections, which lets the database go to
// another chat server.
func (s *Store) Close() error {
	s.db.Close()
	if s.owner != nil {
		return s.owner.Close(context.Background())
	}
	return nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v) }

// sqlID converts a message id to PostgreSQL's signed integers; a bound
// larger than any id (from a client) saturates instead of turning
// negative.
func sqlID(v uint64) int64 {
	if v > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(v)
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	fence, term, err := s.fence()
	if err != nil {
		return err
	}
	insert := func(q interface {
		Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	}) error {
		_, err := q.Exec(ctx,
			`INSERT INTO users (key, name, hash, pm_delivered, created) VALUES ($1, $2, $3, $4, $5)`,
			u.Key, u.Name, u.Hash, sqlID(u.PMDelivered), ms(u.Created))
		return err
	}
	if fence == "" {
		err = insert(s.db)
	} else {
		err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, fence, term); err != nil {
				return err
			}
			return insert(tx)
		})
	}
	if isUniqueViolation(err) {
		return store.ErrExists
	}
	return fenced(err)
}

func (s *Store) User(ctx context.Context, key string) (store.User, error) {
	var u store.User
	var pm, created int64
	err := s.db.QueryRow(ctx,
		`SELECT key, name, hash, pm_delivered, created, nick FROM users WHERE key = $1`, key).
		Scan(&u.Key, &u.Name, &u.Hash, &pm, &created, &u.Nick)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	u.PMDelivered, u.Created = uint64(pm), fromMS(created)
	return u, err
}

func (s *Store) Users(ctx context.Context) ([]store.User, error) {
	rows, err := s.db.Query(ctx, `SELECT key, name, hash, pm_delivered, created, nick FROM users ORDER BY key`)
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
	_, err := s.db.Exec(ctx, `INSERT INTO tokens (hash, user_key, expires) VALUES ($1, $2, $3)
		ON CONFLICT (hash) DO UPDATE SET user_key = EXCLUDED.user_key, expires = EXCLUDED.expires`,
		hash, user, ms(expires))
	return err
}

func (s *Store) TokenUser(ctx context.Context, hash []byte) (string, time.Time, error) {
	var user string
	var exp int64
	err := s.db.QueryRow(ctx, `SELECT user_key, expires FROM tokens WHERE hash = $1`, hash).Scan(&user, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, store.ErrNotFound
	}
	return user, fromMS(exp), err
}

func (s *Store) DeleteExpiredTokens(ctx context.Context, now time.Time) error {
	_, err := s.db.Exec(ctx, `DELETE FROM tokens WHERE expires < $1`, ms(now))
	return err
}

// Rooms reads rooms, members and bans in one transaction, so that they
// agree with each other.
func (s *Store) Rooms(ctx context.Context) ([]store.Room, error) {
	var out []store.Room
	err := pgx.BeginTxFunc(ctx, s.db, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		out = nil
		index := map[string]int{}
		rows, err := tx.Query(ctx, `SELECT key, name, owner, created FROM rooms ORDER BY key`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r store.Room
			var created int64
			if err := rows.Scan(&r.Key, &r.Name, &r.Owner, &created); err != nil {
				rows.Close()
				return err
			}
			r.Created = fromMS(created)
			r.TopicLock = true // unless room_modes says otherwise
			index[r.Key] = len(out)
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT m.room, m.user_key, m.seq, COALESCE(r.operator, FALSE), COALESCE(r.voice, FALSE)
			FROM members m LEFT JOIN roles r ON r.room = m.room AND r.user_key = m.user_key ORDER BY m.room, m.seq`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var room string
			var m store.Member
			var seq int64
			if err := rows.Scan(&room, &m.User, &seq, &m.Operator, &m.Voice); err != nil {
				rows.Close()
				return err
			}
			m.Seq = uint64(seq)
			if i, ok := index[room]; ok {
				out[i].Members = append(out[i].Members, m)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT room, user_key FROM bans ORDER BY room, user_key`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var room, user string
			if err := rows.Scan(&room, &user); err != nil {
				rows.Close()
				return err
			}
			if i, ok := index[room]; ok {
				out[i].Banned = append(out[i].Banned, user)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT room, text, by_name, time FROM topics`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var room, text, by string
			var t int64
			if err := rows.Scan(&room, &text, &by, &t); err != nil {
				rows.Close()
				return err
			}
			if i, ok := index[room]; ok {
				out[i].Topic, out[i].TopicBy, out[i].TopicTime = text, by, fromMS(t)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT room, secret, topic_lock FROM room_modes`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var room string
			var secret, lock bool
			if err := rows.Scan(&room, &secret, &lock); err != nil {
				return err
			}
			if i, ok := index[room]; ok {
				out[i].Secret, out[i].TopicLock = secret, lock
			}
		}
		return rows.Err()
	})
	return out, err
}

const insertMessage = `INSERT INTO messages
	(id, conv, room, sender, from_name, recipient, to_name, kind, text, file, time, target, recalled, idem, edited, reply_to, react_on, nick)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
	ON CONFLICT (sender, idem) WHERE idem != '' DO NOTHING`

// Apply queues the batch's statements in one pipeline inside one
// transaction: one round trip to the server, and one durable commit.
func (s *Store) Apply(ctx context.Context, batch []store.Change) error {
	var b pgx.Batch
	for _, c := range batch {
		switch c.Kind {
		case store.AddMessage, store.RecallMsg, store.EditMsg, store.ReactMsg:
			m := c.Message
			target := sqlID(m.Target)
			switch c.Kind {
			case store.AddMessage:
				if searchable(m) {
					b.Queue(`INSERT INTO search (msg, doc) VALUES ($1, $2::tsvector)`, sqlID(m.ID), document(m.Text))
				}
			case store.RecallMsg:
				// The recalled text goes from the message, its edits and
				// its reactions.
				b.Queue(`UPDATE messages SET recalled = TRUE, text = '', file = '' WHERE id = $1`, target)
				b.Queue(`UPDATE messages SET text = '' WHERE kind = 'edit' AND target = $1`, target)
				b.Queue(`DELETE FROM reactions WHERE msg = $1`, target)
				b.Queue(`DELETE FROM search WHERE msg = $1`, target)
			case store.EditMsg:
				b.Queue(`UPDATE messages SET text = $1, edited = TRUE WHERE id = $2`, m.Text, target)
				b.Queue(`DELETE FROM search WHERE msg = $1`, target)
				b.Queue(`INSERT INTO search (msg, doc) VALUES ($1, $2::tsvector)`, target, document(m.Text))
			case store.ReactMsg:
				if m.On {
					b.Queue(`INSERT INTO reactions (msg, emoji, user_key, name, seq) VALUES ($1, $2, $3, $4, $5)
						ON CONFLICT DO NOTHING`, target, m.Text, m.From, m.FromName, sqlID(m.ID))
				} else {
					b.Queue(`DELETE FROM reactions WHERE msg = $1 AND emoji = $2 AND user_key = $3`, target, m.Text, m.From)
				}
			}
			b.Queue(insertMessage, sqlID(m.ID), m.Conv, m.Room, m.From, m.FromName, m.To, m.ToName,
				m.Kind, m.Text, m.File, ms(m.Time), target, m.Recalled, m.Key, m.Edited, sqlID(m.ReplyTo), m.On, m.FromNick)
		case store.CreateRoom:
			b.Queue(`INSERT INTO rooms (key, name, owner, created) VALUES ($1, $2, $3, $4)
				ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, owner = EXCLUDED.owner, created = EXCLUDED.created`,
				c.Room.Key, c.Room.Name, c.Room.Owner, ms(c.Room.Created))
			b.Queue(`DELETE FROM room_modes WHERE room = $1`, c.Room.Key)
		case store.AddMember:
			b.Queue(`INSERT INTO members (room, user_key, seq) VALUES ($1, $2, $3)
				ON CONFLICT (room, user_key) DO UPDATE SET seq = EXCLUDED.seq`,
				c.Room.Key, c.Member.User, sqlID(c.Member.Seq))
			b.Queue(`DELETE FROM roles WHERE room = $1 AND user_key = $2`, c.Room.Key, c.Member.User)
		case store.RemoveMember:
			b.Queue(`DELETE FROM members WHERE room = $1 AND user_key = $2`, c.Room.Key, c.Member.User)
			b.Queue(`DELETE FROM roles WHERE room = $1 AND user_key = $2`, c.Room.Key, c.Member.User)
		case store.SetModes:
			b.Queue(`INSERT INTO room_modes (room, secret, topic_lock) VALUES ($1, $2, $3)
				ON CONFLICT (room) DO UPDATE SET secret = EXCLUDED.secret, topic_lock = EXCLUDED.topic_lock`,
				c.Room.Key, c.Room.Secret, c.Room.TopicLock)
		case store.SetRoles:
			if !c.Member.Operator && !c.Member.Voice {
				b.Queue(`DELETE FROM roles WHERE room = $1 AND user_key = $2`, c.Room.Key, c.Member.User)
			} else {
				b.Queue(`INSERT INTO roles (room, user_key, operator, voice) VALUES ($1, $2, $3, $4)
					ON CONFLICT (room, user_key) DO UPDATE SET operator = EXCLUDED.operator, voice = EXCLUDED.voice`,
					c.Room.Key, c.Member.User, c.Member.Operator, c.Member.Voice)
			}
		case store.SetOwner:
			b.Queue(`UPDATE rooms SET owner = $1 WHERE key = $2`, c.Room.Owner, c.Room.Key)
		case store.SetDelivered:
			b.Queue(`UPDATE users SET pm_delivered = GREATEST(pm_delivered, $1) WHERE key = $2`,
				sqlID(c.User.PMDelivered), c.User.Key)
		case store.AddBan:
			b.Queue(`INSERT INTO bans (room, user_key) VALUES ($1, $2) ON CONFLICT DO NOTHING`, c.Room.Key, c.Member.User)
		case store.RemoveBan:
			b.Queue(`DELETE FROM bans WHERE room = $1 AND user_key = $2`, c.Room.Key, c.Member.User)
		case store.SetNick:
			b.Queue(`UPDATE users SET nick = $1 WHERE key = $2`, c.User.Nick, c.User.Key)
		case store.SetRead:
			b.Queue(`INSERT INTO reads (user_key, conv, msg) VALUES ($1, $2, $3)
				ON CONFLICT (user_key, conv) DO UPDATE SET msg = GREATEST(reads.msg, EXCLUDED.msg)`,
				c.Read.User, c.Read.Conv, sqlID(c.Read.Msg))
		case store.SetTopic:
			if c.Room.Topic == "" {
				b.Queue(`DELETE FROM topics WHERE room = $1`, c.Room.Key)
			} else {
				b.Queue(`INSERT INTO topics (room, text, by_name, time) VALUES ($1, $2, $3, $4)
					ON CONFLICT (room) DO UPDATE SET text = EXCLUDED.text, by_name = EXCLUDED.by_name, time = EXCLUDED.time`,
					c.Room.Key, c.Room.Topic, c.Room.TopicBy, ms(c.Room.TopicTime))
			}
		case store.DeleteRoom:
			b.Queue(`DELETE FROM reads WHERE conv = $1`, store.RoomConv(c.Room.Key))
			b.Queue(`DELETE FROM reactions WHERE msg IN (SELECT id FROM messages WHERE conv = $1)`, store.RoomConv(c.Room.Key))
			b.Queue(`DELETE FROM search WHERE msg IN (SELECT id FROM messages WHERE conv = $1)`, store.RoomConv(c.Room.Key))
			b.Queue(`DELETE FROM messages WHERE conv = $1`, store.RoomConv(c.Room.Key))
			b.Queue(`DELETE FROM members WHERE room = $1`, c.Room.Key)
			b.Queue(`DELETE FROM bans WHERE room = $1`, c.Room.Key)
			b.Queue(`DELETE FROM topics WHERE room = $1`, c.Room.Key)
			b.Queue(`DELETE FROM room_modes WHERE room = $1`, c.Room.Key)
			b.Queue(`DELETE FROM roles WHERE room = $1`, c.Room.Key)
			b.Queue(`DELETE FROM rooms WHERE key = $1`, c.Room.Key)
		default:
			return fmt.Errorf("unknown change kind %d", c.Kind)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	fence, term, err := s.fence()
	if err != nil {
		return err
	}
	if fence != "" {
		// The fence goes first, in the same round trip: a write of a
		// term that has passed changes nothing.
		b.QueuedQueries = append([]*pgx.QueuedQuery{{SQL: fence, Arguments: []any{term}}}, b.QueuedQueries...)
	}
	return fenced(pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("write %d changes: %w", len(batch), err)
		}
		return nil
	}))
}

const msgColumns = `id, conv, room, sender, from_name, recipient, to_name, kind, text, file, time, target, recalled, idem, edited, reply_to, react_on, nick`

// searchable reports whether m goes in the search index.
func searchable(m store.Message) bool {
	return store.IsMessage(m.Kind) && !m.Recalled && strings.TrimSpace(m.Text) != ""
}

// notMessages leaves out the log's entries about messages.
const notMessages = `kind NOT IN ('recall', 'edit', 'react')`

// decorate fills in the quotes of msgs that are replies and, with
// reactions, every message's reactions.
func (s *Store) decorate(ctx context.Context, msgs []store.Message, reactions bool) error {
	var replies, all []int64
	for _, m := range msgs {
		if m.ReplyTo != 0 {
			replies = append(replies, sqlID(m.ReplyTo))
		}
		if reactions && store.IsMessage(m.Kind) {
			all = append(all, sqlID(m.ID))
		}
	}
	if len(replies) > 0 {
		quotes := map[uint64]store.Quote{}
		rows, err := s.db.Query(ctx, `SELECT id, from_name, text, kind, recalled FROM messages WHERE id = ANY($1)`, replies)
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
	rows, err := s.db.Query(ctx, `SELECT msg, emoji, user_key, name FROM reactions WHERE msg = ANY($1) ORDER BY msg, seq`, all)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var emoji, user, name string
		if err := rows.Scan(&id, &emoji, &user, &name); err != nil {
			return err
		}
		byMsg[uint64(id)] = store.AddReaction(byMsg[uint64(id)], emoji, user, name)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range msgs {
		msgs[i].Reactions = byMsg[msgs[i].ID]
	}
	return nil
}

func scanMessages(rows pgx.Rows, err error) ([]store.Message, error) {
	if err != nil {
		return nil, err
	}
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
	ms, err := scanMessages(s.db.Query(ctx, query, args...))
	if err != nil {
		return store.Message{}, err
	}
	if len(ms) == 0 {
		return store.Message{}, store.ErrNotFound
	}
	return ms[0], nil
}

func (s *Store) LastID(ctx context.Context) (uint64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM messages`).Scan(&id)
	return uint64(id), err
}

func (s *Store) Message(ctx context.Context, msg uint64) (store.Message, error) {
	m, err := s.one(ctx, `SELECT `+msgColumns+` FROM messages WHERE id = $1`, sqlID(msg))
	if err != nil {
		return m, err
	}
	one := []store.Message{m}
	err = s.decorate(ctx, one, true)
	return one[0], err
}

func (s *Store) LastBy(ctx context.Context, user string, max uint64) (store.Message, error) {
	return s.one(ctx, `SELECT `+msgColumns+` FROM messages
		WHERE sender = $1 AND id <= $2 AND `+notMessages+` ORDER BY id DESC LIMIT 1`, user, sqlID(max))
}

func (s *Store) History(ctx context.Context, conv string, before uint64, limit int) ([]store.Message, error) {
	out, err := scanMessages(s.db.Query(ctx, `SELECT `+msgColumns+` FROM messages
		WHERE conv = $1 AND id < $2 AND `+notMessages+` ORDER BY id DESC LIMIT $3`, conv, sqlID(before), limit))
	if err != nil {
		return nil, err
	}
	slices.Reverse(out)
	return out, s.decorate(ctx, out, true)
}

// sinceArms is the most conversations one of Since's queries reads.
const sinceArms = 200

// Since is a union of index range scans, as in the SQLite store: each
// conversation's by (conv, id) and the user's private messages by
// (sender, id) and (recipient, id), each arm in id order and cut at the
// limit, so that PostgreSQL merges them (a Merge Append) and stops at
// the limit rather than reading a user's whole history and sorting it.
func (s *Store) Since(ctx context.Context, user string, convs []string, after, upto uint64, limit int) ([]store.Message, error) {
	var out []store.Message
	for first := true; first || len(convs) > 0; first = false {
		part := convs[:min(len(convs), sinceArms)]
		convs = convs[len(part):]
		q, args := sinceQuery(user, part, first, after, upto, limit)
		msgs, err := scanMessages(s.db.Query(ctx, q, args...))
		if err != nil {
			return nil, err
		}
		out = store.MergeByID(out, msgs, limit)
	}
	return out, s.decorate(ctx, out, false)
}

func sinceQuery(user string, convs []string, private bool, after, upto uint64, limit int) (string, []any) {
	// $1, $2 and $3 bound every arm; then one parameter per conversation,
	// and the user last. Every parameter must appear in the query.
	args := []any{sqlID(after), sqlID(upto), limit}
	var arms []string
	for _, c := range convs {
		args = append(args, c)
		arms = append(arms, `(SELECT `+msgColumns+` FROM messages WHERE conv = $`+strconv.Itoa(len(args))+
			` AND id > $1 AND id <= $2 ORDER BY id LIMIT $3)`)
	}
	if private {
		args = append(args, user)
		u := `$` + strconv.Itoa(len(args))
		arms = append(arms,
			`(SELECT `+msgColumns+` FROM messages WHERE sender = `+u+` AND room = '' AND id > $1 AND id <= $2 ORDER BY id LIMIT $3)`,
			`(SELECT `+msgColumns+` FROM messages WHERE recipient = `+u+` AND sender != `+u+` AND room = '' AND id > $1 AND id <= $2 ORDER BY id LIMIT $3)`)
	}
	return strings.Join(arms, ` UNION ALL `) + ` ORDER BY id LIMIT $3`, args
}

func (s *Store) PrivateTo(ctx context.Context, user string, after, upto uint64, limit int) ([]store.Message, error) {
	out, err := scanMessages(s.db.Query(ctx, `SELECT `+msgColumns+` FROM messages
		WHERE recipient = $1 AND id > $2 AND id <= $3 AND sender != $1 AND room = '' AND `+notMessages+`
		ORDER BY id LIMIT $4`, user, sqlID(after), sqlID(upto), limit))
	if err != nil {
		return nil, err
	}
	return out, s.decorate(ctx, out, false)
}

// Prune reads the oldest entries in id order and deletes the leading run
// of those older than before.
func (s *Store) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	rows, err := s.db.Query(ctx, `SELECT id, time FROM messages ORDER BY id LIMIT $1`, limit)
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
	err = pgx.BeginFunc(ctx, s.db, func(tx pgx.Tx) error {
		for _, q := range []string{`DELETE FROM reactions WHERE msg <= $1`, `DELETE FROM search WHERE msg <= $1`, `DELETE FROM messages WHERE id <= $1`} {
			if _, err := tx.Exec(ctx, q, last); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	return n, nil
}

func (s *Store) RecentKeys(ctx context.Context, n int) ([]store.Message, error) {
	return scanMessages(s.db.Query(ctx, `SELECT `+msgColumns+` FROM
		(SELECT * FROM messages WHERE idem != '' ORDER BY id DESC LIMIT $1) AS recent ORDER BY id`, n))
}

func (s *Store) Reads(ctx context.Context) ([]store.Read, error) {
	rows, err := s.db.Query(ctx, `SELECT user_key, conv, msg FROM reads ORDER BY user_key, conv`)
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
// count, and the texts that may mention the user (protocol.Mentions
// decides).
func (s *Store) Counts(ctx context.Context, user string, names []string, convs []store.Unread, upto uint64, limit int) ([]store.Count, error) {
	out := make([]store.Count, len(convs))
	// ILIKE narrows the texts to read to those with a name in them. It
	// folds case by the database's locale, which under C folds ASCII
	// only, so a name with other letters (Zoë) is looked for in every
	// unread text.
	patterns := make([]string, 0, len(names))
	for _, n := range names {
		if strings.IndexFunc(n, func(r rune) bool { return r >= 0x80 }) >= 0 {
			patterns = []string{"%"}
			break
		}
		patterns = append(patterns, "%"+strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(n)+"%")
	}
	const where = `conv = $1 AND id > $2 AND id <= $3 AND sender != $4 AND NOT recalled AND ` + notMessages
	for i, u := range convs {
		out[i].Conv = u.Conv
		if u.After == 0 {
			var own int64
			if err := s.db.QueryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM messages WHERE sender = $1 AND conv = $2 AND `+notMessages,
				user, u.Conv).Scan(&own); err != nil {
				return nil, err
			}
			u.After = uint64(own)
		}
		args := []any{u.Conv, sqlID(u.After), sqlID(upto), user}
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM messages WHERE `+where+` LIMIT $5) AS page`,
			append(args, limit)...).Scan(&out[i].Unread); err != nil {
			return nil, err
		}
		if out[i].Unread == 0 || len(patterns) == 0 {
			continue
		}
		rows, err := s.db.Query(ctx, `SELECT text FROM messages WHERE `+where+` AND text ILIKE ANY ($5) ORDER BY id LIMIT $6`,
			append(args, patterns, limit*4)...)
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

// PrivateConvs takes the newest message of each of the user's private
// conversations (DISTINCT ON keeps the first row of each), newest first.
func (s *Store) PrivateConvs(ctx context.Context, user string, upto uint64, limit int) ([]store.Private, error) {
	rows, err := s.db.Query(ctx, `SELECT conv, id, sender, from_name, recipient, to_name FROM (
		SELECT DISTINCT ON (conv) conv, id, sender, from_name, recipient, to_name FROM messages
		WHERE room = '' AND (sender = $1 OR recipient = $1) AND id <= $2 AND `+notMessages+`
		ORDER BY conv, id DESC) AS newest ORDER BY id DESC LIMIT $3`, user, sqlID(upto), limit)
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

// Search matches the index with a query this package builds from the
// words (see query), so nothing typed is tsquery syntax, and reads the
// messages of the matches in the conversations allowed, newest first.
func (s *Store) Search(ctx context.Context, user string, convs []string, private bool, words []string, limit int) ([]store.Message, error) {
	q := query(words)
	if q == "" || len(convs) == 0 && !private {
		return nil, nil
	}
	cols := "m." + strings.ReplaceAll(msgColumns, ", ", ", m.")
	out, err := scanMessages(s.db.Query(ctx, `SELECT `+cols+` FROM search JOIN messages m ON m.id = search.msg
		WHERE search.doc @@ $1::tsquery AND NOT m.recalled
		AND (m.conv = ANY ($2) OR $3 AND m.room = '' AND (m.sender = $4 OR m.recipient = $4))
		ORDER BY m.id DESC LIMIT $5`, q, convs, private, user, limit))
	if err != nil {
		return nil, err
	}
	return out, s.decorate(ctx, out, false)
}
