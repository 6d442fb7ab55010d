// Package event is what the chat hub hands the connections of its
// sessions: typed events, each with a cache of its encodings, one per
// wire format. The hub builds an event once and queues the same event to
// every recipient; each transport encodes it in its own format the first
// time one of its connections queues it, and the others reuse those
// bytes. A room message fanned out to a thousand members that all speak
// NDJSON is encoded once, as it would be with one wire format only.
package event

import (
	"sync/atomic"

	"github.com/parley-chat/parley/shared/protocol"
)

// Kind says what an event is.
type Kind uint8

// The kinds of event.
const (
	Reply    Kind = iota + 1 // ok or error, answering a request
	Message                  // a chat message, live, caught up or from history
	Recall                   // a message was recalled
	Presence                 // users came online or went offline: Batch
	Member                   // someone joined or left a room, or was kicked
	Owner                    // a room has a new owner
	Kicked                   // the session's user was kicked from a room
	Replaced                 // a newer login of the user took over
	Welcome                  // the answer to hello
	Ping                     // the server asks whether the client is there
	Bye                      // the server closes the connection, saying why
	Edit                     // a message's sender changed its text
	React                    // someone put an emoji on a message, or took it back
	Topic                    // a room's topic changed
	Nick                     // a user changed how they are shown
	Typing                   // someone is typing in a conversation; offered, never queued past a backlog
	Mode                     // a room's settings or a member's roles changed
)

var kindNames = [...]string{Reply: "reply", Message: "message", Recall: "recall", Presence: "presence",
	Member: "member", Owner: "owner", Kicked: "kicked", Replaced: "replaced", Welcome: "welcome", Ping: "ping", Bye: "bye",
	Edit: "edit", React: "react", Topic: "topic", Nick: "nick", Typing: "typing", Mode: "mode"}

func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// Format is a wire format; each has a slot in an event's cache.
type Format uint8

// The wire formats.
const (
	NDJSON Format = iota // newline-delimited JSON: TCP and WebSocket
	IRC                  // IRC lines
	formats
)

// Event is one event, or a batch of them of one kind. Its fields are not
// changed once it is queued: it may be shared by many connections and
// encoded by any of them.
type Event struct {
	Kind Kind
	// Frame is the event in the protocol's terms: for a message its id,
	// conversation, sender, text and time; for a reply the request it
	// answers.
	Frame *protocol.Frame
	// Batch, for Presence, holds the changes in the order they happened,
	// and Frame is nil: a wave of logins goes to each session as one
	// event (see the hub's presence batching).
	Batch []*protocol.Frame

	enc [formats]atomic.Pointer[[]byte]
}

// New returns an event of kind k for f.
func New(k Kind, f *protocol.Frame) *Event { return &Event{Kind: k, Frame: f} }

// Frames returns the event's frames: Batch, or Frame alone.
func (e *Event) Frames() []*protocol.Frame {
	if e.Batch != nil {
		return e.Batch
	}
	return []*protocol.Frame{e.Frame}
}

// Encoded returns the event in format f, encoding it with encode the
// first time and returning the same bytes after. It is safe to call
// from several goroutines; two that race may both encode, and one's
// bytes are kept. The bytes must not be changed.
func (e *Event) Encoded(f Format, encode func(*Event) []byte) []byte {
	if p := e.enc[f].Load(); p != nil {
		return *p
	}
	b := encode(e)
	e.enc[f].CompareAndSwap(nil, &b)
	return *e.enc[f].Load()
}

// JSON returns e's NDJSON encoding, cached: one line per frame.
func (e *Event) JSON() []byte { return e.Encoded(NDJSON, encodeJSON) }

func encodeJSON(e *Event) []byte {
	if e.Batch == nil {
		return protocol.Encode(e.Frame)
	}
	var b []byte
	for _, f := range e.Batch {
		b = append(b, protocol.Encode(f)...)
	}
	return b
}

// NewReply returns the reply event for f, an ok or error frame.
func NewReply(f *protocol.Frame) *Event { return New(Reply, f) }

// Error returns the error reply to request re.
func Error(err *protocol.Error, re uint64) *Event { return New(Reply, err.Frame(re)) }
