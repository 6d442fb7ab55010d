package protocol

import "fmt"

// Error codes. Every refusal carries one of these in an error reply's
// "code"; the same codes name the reason in a bye frame when the server
// closes a connection. They are stable: clients and scripts switch on them.
const (
	// Malformed input. The connection stays open.
	CodeBadFrame    = "bad_frame"    // not a JSON object, or no type
	CodeUnknownType = "unknown_type" // a type the server does not know
	CodeBadRequest  = "bad_request"  // a field is missing or has the wrong form
	CodeBadName     = "bad_name"     // a user or room name breaks the name rules
	CodeBadText     = "bad_text"     // empty text, or control characters in it
	CodeTooLong     = "too_long"     // text over the limit

	// Handshake and login.
	CodeBadVersion     = "bad_version"   // the hello's version is not spoken here
	CodeNotLoggedIn    = "not_logged_in" // a request before login
	CodeAlreadyIn      = "already_logged_in"
	CodeBadCredentials = "bad_credentials" // wrong password for a registered name
	CodeBadToken       = "bad_token"       // unknown or expired resume token; log in with the password
	CodeBusy           = "server_busy"     // too many logins at once; retry shortly

	// Rooms, users and messages.
	CodeNoSuchRoom    = "no_such_room"
	CodeNoSuchUser    = "no_such_user"
	CodeNoSuchMessage = "no_such_message"
	CodeNotMember     = "not_member"
	CodeNotOwner      = "not_owner"
	CodeLobby         = "lobby" // the lobby cannot be left and nobody can be kicked from it
	CodeNotYours      = "not_yours"
	CodeRecallExpired = "recall_expired"
	CodeBanned        = "banned"     // the owner kicked you from the room; only they can let you back
	CodeRecalled      = "recalled"   // editing, reacting or replying to a recalled message
	CodeBadEmoji      = "bad_emoji"  // a reaction that is not one emoji
	CodeNameTaken     = "name_taken" // a nick that is someone else's name or nick, or looks like one
	CodeBadSearch     = "bad_search" // a search with no words to look for, or too long

	// Load.
	CodeRateLimited = "rate_limited"

	CodeInternal = "internal"
	// CodeUnavailable says this node of a cluster cannot serve now (it
	// lost its database or its message bus): the request was not
	// processed. Send it again through another node.
	CodeUnavailable = "unavailable"

	// Reasons a server closes a connection, sent in a bye frame.
	CodeFrameTooLarge    = "frame_too_large"
	CodeFlood            = "flood"
	CodeSlowConsumer     = "slow_consumer"
	CodeHandshakeTimeout = "handshake_timeout"
	CodePingTimeout      = "ping_timeout"
	CodeShutdown         = "server_shutdown"
	CodeReplaced         = "replaced"
	CodeQuit             = "quit"
)

// Error is a refusal with a stable code and a message for people.
type Error struct {
	Code    string
	Message string
	// RetryMS, if set, is how long to wait before trying again.
	RetryMS int64
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Frame returns the error reply to request re.
func (e *Error) Frame(re uint64) *Frame {
	return &Frame{Type: TypeError, Re: re, Code: e.Code, Message: e.Message, RetryMS: e.RetryMS}
}
