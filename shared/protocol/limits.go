package protocol

// Default limits. A server may be configured with others; it announces the
// ones in force in its welcome frame.
const (
	// DefaultMaxFrame is the largest frame, in bytes, without the newline.
	// It applies in both directions.
	DefaultMaxFrame = 64 << 10
	// MaxTextBytes is the largest message text, in bytes of UTF-8.
	MaxTextBytes = 4000
	// MaxNameRunes is the longest user or room name, in characters.
	MaxNameRunes = 32
	// MaxKeyBytes is the longest idempotency key.
	MaxKeyBytes = 64
	// MaxPasswordBytes is the longest password.
	MaxPasswordBytes = 1024
	// MaxHistory is the most messages one history request returns.
	MaxHistory = 200
	// MaxQuoteBytes is the most of a message's first line that a reply's
	// quote carries, in bytes of UTF-8.
	MaxQuoteBytes = 200
	// MaxTopicBytes is the longest room topic, in bytes of UTF-8: what
	// an IRC line has room for (TOPICLEN).
	MaxTopicBytes = 390
	// MaxUnread is the most a login reply's unread and mention counts
	// count; a count of MaxUnread means that many or more.
	MaxUnread = 1000
	// MaxPrivate is the most private conversations a login reply lists.
	MaxPrivate = 100
	// MaxSearchBytes is the longest search, in bytes of UTF-8, and
	// SearchResults the most matches one returns.
	MaxSearchBytes = 500
	SearchResults  = 20
)

// Limits is the set of limits a server announces in its welcome frame.
type Limits struct {
	Frame        int `json:"frame"`          // bytes per frame, without the newline
	Text         int `json:"text"`           // bytes per message text
	Name         int `json:"name"`           // characters per user or room name
	History      int `json:"history"`        // messages per history request
	RecallSecs   int `json:"recall_secs"`    // how long a sender may recall a message
	PingSecs     int `json:"ping_secs"`      // the server pings after this much silence
	RatePerSec   int `json:"rate"`           // sustained requests per second
	RateBurst    int `json:"burst"`          // requests allowed in a burst
	ResumeSecs   int `json:"resume_secs"`    // how long a resume token stays valid
	FilesTTLSecs int `json:"files_ttl_secs"` // how long a file-access token stays valid
}
