// Package api is the file server's HTTP interface, routed with
// gorilla/mux. The routes are a contract with clients:
//
//	GET    /healthz                 liveness, no token needed
//	GET    /api/files[?path=SUB]    JSON listing of a folder
//	GET    /api/events              server-sent events: created, removed, changed
//	GET    /files/{path}            download, with Range, ETag and If-None-Match
//	PUT    /files/{path}            streamed upload; ?overwrite=1 replaces
//	DELETE /files/{path}            delete a file, by its uploader, or an empty folder, by its creator
//	       /uploads/                resumable uploads, tus 1.0
//
// ?with=NAME on the listing and the /files/ routes (tus: metadata "with")
// addresses the private space of the token's user and NAME instead of
// the shared folder; the event stream never shows private files.
//
// Every route but /healthz needs a bearer token from the chat server; with
// public reads on, listing, downloading and events do not.
package api

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/parley-chat/parley/fileserver/auth"
	"github.com/parley-chat/parley/fileserver/folder"
	"github.com/parley-chat/parley/fileserver/httperr"
	"github.com/parley-chat/parley/fileserver/metrics"
	"github.com/parley-chat/parley/fileserver/uploads"
	"github.com/parley-chat/parley/fileserver/watch"
)

// Headers a client may send with a PUT to have the body's SHA-256
// checked: the standard Repr-Digest (RFC 9530, "sha-256=:BASE64:"), or
// the hex digest in SHA256Header.
const (
	ReprDigestHeader = "Repr-Digest"
	SHA256Header     = "X-Parley-Sha256"
)

// UploadsPath is where the tus endpoint is mounted.
const UploadsPath = "/uploads/"

// Config configures the API.
type Config struct {
	Folder  *folder.Folder
	Watcher *watch.Watcher
	Uploads *uploads.Manager
	Auth    *auth.Checker
	// MaxSize is the per-file limit, announced to tus clients.
	MaxSize int64
	// Stall is how long a transfer may make no progress, reading or
	// writing, before its connection is closed (default 1m).
	Stall time.Duration
	// Heartbeat is how often an idle event stream gets a comment line,
	// which keeps proxies from closing it and finds dead readers
	// (default 25s).
	Heartbeat time.Duration
	// MaxStreams is how many event streams one person (or, without a
	// token, one address) may have open at once; 0 means no limit.
	MaxStreams int
	// Metrics, if set, counts every request, and is served at /metrics.
	Metrics *metrics.Metrics
	Logger  *slog.Logger
}

type api struct {
	cfg Config
	f   *folder.Folder
	w   *watch.Watcher
	up  *uploads.Manager
	log *slog.Logger

	// streams counts the open event streams by person (name key) or,
	// for anonymous ones, by address.
	smu     sync.Mutex
	streams map[string]int
}

// New returns the API's handler.
func New(cfg Config) (http.Handler, error) {
	if cfg.Stall <= 0 {
		cfg.Stall = time.Minute
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 25 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &api{cfg: cfg, f: cfg.Folder, w: cfg.Watcher, up: cfg.Uploads, log: cfg.Logger, streams: map[string]int{}}
	tus, err := cfg.Uploads.TusHandler(UploadsPath)
	if err != nil {
		return nil, fmt.Errorf("tus handler: %w", err)
	}
	read := func(h http.HandlerFunc) http.Handler { return cfg.Auth.Require(true, h) }
	write := func(h http.HandlerFunc) http.Handler { return cfg.Auth.Require(false, h) }

	r := mux.NewRouter()
	// Match on the path as sent, so that an encoded slash stays visible
	// and is refused rather than decoded into a separator, and never
	// "clean" a path by redirecting: a bad path is an error.
	r.UseEncodedPath()
	r.SkipClean(true)
	r.NotFoundHandler = a.common(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httperr.WriteError(w, httperr.New(http.StatusNotFound, httperr.CodeNotFound, "no such route: %s %s", r.Method, r.URL.EscapedPath()))
	}))
	r.MethodNotAllowedHandler = a.common(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httperr.WriteError(w, httperr.New(http.StatusMethodNotAllowed, httperr.CodeMethod, "%s is not allowed on %s", r.Method, r.URL.EscapedPath()))
	}))

	r.Handle("/healthz", http.HandlerFunc(a.healthz)).Methods(http.MethodGet, http.MethodHead)
	if m := cfg.Metrics; m != nil {
		r.Handle("/metrics", m.Handler()).Methods(http.MethodGet)
		r.Use(func(next http.Handler) http.Handler { return m.Count(routeOf, next) })
		r.NotFoundHandler = m.Count(func(*http.Request) string { return "unknown" }, r.NotFoundHandler)
		r.MethodNotAllowedHandler = m.Count(routeOf, r.MethodNotAllowedHandler)
	}
	r.Handle("/api/files", read(a.list)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/api/events", read(a.events)).Methods(http.MethodGet)
	r.Handle("/files/{path:.+}", read(a.download)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/files/{path:.+}", write(a.put)).Methods(http.MethodPut)
	r.Handle("/files/{path:.+}", write(a.remove)).Methods(http.MethodDelete)
	r.PathPrefix(UploadsPath).Handler(a.tusGate(http.StripPrefix(strings.TrimSuffix(UploadsPath, "/"), tus)))
	r.Handle(strings.TrimSuffix(UploadsPath, "/"), a.tusGate(http.StripPrefix(strings.TrimSuffix(UploadsPath, "/"), tus)))
	r.Use(a.common)
	return r, nil
}

// routeOf is the route that matched r, as its template (/files/{path},
// not the path asked for), for metrics.
func routeOf(r *http.Request) string {
	if rt := mux.CurrentRoute(r); rt != nil {
		if t, err := rt.GetPathTemplate(); err == nil {
			return t
		}
	}
	return "unknown"
}

// common sets the headers every reply has and the default deadlines:
// a request that reads or writes nothing for the stall time is ended.
// Handlers that stream push their deadlines on as data moves.
func (a *api) common(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		now := time.Now()
		rc.SetReadDeadline(now.Add(a.cfg.Stall))
		rc.SetWriteDeadline(now.Add(a.cfg.Stall))
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// WithParam is the query parameter that addresses the private space of
// the token's user and the person it names, instead of the shared folder.
const WithParam = "with"

// space is the space a request addresses: the shared folder, or with
// ?with=NAME the private space of the token's user and NAME.
func space(r *http.Request, f *folder.Folder) (*folder.Space, error) {
	q := r.URL.Query()
	if !q.Has(WithParam) {
		return f.Shared(), nil
	}
	if len(q[WithParam]) > 1 {
		return nil, httperr.New(http.StatusBadRequest, httperr.CodeBadName, "give %s= once: a private space is shared by two people", WithParam)
	}
	user := auth.User(r.Context())
	if user == "" {
		return nil, httperr.New(http.StatusUnauthorized, httperr.CodeUnauthorized, "a private space needs a file token: send Authorization: Bearer TOKEN")
	}
	return f.PrivateFor(user, q.Get(WithParam))
}

// pathVar returns the checked, decoded {path} of a request.
func pathVar(r *http.Request) (string, error) {
	return folder.CheckEscapedPath(mux.Vars(r)["path"])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		httperr.WriteError(w, httperr.New(http.StatusInternalServerError, httperr.CodeInternal, "encode reply"))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// healthz answers in constant time, whatever the folder holds: it
// reads no directory (see folder.Check).
func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	if err := a.f.Check(); err != nil {
		a.log.Error("health check failed", "err", err)
		httperr.WriteError(w, httperr.New(http.StatusServiceUnavailable, httperr.CodeUnavailable, "the file server cannot use its folders; its log says why"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// Listing is the reply to GET /api/files.
type Listing struct {
	Path    string         `json:"path"`
	Entries []folder.Entry `json:"entries"`
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	sp, err := space(r, a.f)
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	sub := r.URL.Query().Get("path")
	entries, err := sp.List(sub)
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	shown := entries[:0]
	for _, e := range entries {
		// Only the shared folder is written to by other means.
		if sp.IsPrivate() || !a.w.Busy(e.Path) {
			shown = append(shown, e)
		}
	}
	writeJSON(w, http.StatusOK, Listing{Path: sub, Entries: shown})
}

func (a *api) download(w http.ResponseWriter, r *http.Request) {
	p, err := pathVar(r)
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	sp, err := space(r, a.f)
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	if !sp.IsPrivate() && a.w.Busy(p) {
		httperr.WriteError(w, httperr.New(http.StatusNotFound, httperr.CodeBusy, "%s is still being written; it appears once complete", p))
		return
	}
	f, e, err := sp.Open(p)
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("ETag", ETag(e))
	if e.SHA256 != "" {
		if sum, err := hex.DecodeString(e.SHA256); err == nil {
			h.Set(ReprDigestHeader, "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
		}
	}
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": e.Name}))
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Cache-Control", "no-cache")
	http.ServeContent(&stallWriter{ResponseWriter: w, rc: http.NewResponseController(w), stall: a.cfg.Stall}, r, e.Name, e.Mtime, f)
}

// ETag is a file's entity tag: its SHA-256 when known, else its size and
// modification time, which change whenever its content does.
func ETag(e folder.Entry) string {
	if e.SHA256 != "" {
		return `"` + e.SHA256 + `"`
	}
	return `"` + strconv.FormatInt(e.Size, 36) + "-" + strconv.FormatInt(e.Mtime.UnixNano(), 36) + `"`
}

func (a *api) put(w http.ResponseWriter, r *http.Request) {
	p, err := pathVar(r)
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	want, err := ParseSHA256(r.Header)
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	sp, err := space(r, a.f)
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	rc := http.NewResponseController(w)
	body := &stallReader{r: r.Body, rc: rc, stall: a.cfg.Stall}
	e, replaced, err := a.up.Put(r.Context(), uploads.Put{
		Space:     sp,
		Path:      p,
		User:      auth.User(r.Context()),
		Overwrite: overwrite(r),
		Length:    r.ContentLength,
		SHA256:    want,
		Body:      body,
	})
	rc.SetWriteDeadline(time.Now().Add(a.cfg.Stall))
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	status := http.StatusCreated
	if replaced {
		status = http.StatusOK
	}
	loc := "/files/" + EscapePath(e.Path)
	if sp.IsPrivate() {
		loc += "?" + url.Values{WithParam: {r.URL.Query().Get(WithParam)}}.Encode()
	}
	w.Header().Set("Location", loc)
	w.Header().Set("ETag", ETag(e))
	writeJSON(w, status, e)
}

func overwrite(r *http.Request) bool {
	v := r.URL.Query().Get("overwrite")
	return v == "1" || v == "true"
}

// EscapePath percent-encodes each component of a folder path.
func EscapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// ParseSHA256 returns the hex SHA-256 a request announces for its body,
// from Repr-Digest or X-Parley-Sha256, or "" if it announces none.
func ParseSHA256(h http.Header) (string, error) {
	if v := strings.TrimSpace(h.Get(SHA256Header)); v != "" {
		v = strings.ToLower(v)
		if b, err := hex.DecodeString(v); err != nil || len(b) != 32 {
			return "", httperr.New(http.StatusBadRequest, httperr.CodeBadRequest, "%s must be 64 hexadecimal digits", SHA256Header)
		}
		return v, nil
	}
	v := h.Get(ReprDigestHeader)
	if v == "" {
		return "", nil
	}
	sum, ok, err := ParseReprDigest(v)
	if err != nil {
		return "", httperr.New(http.StatusBadRequest, httperr.CodeBadRequest, "malformed %s: %v", ReprDigestHeader, err)
	}
	if !ok {
		return "", nil // only algorithms we do not check
	}
	return hex.EncodeToString(sum), nil
}

// ParseReprDigest finds the sha-256 member of a Repr-Digest field value
// (RFC 9530: a dictionary of algorithm=:base64:). ok is false if there is
// none.
func ParseReprDigest(v string) (sum []byte, ok bool, err error) {
	for member := range strings.SplitSeq(v, ",") {
		member = strings.TrimSpace(member)
		if member == "" {
			continue
		}
		alg, val, found := strings.Cut(member, "=")
		if !found {
			return nil, false, fmt.Errorf("member %q has no value", member)
		}
		if i := strings.IndexByte(val, ';'); i >= 0 {
			val = val[:i] // parameters are allowed and ignored
		}
		if strings.ToLower(strings.TrimSpace(alg)) != "sha-256" {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) < 2 || val[0] != ':' || val[len(val)-1] != ':' {
			return nil, false, fmt.Errorf("sha-256 value is not a byte sequence (:BASE64:)")
		}
		b, err := base64.StdEncoding.DecodeString(val[1 : len(val)-1])
		if err != nil || len(b) != 32 {
			return nil, false, fmt.Errorf("sha-256 value is not 32 bytes of base64")
		}
		return b, true, nil
	}
	return nil, false, nil
}

func (a *api) remove(w http.ResponseWriter, r *http.Request) {
	p, err := pathVar(r)
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	sp, err := space(r, a.f)
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	user := auth.User(r.Context())
	e, err := sp.Remove(p, user)
	if err != nil {
		httperr.Write(w, r, a.log, err)
		return
	}
	a.log.Info("deleted", "path", e.Path, "user", user, "private", sp.IsPrivate())
	w.WriteHeader(http.StatusNoContent)
}

// tusGate puts the token check and the ownership check in front of the
// tus handler. OPTIONS, the protocol's discovery request, needs no token.
func (a *api) tusGate(tus http.Handler) http.Handler {
	owned := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := strings.Trim(strings.TrimPrefix(r.URL.Path, UploadsPath), "/")
		if id != "" {
			owner, err := a.up.Owner(id)
			if err == nil && !sameUser(owner, auth.User(r.Context())) {
				httperr.WriteError(w, httperr.New(http.StatusForbidden, httperr.CodeForbidden, "this upload belongs to someone else"))
				return
			}
		}
		tus.ServeHTTP(w, r)
	})
	gated := a.cfg.Auth.Require(false, owned)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.MaxSize > 0 {
			w.Header().Set("Tus-Max-Size", strconv.FormatInt(a.cfg.MaxSize, 10))
		}
		if r.Method == http.MethodOptions {
			tus.ServeHTTP(w, r)
			return
		}
		gated.ServeHTTP(w, r)
	})
}

func sameUser(a, b string) bool {
	return folder.SameUser(a, b)
}

// stallReader pushes the connection's read deadline on each time data
// arrives, so a body may take as long as it needs while it moves, and a
// stalled one ends.
type stallReader struct {
	r     io.Reader
	rc    *http.ResponseController
	stall time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.rc.SetReadDeadline(time.Now().Add(s.stall))
	}
	return n, err
}

// stallWriter pushes the write deadline on before each write. It keeps
// the ResponseWriter's ReadFrom, so a download still goes out with
// sendfile: the file is handed over in chunks, each with a fresh
// deadline.
type stallWriter struct {
	http.ResponseWriter
	rc    *http.ResponseController
	stall time.Duration
}

// sendChunk is how much of a file goes out under one write deadline.
const sendChunk = 4 << 20

func (s *stallWriter) Write(p []byte) (int, error) {
	s.rc.SetWriteDeadline(time.Now().Add(s.stall))
	return s.ResponseWriter.Write(p)
}

func (s *stallWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *stallWriter) ReadFrom(src io.Reader) (int64, error) {
	rf, ok := s.ResponseWriter.(io.ReaderFrom)
	if !ok {
		return io.Copy(struct{ io.Writer }{s}, src)
	}
	limit := int64(-1)
	if lr, ok := src.(*io.LimitedReader); ok {
		src, limit = lr.R, lr.N
	}
	var total int64
	for limit != 0 {
		n := int64(sendChunk)
		if limit > 0 {
			n = min(n, limit)
		}
		s.rc.SetWriteDeadline(time.Now().Add(s.stall))
		k, err := rf.ReadFrom(&io.LimitedReader{R: src, N: n})
		total += k
		if limit > 0 {
			limit -= k
		}
		if err != nil || k < n {
			return total, err
		}
	}
	return total, nil
}
