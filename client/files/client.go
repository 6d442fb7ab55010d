// Package files is the client side of Parley's file server: listing,
// resumable uploads that pick up by themselves after a dropped
// connection, downloads that resume with Range and verify the file's
// SHA-256, and deletes. It also renews the file token through the chat
// session, keeps an index of the file messages seen in chat, and provides
// the /files, /upload, /download and /rm commands.
package files

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Entry is a file or folder in the shared folder.
type Entry struct {
	Name     string    `json:"name"`
	Path     string    `json:"path"`
	Size     int64     `json:"size"`
	Mtime    time.Time `json:"mtime"`
	Dir      bool      `json:"dir"`
	Uploader string    `json:"uploader,omitempty"`
	SHA256   string    `json:"sha256,omitempty"`
}

// Listing is a folder's contents.
type Listing struct {
	Path string `json:"path"`
	// With is the other person of the private space listed; "" for the
	// shared folder.
	With    string  `json:"with,omitempty"`
	Entries []Entry `json:"entries"`
}

// Error is a refusal from the file server, or a failure the client
// detected, with a stable code.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Client-side error codes.
const (
	CodeNoServer  = "no_file_server"
	CodeChecksum  = "checksum_mismatch"
	CodeExists    = "exists"
	CodeLocal     = "local_file"
	CodeGaveUp    = "gave_up"
	CodeBadServer = "bad_reply"
)

// Codes of the file server's 401 replies that the client tells apart.
const (
	// CodeSecretMismatch: the token's signature does not verify with the
	// file server's secret, so the chat server and the file server were
	// given different secrets. A fresh token would fail the same way;
	// the server's message says what to fix.
	CodeSecretMismatch = "secret_mismatch"
	// CodeTokenExpired: the token is out of date; a fresh one is asked
	// for and the request made once more.
	CodeTokenExpired = "token_expired"
)

// Tokens supplies file tokens. With fresh set, it must not return one it
// handed out before: the server refused that one.
type Tokens interface {
	Token(ctx context.Context, fresh bool) (string, error)
}

// Options configure a Client.
type Options struct {
	// BaseURL returns the file server's URL, such as the files_url of
	// the chat server's welcome. It is asked before each request, since
	// it may change when the chat session reconnects.
	BaseURL func() string
	Tokens  Tokens
	// TLS configures HTTPS; nil uses the system's roots.
	TLS *tls.Config
	// User keys the remembered uploads, so people sharing a machine do
	// not resume each other's.
	User string
	// StateDir is where unfinished uploads are remembered so that they
	// resume even after the client restarts; "" remembers nothing.
	StateDir string
	// Progress, if set, is told how every transfer advances; each
	// transfer may also have a Sink of its own.
	Progress func(Progress)
	// ProgressEvery is how often a transfer reports while data moves
	// (default 500ms); it always reports at its start, on a retry and at
	// its end.
	ProgressEvery time.Duration
	// Stall is how long a transfer may move no data before its
	// connection is dropped and retried (default 1m).
	Stall time.Duration
	// Attempts is how many times in a row a transfer may fail without
	// making progress before it gives up (default 8).
	Attempts int
	// MaxBackoff caps the wait between attempts (default 15s).
	MaxBackoff time.Duration
	Logger     *slog.Logger
}

// Client talks to a file server: to its shared folder, or, made with
// Private, to the private space the user shares with one other person.
type Client struct {
	opts Options
	http *http.Client
	log  *slog.Logger

	// sleep waits between attempts.
	sleep func(ctx context.Context, d time.Duration) error

	mu *sync.Mutex // guards the remembered-upload files; shared with Private's clients

	// with is the other person of the private space this client works
	// in, "" for the shared folder.
	with string
}

// New returns a Client.
func New(opts Options) *Client {
	if opts.Stall <= 0 {
		opts.Stall = time.Minute
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 8
	}
	if opts.ProgressEvery <= 0 {
		opts.ProgressEvery = reportEvery
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 15 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       opts.TLS,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute, // the server syncs a large file before it answers
		ExpectContinueTimeout: 5 * time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
		ForceAttemptHTTP2:     opts.TLS != nil,
	}
	return &Client{opts: opts, http: &http.Client{Transport: tr}, log: log, sleep: sleepCtx, mu: new(sync.Mutex)}
}

// Private returns a client for the private space that the user shares
// with the person named with (who may be the user): the file server lets
// only the two of them list, fetch, upload and delete there. It works
// exactly as c does, through the same connections and tokens, with paths
// in that space instead of the shared folder. Private("") is the shared
// folder.
func (c *Client) Private(with string) *Client {
	p := *c
	p.with = with
	return &p
}

// With is the other person of the private space c works in, or "" for
// the shared folder.
func (c *Client) With() string { return c.with }

// Place says where files are, for people: "the shared folder", or "the
// private space you share with bob".
func Place(with string) string {
	if with == "" {
		return "the shared folder"
	}
	return "the private space you share with " + with
}

// space adds to a query the private space c works in, if any.
func (c *Client) space(q url.Values) url.Values {
	if c.with == "" {
		return q
	}
	if q == nil {
		q = url.Values{}
	}
	q.Set("with", c.with)
	return q
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) base() (*url.URL, error) {
	s := ""
	if c.opts.BaseURL != nil {
		s = c.opts.BaseURL()
	}
	if s == "" {
		return nil, &Error{Code: CodeNoServer, Message: "the chat server announces no file server"}
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Code: CodeNoServer, Message: fmt.Sprintf("the file server's address %q is not an http(s) URL", s)}
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// endpoint joins a path (already escaped) to the base URL.
func (c *Client) endpoint(escapedPath string, query url.Values) (string, error) {
	u, err := c.base()
	if err != nil {
		return "", err
	}
	u.RawPath = u.EscapedPath() + escapedPath
	u.Path, _ = url.PathUnescape(u.RawPath)
	u.RawQuery = query.Encode()
	return u.String(), nil
}

// EscapePath percent-encodes each component of a folder path.
func EscapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// do sends a request made by mk with a token, and once more with a fresh
// token if the first is refused as unauthorized (expired, say), except
// when the server says the secrets differ: no token would do then, and
// the refusal is returned as an *Error at once. mk is called for each
// attempt, so it can rewind a body.
func (c *Client) do(ctx context.Context, mk func() (*http.Request, error)) (*http.Response, error) {
	for fresh := false; ; fresh = true {
		req, err := mk()
		if err != nil {
			return nil, err
		}
		if c.opts.Tokens != nil {
			tok, err := c.opts.Tokens.Token(ctx, fresh)
			if err != nil {
				return nil, fmt.Errorf("get a file token: %w", err)
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := c.http.Do(req.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusUnauthorized && !fresh && c.opts.Tokens != nil {
			if e := replyError(resp); e.Code == CodeSecretMismatch {
				return nil, e
			}
			continue
		}
		return resp, nil
	}
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// maxReply bounds the JSON replies the client reads.
const maxReply = 64 << 20

// replyError reads an error reply: the server's JSON error, or for
// replies from elsewhere (a proxy, the tus layer) the status and text.
func replyError(resp *http.Response) *Error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(b, e) == nil && e.Code != "" && e.Message != "" {
		return e
	}
	e.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "_"))
	if e.Code == "" {
		e.Code = fmt.Sprintf("http_%d", resp.StatusCode)
	}
	msg := strings.TrimSpace(string(b))
	if msg == "" || len(msg) > 300 {
		msg = resp.Status
	}
	e.Message = msg
	return e
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	lr := &io.LimitedReader{R: resp.Body, N: maxReply + 1}
	if err := json.NewDecoder(lr).Decode(v); err != nil {
		return &Error{Status: resp.StatusCode, Code: CodeBadServer, Message: fmt.Sprintf("the file server's reply is not what was expected: %v", err)}
	}
	if lr.N <= 0 {
		return &Error{Status: resp.StatusCode, Code: CodeBadServer, Message: "the file server's reply is too large"}
	}
	return nil
}

// requestTimeout bounds the small requests (listing, creating, asking
// for an offset, deleting) from start to the end of the reply. Transfers
// have no such bound; they are cut only when they stall.
const requestTimeout = 2 * time.Minute

// List lists folder sub of the shared folder ("" for the top).
func (c *Client) List(ctx context.Context, sub string) (*Listing, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	q := url.Values{}
	if sub != "" {
		q.Set("path", sub)
	}
	u, err := c.endpoint("/api/files", c.space(q))
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, func() (*http.Request, error) { return http.NewRequest(http.MethodGet, u, nil) })
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, replyError(resp)
	}
	var l Listing
	if err := decodeJSON(resp, &l); err != nil {
		return nil, err
	}
	l.With = c.with
	return &l, nil
}

// Stat describes the file at remote path p, from its folder's listing.
func (c *Client) Stat(ctx context.Context, p string) (*Entry, error) {
	dir := ""
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir = p[:i]
	}
	l, err := c.List(ctx, dir)
	if err != nil {
		return nil, err
	}
	for _, e := range l.Entries {
		if e.Path == p {
			return &e, nil
		}
	}
	return nil, &Error{Status: http.StatusNotFound, Code: "not_found", Message: "no such file in " + Place(c.with) + ": " + p}
}

// Delete deletes remote file p. In the shared folder the file server lets
// its uploader do it, or anyone if it has no uploader (it was copied into
// the folder by hand); in a private space, either of the two. The client
// leaves that to the server.
func (c *Client) Delete(ctx context.Context, p string) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	u, err := c.endpoint("/files/"+EscapePath(p), c.space(nil))
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, func() (*http.Request, error) { return http.NewRequest(http.MethodDelete, u, nil) })
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		return replyError(resp)
	}
	drain(resp)
	return nil
}

// retryable reports whether a failed attempt is worth repeating: the
// network failed or stalled, or the server is restarting or busy. Nothing
// is retried once ctx, the caller's, has ended.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		switch e.Status {
		case http.StatusRequestTimeout, http.StatusConflict, http.StatusLocked, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return e.Code != CodeExists && e.Code != "is_dir" && e.Code != "not_dir"
		}
		return false
	}
	return true // transport errors: refused, reset, timed out, stalled
}
