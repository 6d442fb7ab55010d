// Package protocol is Parley's wire format: newline-delimited JSON frames,
// their types and fields, the limits both sides enforce, the error codes
// every refusal carries, and the rules for names. It opens no sockets and
// makes no policy decisions; shared/PROTOCOL.md is its specification.
package protocol

// Version is the protocol version this package speaks. A server refuses a
// hello with any other version.
const Version = 1

// Frame types. A request is any frame a client sends with an "id"; it gets
// exactly one reply, TypeOK or TypeError, whose "re" is that id. Every other
// frame a server sends is an event.
const (
	// Handshake.
	TypeHello   = "hello"   // client → server, first frame
	TypeWelcome = "welcome" // server → client, answer to hello

	// Requests (client → server).
	TypeLogin   = "login"
	TypeJoin    = "join"
	TypeLeave   = "leave"
	TypeRooms   = "rooms"
	TypeWho     = "who"
	TypeSend    = "send"
	TypeHistory = "history"
	TypeRecall  = "recall" // also an event
	TypeKick    = "kick"
	// TypeUnban lets a member the owner kicked join the room again.
	TypeUnban = "unban"
	// TypeTopic sets a room's topic (the owner and the room's operators,
	// or any member of a room without topic_lock); also the event that
	// tells the room.
	TypeTopic = "topic"
	// TypeMode changes a room's settings (secret, topic_lock) or a
	// member's roles (operator, voice); also the event that tells the
	// room.
	TypeMode = "mode"
	// TypeOper makes the session a server operator, with an operator's
	// name and password from the server's configuration.
	TypeOper = "oper"
	// TypeFilesToken asks for a fresh file-access token before the one
	// from login expires.
	TypeFilesToken = "files_token"
	// TypeSync fetches the rest of a login's catch-up that was cut short.
	TypeSync = "sync"
	// TypeEdit changes the text of one's own message; also an event.
	TypeEdit = "edit"
	// TypeReact puts an emoji on a message, or takes it back; also an
	// event.
	TypeReact = "react"
	// TypeRead moves the user's read position in a conversation.
	TypeRead = "read"
	// TypeNick changes how the user is shown; also an event.
	TypeNick = "nick"
	// TypeSearch finds messages by their words.
	TypeSearch = "search"
	// TypeTyping says the user is typing in a conversation: sent by a
	// client without an id and never answered, and sent on by the server
	// as an event.
	TypeTyping = "typing"
	TypePing   = "ping" // also sent by the server, which expects TypePong
	TypePong   = "pong"
	TypeQuit   = "quit"

	// Replies (server → client).
	TypeOK    = "ok"
	TypeError = "error"

	// Events (server → client).
	TypeMessage  = "message"
	TypePresence = "presence"
	TypeMember   = "member"
	TypeOwner    = "owner"
	TypeKicked   = "kicked"
	TypeReplaced = "replaced"
	TypeBye      = "bye"
)

// Message kinds.
const (
	KindText = "" // the default; omitted on the wire
	KindFile = "file"
	// KindNotice is a text message that asks not to be answered
	// automatically: IRC's NOTICE, which bots send. Clients show it as
	// text.
	KindNotice = "notice"
	// KindAction is an action, sent with /me: "* alice waves".
	KindAction = "action"
)

// Presence statuses.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// Member actions.
const (
	ActionJoin  = "join"
	ActionLeave = "leave"
	ActionKick  = "kick"
)

// Lobby is the room every user belongs to. It cannot be left.
const Lobby = "lobby"

// Frame is one protocol frame. Which fields are meaningful depends on Type;
// PROTOCOL.md lists them for each type. Unknown fields are ignored, so newer
// peers can add fields without breaking older ones.
type Frame struct {
	Type string `json:"type"`
	// ID is the request id on a request (chosen by the client, non-zero),
	// and the message id on message and recall events (assigned by the
	// server, increasing).
	ID uint64 `json:"id,omitempty"`
	// Re is the request id that an ok or error reply answers.
	Re uint64 `json:"re,omitempty"`

	// hello, welcome
	Version  int     `json:"version,omitempty"`
	Client   string  `json:"client,omitempty"`
	Server   string  `json:"server,omitempty"`
	Limits   *Limits `json:"limits,omitempty"`
	FilesURL string  `json:"files_url,omitempty"`
	// Nodes, on welcome, are the nodes of the cluster the server belongs
	// to, itself included: where a client may reconnect and resume if
	// this node goes away.
	Nodes []Node `json:"nodes,omitempty"`

	// login and its reply
	Name     string `json:"name,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	// Since, on a login, is the last message id the client saw; on the
	// login's reply, the id up to which the login's catch-up brings it.
	Since uint64 `json:"since,omitempty"`
	// Resume marks a login that continues an earlier session: it gets
	// every message after Since instead of recent history.
	Resume bool `json:"resume,omitempty"`
	// NoTakeover, in a login, refuses it with name_taken while the name
	// is online, rather than taking the older session over.
	NoTakeover bool   `json:"no_takeover,omitempty"`
	FilesToken string `json:"files_token,omitempty"`
	Expires    int64  `json:"expires,omitempty"` // unix milliseconds

	// conversations and messages
	Room     string `json:"room,omitempty"`
	To       string `json:"to,omitempty"`
	From     string `json:"from,omitempty"`
	Text     string `json:"text,omitempty"`
	Kind     string `json:"kind,omitempty"`
	File     *File  `json:"file,omitempty"`
	Key      string `json:"key,omitempty"`  // idempotency key of a send
	Time     int64  `json:"time,omitempty"` // unix milliseconds, server clock
	Msg      uint64 `json:"msg,omitempty"`  // the message a recall or a reply refers to
	Recalled bool   `json:"recalled,omitempty"`
	History  bool   `json:"history,omitempty"`
	Before   uint64 `json:"before,omitempty"`
	Limit    int    `json:"limit,omitempty"`
	// Search marks a message sent as a match of a search request.
	Search bool `json:"search,omitempty"`
	// Edited marks a message whose text was changed by its sender.
	Edited bool `json:"edited,omitempty"`
	// ReplyTo, on a send and on a message, is the message it answers;
	// Quote is that message's sender and first line.
	ReplyTo uint64 `json:"reply_to,omitempty"`
	Quote   *Quote `json:"quote,omitempty"`
	// Emoji and On, on a react request and event: which emoji, and
	// whether it was put on (true) or taken back.
	Emoji string `json:"emoji,omitempty"`
	On    bool   `json:"on,omitempty"`
	// Reactions, on a message from history, are its reactions.
	Reactions []Reaction `json:"reactions,omitempty"`
	// Nick, on a nick request and event, a login reply, a message and a
	// who entry: the name the user chose to be shown by (see Name for
	// their login name).
	Nick string `json:"nick,omitempty"`
	// ClientTags, on a send from the IRC door and on its live message
	// event, are the IRC client-only tags (+name: value) the sender
	// attached, which the door passes on to IRC clients that enabled
	// message-tags. They are never on the wire and never stored.
	ClientTags map[string]string `json:"-"`
	// Private, on the login reply: the user's private conversations,
	// the newest first.
	Private []PrivateInfo `json:"private,omitempty"`

	// presence, member, owner, kicked
	Status string `json:"status,omitempty"`
	Action string `json:"action,omitempty"`
	By     string `json:"by,omitempty"`
	Owner  string `json:"owner,omitempty"`

	// topic: the room's topic in a join reply, with who set it and when
	// (unix milliseconds); a topic event carries it in Text, By and Time.
	Topic     string `json:"topic,omitempty"`
	TopicBy   string `json:"topic_by,omitempty"`
	TopicTime int64  `json:"topic_time,omitempty"`

	// mode: on a mode request and event, the room settings and, with
	// Name, the member roles it sets; a field left out is not changed.
	// The join reply carries the room's settings in Secret and
	// TopicLock.
	Secret    *bool `json:"secret,omitempty"`
	TopicLock *bool `json:"topic_lock,omitempty"`
	Operator  *bool `json:"operator,omitempty"`
	Voice     *bool `json:"voice,omitempty"`

	// error, bye
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// RetryMS, on a rate_limited or server_busy error, is how long to
	// wait before trying again, in milliseconds.
	RetryMS int64 `json:"retry_ms,omitempty"`

	// reply payloads
	Rooms   []RoomInfo   `json:"rooms,omitempty"`
	Members []MemberInfo `json:"members,omitempty"`
	More    int          `json:"more,omitempty"` // entries left out to keep the frame under the limit
	// Banned, in a who reply to a room's owner, lists the people kicked
	// from it who may not join again until unbanned.
	Banned []string `json:"banned,omitempty"`
}

// Node is one node of a cluster of chat servers: its address for the
// terminal client (host:port of the TCP door) and the URL of its HTTP
// door (http:// or https://, where the web client and /ws are). Either
// may be empty if the node has no such door.
type Node struct {
	TCP  string `json:"tcp,omitempty"`
	HTTP string `json:"http,omitempty"`
}

// File describes a file that a file message points to: in the shared
// folder, or, with Private, in the private space of the message's two
// people, which the file server lets only them list, fetch and delete.
type File struct {
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	Path    string `json:"path"`
	SHA256  string `json:"sha256,omitempty"`
	Private bool   `json:"private,omitempty"`
}

// Quote is the part of a message shown above a reply to it: its sender
// and the first line of its text (at most MaxQuoteBytes), or Recalled.
type Quote struct {
	From     string `json:"from"`
	Text     string `json:"text,omitempty"`
	Kind     string `json:"kind,omitempty"`
	Recalled bool   `json:"recalled,omitempty"`
}

// Reaction is one emoji on a message: how many put it there, and who,
// in the order they did.
type Reaction struct {
	Emoji string   `json:"emoji"`
	Count int      `json:"count"`
	Names []string `json:"names"`
}

// RoomInfo is one entry of a rooms reply, and of the login reply's list of
// the rooms the user belongs to.
type RoomInfo struct {
	Name    string `json:"name"`
	Members int    `json:"members"`
	Owner   string `json:"owner,omitempty"`
	Joined  bool   `json:"joined,omitempty"`
	Topic   string `json:"topic,omitempty"`
	// Secret rooms are listed only to their members; TopicLock says
	// that only the owner and operators set the topic.
	Secret    bool `json:"secret,omitempty"`
	TopicLock bool `json:"topic_lock,omitempty"`
	// Unread and Mentions, in the login reply: messages from others
	// after the user's read position, and how many of them name the
	// user; both count up to MaxUnread.
	Unread   int `json:"unread,omitempty"`
	Mentions int `json:"mentions,omitempty"`
}

// PrivateInfo is one of the user's private conversations in the login
// reply: the other person, whether they are online, the newest message's
// id (Last), and the counts as in RoomInfo.
type PrivateInfo struct {
	Name     string `json:"name"`
	Online   bool   `json:"online"`
	Last     uint64 `json:"last"`
	Unread   int    `json:"unread,omitempty"`
	Mentions int    `json:"mentions,omitempty"`
}

// MemberInfo is one entry of a who reply.
type MemberInfo struct {
	Name   string `json:"name"`
	Online bool   `json:"online"`
	Owner  bool   `json:"owner,omitempty"`
	Nick   string `json:"nick,omitempty"`
	// Operator and Voice are the member's roles in the room; the owner
	// is always an operator. ServerOperator marks a session that is a
	// server operator (see TypeOper).
	Operator       bool `json:"operator,omitempty"`
	Voice          bool `json:"voice,omitempty"`
	ServerOperator bool `json:"server_operator,omitempty"`
}

// IsRequest reports whether a frame of type t sent by a client is a request
// that must carry an id and gets exactly one reply.
func IsRequest(t string) bool {
	switch t {
	case TypeLogin, TypeJoin, TypeLeave, TypeRooms, TypeWho, TypeSend,
		TypeHistory, TypeRecall, TypeKick, TypeUnban, TypeTopic, TypePing, TypeQuit, TypeFilesToken, TypeSync,
		TypeEdit, TypeReact, TypeRead, TypeNick, TypeSearch, TypeMode, TypeOper:
		return true
	}
	return false
}
