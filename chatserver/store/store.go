// Package store defines what the chat server keeps: accounts, resume
// tokens, rooms and their members, and the message log. The hub reads state
// through Store and writes every change to rooms and messages as a batch of
// Changes, so that one durable commit covers many requests.
//
// Implementations live in subpackages: sqlite (the default, on disk) and
// inmem (for tests).
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned when a user or token does not exist.
var ErrNotFound = errors.New("not found")

// ErrExists is returned by CreateUser when the name is taken.
var ErrExists = errors.New("already exists")

// User is a registered account.
type User struct {
	Key  string // PRECIS comparison key; the primary key
	Name string // display form, as first registered
	// Hash is the encoded password hash (see the hub's password format).
	Hash string
	// PMDelivered is the id of the last private message to this user that
	// was handed to one of their sessions. Private messages after it are
	// delivered at the next login.
	PMDelivered uint64
	Created     time.Time
	// Nick is how the user is shown, if they chose a name for that (see
	// SetNick); empty shows Name.
	Nick string
}

// Room is a named room with its members in the order they joined.
type Room struct {
	Key     string
	Name    string
	Owner   string // user key; empty when the room has no members
	Members []Member
	// Banned are the keys of users the owner kicked, who may not join
	// again until unbanned.
	Banned  []string
	Created time.Time
	// Topic is the room's topic, set by its owner; TopicBy is the
	// display name of who set it, TopicTime when. Empty when unset.
	Topic     string
	TopicBy   string
	TopicTime time.Time
	// Secret hides the room from those who are not in it, in every
	// listing of rooms. TopicLock lets only the owner and the room's
	// operators set the topic; without it, any member may. A room is
	// created with TopicLock on and Secret off (see SetModes).
	Secret    bool
	TopicLock bool
}

// Member is one user's membership of a room.
type Member struct {
	User string // user key
	Seq  uint64 // increases with each join, so the earliest joiner has the lowest
	// Operator and Voice are the member's roles in the room (see
	// SetRoles); a member who leaves loses them.
	Operator bool
	Voice    bool
}

// Message is one entry of the message log: a chat message, or the recall of
// one. IDs are assigned by the hub, are unique and increase.
type Message struct {
	ID uint64
	// Conv is the conversation key: "#" + room key for a room, or
	// "@" + the two user keys, sorted and joined by a space.
	Conv     string
	Room     string // room key, for room messages
	From     string // sender's user key
	FromName string // sender's display name
	To       string // recipient's user key, for private messages
	ToName   string
	Kind     string // "" for text, "file", or "recall"
	Text     string
	File     string // JSON of the file reference, for file messages
	Time     time.Time
	Target   uint64 // for a recall: the id of the recalled message
	Recalled bool   // the message was recalled: text and file are gone
	Key      string // the sender's idempotency key, if any
	FromNick string // the sender's nick when they sent it, if any
	// Edited marks a message whose text its sender changed (see EditMsg).
	Edited bool
	// ReplyTo is the message this one answers, in the same conversation.
	ReplyTo uint64
	// On, for a reaction entry: the reaction was put on, not taken back.
	On bool
	// Quote is the message ReplyTo as it is now: filled in by History,
	// Since and Message, not stored.
	Quote Quote
	// Reactions are the message's reactions, in the order each emoji was
	// first put on: filled in by History and Message, not stored.
	Reactions []Reaction
}

// Quote is what a reply shows of the message it answers.
type Quote struct {
	From     string // display name of its sender
	Text     string // its text, whole
	Kind     string
	Recalled bool
}

// Reaction is one emoji on a message and who put it there, in order.
type Reaction struct {
	Emoji string
	Users []string // user keys
	Names []string // their display names
}

// IsMessage reports whether a log entry of kind is a message, rather
// than an entry about one (a recall, an edit or a reaction).
func IsMessage(kind string) bool {
	return kind != KindRecall && kind != KindEdit && kind != KindReact
}

// KindRecall marks a log entry that recalls the message Target.
const KindRecall = "recall"

// KindEdit marks a log entry that gives the message Target, sent by the
// same user, the new text Text.
const KindEdit = "edit"

// KindReact marks a log entry that puts the emoji Text on the message
// Target for its sender (On), or takes it back.
const KindReact = "react"

// PrivateConv returns the conversation key of the two users a and b.
func PrivateConv(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "@" + a + " " + b
}

// RoomConv returns the conversation key of a room.
func RoomConv(room string) string { return "#" + room }

// ChangeKind says what a Change does.
type ChangeKind int

// The kinds of change.
const (
	AddMessage   ChangeKind = iota + 1 // append Message
	RecallMsg                          // mark Message.Target recalled, erase its text, append Message
	CreateRoom                         // create Room (key, name, owner, created)
	AddMember                          // add Room.Key / Member
	RemoveMember                       // remove Member.User from Room.Key
	SetOwner                           // set Room.Key's owner to Room.Owner
	SetDelivered                       // raise User.Key's PMDelivered to User.PMDelivered; it never goes down
	AddBan                             // bar Member.User from Room.Key
	RemoveBan                          // lift Member.User's ban from Room.Key
	// DeleteRoom removes Room.Key with its members, bans and every entry
	// of its conversation: a room nobody is in is gone, history and all.
	DeleteRoom
	// EditMsg sets Message.Target's text to Message.Text and marks it
	// edited, and appends Message.
	EditMsg
	// ReactMsg adds Message.From's reaction Message.Text to
	// Message.Target if Message.On, removes it otherwise, and appends
	// Message.
	ReactMsg
	// SetTopic sets Room.Key's topic to Room.Topic, set by Room.TopicBy
	// at Room.TopicTime; an empty Topic clears it.
	SetTopic
	// SetNick sets User.Key's nick to User.Nick (empty: none).
	SetNick
	// SetRead raises Read.User's read position in Read.Conv to Read.Msg;
	// it never goes down.
	SetRead
	// SetModes sets Room.Key's settings to Room.Secret and
	// Room.TopicLock.
	SetModes
	// SetRoles sets the roles of Member.User in Room.Key to
	// Member.Operator and Member.Voice; the user must be a member.
	SetRoles
)

// Read is a user's read position in a conversation: the id of the
// newest message they have seen there.
type Read struct {
	User string // user key
	Conv string
	Msg  uint64
}

// Unread asks for the unread messages of one conversation: those after
// After, up to the read's upper bound.
type Unread struct {
	Conv  string
	After uint64
}

// Count is what Counts found in one conversation: messages from others
// (see IsMessage; not recalled), and how many of them mention the user
// (protocol.Mentions), each at most the limit.
type Count struct {
	Conv             string
	Unread, Mentions int
}

// Private is one of a user's private conversations.
type Private struct {
	Conv     string
	With     string // the other person's key (the user's own, for notes to oneself)
	WithName string
	Last     uint64 // the newest message's id
}

// Change is one write in a batch.
type Change struct {
	Kind    ChangeKind
	Message Message
	Room    Room
	Member  Member
	User    User
	Read    Read
}

// Store is the persistence the chat server needs. Methods are safe for
// concurrent use. Apply is called from one goroutine at a time.
type Store interface {
	// CreateUser registers u, or fails with ErrExists.
	CreateUser(ctx context.Context, u User) error
	// User returns the user with key, or ErrNotFound.
	User(ctx context.Context, key string) (User, error)
	// Users returns every registered user.
	Users(ctx context.Context) ([]User, error)

	// PutToken stores the hash of a resume token for user.
	PutToken(ctx context.Context, hash []byte, user string, expires time.Time) error
	// TokenUser returns the user and expiry of a token hash, or ErrNotFound.
	TokenUser(ctx context.Context, hash []byte) (user string, expires time.Time, err error)
	// DeleteExpiredTokens removes tokens that expired before now.
	DeleteExpiredTokens(ctx context.Context, now time.Time) error

	// Rooms returns every room with its members.
	Rooms(ctx context.Context) ([]Room, error)

	// Apply makes a batch of changes durable, all or nothing. When it
	// returns nil, the changes survive a crash.
	Apply(ctx context.Context, batch []Change) error

	// LastID returns the highest message id in the log, or 0.
	LastID(ctx context.Context) (uint64, error)
	// Message returns the log entry with id, a message with its quote
	// and reactions, or ErrNotFound.
	Message(ctx context.Context, id uint64) (Message, error)
	// LastBy returns the newest message (see IsMessage) sent by user with an
	// id no higher than max, or ErrNotFound.
	LastBy(ctx context.Context, user string, max uint64) (Message, error)
	// History returns up to limit entries of conversation conv with
	// before > id, newest last, with their quotes and reactions. Only
	// messages are returned (see IsMessage).
	History(ctx context.Context, conv string, before uint64, limit int) ([]Message, error)
	// Since returns, oldest first, up to limit entries with after < id <=
	// upto in the given conversations or in any private conversation of
	// user, recall, edit and reaction entries included, messages with
	// their quotes.
	Since(ctx context.Context, user string, convs []string, after, upto uint64, limit int) ([]Message, error)
	// PrivateTo returns, oldest first, up to limit private messages (see
	// IsMessage), with their quotes, sent to user by someone else, with after < id <= upto.
	PrivateTo(ctx context.Context, user string, after, upto uint64, limit int) ([]Message, error)
	// Reads returns every read position.
	Reads(ctx context.Context) ([]Read, error)
	// Counts counts, in each conversation of convs, the messages with
	// After < id <= upto that were not sent by user and are not
	// recalled, and those of them that mention name, each up to limit.
	// An After of 0 is a conversation without a position kept (a
	// database from before they were): the user's own newest message
	// there stands for it.
	// A message mentions the user if it names one of names.
	Counts(ctx context.Context, user string, names []string, convs []Unread, upto uint64, limit int) ([]Count, error)
	// PrivateConvs returns up to limit of user's private conversations
	// with a message (see IsMessage) at most upto, newest first.
	PrivateConvs(ctx context.Context, user string, upto uint64, limit int) ([]Private, error)

	// Search returns, newest first, up to limit messages (see IsMessage;
	// not recalled) whose text has every one of words, as words (in any
	// case; each word of a script written without spaces, such as
	// Chinese, matches where its characters stand in a row), in the
	// conversations convs or, with private, in user's private
	// conversations; with their quotes.
	Search(ctx context.Context, user string, convs []string, private bool, words []string, limit int) ([]Message, error)

	// RecentKeys returns the idempotency keys of the last n keyed messages.
	RecentKeys(ctx context.Context, n int) ([]Message, error)

	// Prune deletes up to limit log entries older than before, oldest
	// first, and returns how many it deleted. It stops at the first entry
	// that is not older, so that a clock set back never costs a scan of
	// the whole log. It may run at the same time as Apply.
	Prune(ctx context.Context, before time.Time, limit int) (int, error)

	Close() error
}
