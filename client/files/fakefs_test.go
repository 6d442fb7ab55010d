package files_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/shared/filetoken"
)

// fakeFS is a file server that keeps files in memory and answers as the
// file server's contract says: a shared folder, and a private space for
// each pair of users, named on each request by with=NAME (the tus
// metadata key with on POST /uploads/), that only the two can reach;
// 401 replies say secret_mismatch when a token's signature does not
// verify and token_expired when it is out of date. It stands in for the
// parts of the contract the real file server does not have yet. Folders
// are not modelled: paths are flat names.
type fakeFS struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server

	mu      sync.Mutex
	spaces  map[string]map[string]*fakeFile // space key → path → file
	uploads map[string]*fakeUpload
	next    int
	reqs    []string // "METHOD path?query" of every request, in order
	denied  int      // 401 replies sent
}

type fakeFile struct {
	data     []byte
	uploader string // "" for a file copied in by hand
	mtime    time.Time
}

type fakeUpload struct {
	space, path, sha, user string
	overwrite              bool
	size                   int64
	data                   bytes.Buffer
}

func newFakeFS(t *testing.T, secret []byte) *fakeFS {
	f := &fakeFS{t: t, secret: secret, spaces: map[string]map[string]*fakeFile{}, uploads: map[string]*fakeUpload{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/files", f.auth(f.list))
	mux.HandleFunc("GET /files/{path...}", f.auth(f.get))
	mux.HandleFunc("HEAD /files/{path...}", f.auth(f.get))
	mux.HandleFunc("DELETE /files/{path...}", f.auth(f.delete))
	mux.HandleFunc("POST /uploads/", f.auth(f.create))
	mux.HandleFunc("HEAD /uploads/{id}", f.auth(f.offset))
	mux.HandleFunc("PATCH /uploads/{id}", f.auth(f.patch))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeFS) url() string { return f.srv.URL }

func (f *fakeFS) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.reqs...)
}

// refusals counts the 401 replies sent.
func (f *fakeFS) refusals() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.denied
}

// put adds a file as if it were there already; uploader "" is a file
// copied into the folder by hand.
func (f *fakeFS) put(space, path string, data []byte, uploader string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.space(space)[path] = &fakeFile{data: data, uploader: uploader, mtime: time.Now()}
}

func (f *fakeFS) file(space, path string) *fakeFile {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.spaces[space][path]
}

func (f *fakeFS) space(key string) map[string]*fakeFile {
	s := f.spaces[key]
	if s == nil {
		s = map[string]*fakeFile{}
		f.spaces[key] = s
	}
	return s
}

// pairKey names the private space of two users: the same whichever of
// them asks, and different from every other pair's.
func pairKey(a, b string) string {
	p := []string{strings.ToLower(a), strings.ToLower(b)}
	sort.Strings(p)
	return "private:" + p[0] + "+" + p[1]
}

func fail(w http.ResponseWriter, status int, code, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"code": code, "message": fmt.Sprintf(format, args...)})
}

type handler func(w http.ResponseWriter, r *http.Request, user, space string)

// auth checks the bearer token and works out the space the request is
// about: the shared folder, or with=NAME's private space.
func (f *fakeFS) auth(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Method+" "+r.URL.RequestURI())
		f.mu.Unlock()
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			fail(w, http.StatusUnauthorized, "unauthorized", "no file token")
			return
		}
		user, err := filetoken.Verify(f.secret, tok, time.Now())
		if err != nil {
			f.mu.Lock()
			f.denied++
			f.mu.Unlock()
			switch {
			case errors.Is(err, jwt.ErrTokenSignatureInvalid):
				fail(w, http.StatusUnauthorized, "secret_mismatch", "the token was signed with another secret: the chat server and the file server must be given the same secret file (-secret-file) or $PARLEY_SECRET")
			case errors.Is(err, jwt.ErrTokenExpired):
				fail(w, http.StatusUnauthorized, "token_expired", "the file token has expired; ask the chat server for a new one")
			default:
				fail(w, http.StatusUnauthorized, "unauthorized", "the file token was refused: %v", err)
			}
			return
		}
		with := r.URL.Query().Get("with")
		if r.Method == http.MethodPost {
			with = tusMetadata(r)["with"]
		}
		space := ""
		if with != "" {
			space = pairKey(user, with)
		}
		h(w, r, user, space)
	}
}

func tusMetadata(r *http.Request) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(r.Header.Get("Upload-Metadata"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), " ")
		b, _ := base64.StdEncoding.DecodeString(v)
		m[k] = string(b)
	}
	return m
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (f *fakeFS) list(w http.ResponseWriter, r *http.Request, user, space string) {
	f.mu.Lock()
	type entry struct {
		Name     string    `json:"name"`
		Path     string    `json:"path"`
		Size     int64     `json:"size"`
		Mtime    time.Time `json:"mtime"`
		Dir      bool      `json:"dir"`
		Uploader string    `json:"uploader,omitempty"`
		SHA256   string    `json:"sha256"`
	}
	entries := []entry{}
	for p, file := range f.spaces[space] {
		entries = append(entries, entry{Name: p, Path: p, Size: int64(len(file.data)), Mtime: file.mtime, Uploader: file.uploader, SHA256: digest(file.data)})
	}
	f.mu.Unlock()
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Query().Get("path"), "entries": entries})
}

func (f *fakeFS) get(w http.ResponseWriter, r *http.Request, user, space string) {
	file := f.file(space, r.PathValue("path"))
	if file == nil {
		fail(w, http.StatusNotFound, "not_found", "no such file")
		return
	}
	sum := digest(file.data)
	w.Header().Set("ETag", `"`+sum+`"`)
	raw, _ := hex.DecodeString(sum)
	w.Header().Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(raw)+":")
	http.ServeContent(w, r, r.PathValue("path"), file.mtime, bytes.NewReader(file.data))
}

func (f *fakeFS) delete(w http.ResponseWriter, r *http.Request, user, space string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := r.PathValue("path")
	file := f.spaces[space][p]
	switch {
	case file == nil:
		fail(w, http.StatusNotFound, "not_found", "no such file")
	case space == "" && file.uploader != "" && !strings.EqualFold(file.uploader, user):
		fail(w, http.StatusForbidden, "forbidden", "only %s, who uploaded it, may delete it", file.uploader)
	default:
		// In a private space either of the two may delete; in the
		// shared folder, the uploader, or anyone if there is none.
		delete(f.spaces[space], p)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (f *fakeFS) create(w http.ResponseWriter, r *http.Request, user, space string) {
	meta := tusMetadata(r)
	size, err := strconv.ParseInt(r.Header.Get("Upload-Length"), 10, 64)
	if err != nil || meta["path"] == "" {
		fail(w, http.StatusBadRequest, "bad_request", "no length or path")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if old := f.spaces[space][meta["path"]]; old != nil && (meta["overwrite"] != "1" || !strings.EqualFold(old.uploader, user)) {
		fail(w, http.StatusConflict, "exists", "a file of that name exists")
		return
	}
	f.next++
	id := strconv.Itoa(f.next)
	f.uploads[id] = &fakeUpload{space: space, path: meta["path"], sha: meta["sha256"], user: user, overwrite: meta["overwrite"] == "1", size: size}
	if size == 0 {
		f.space(space)[meta["path"]] = &fakeFile{uploader: user, mtime: time.Now()}
	}
	w.Header().Set("Location", "http://"+r.Host+"/uploads/"+id) // through a proxy too
	w.Header().Set("Tus-Resumable", "1.0.0")
	w.WriteHeader(http.StatusCreated)
}

func (f *fakeFS) upload(w http.ResponseWriter, r *http.Request, user string) *fakeUpload {
	u := f.uploads[r.PathValue("id")]
	if u == nil || !strings.EqualFold(u.user, user) {
		fail(w, http.StatusNotFound, "not_found", "no such upload")
		return nil
	}
	return u
}

func (f *fakeFS) offset(w http.ResponseWriter, r *http.Request, user, _ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.upload(w, r, user); u != nil {
		w.Header().Set("Upload-Offset", strconv.Itoa(u.data.Len()))
		w.Header().Set("Upload-Length", strconv.FormatInt(u.size, 10))
		w.WriteHeader(http.StatusOK)
	}
}

func (f *fakeFS) patch(w http.ResponseWriter, r *http.Request, user, _ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.upload(w, r, user)
	if u == nil {
		return
	}
	if r.Header.Get("Upload-Offset") != strconv.Itoa(u.data.Len()) {
		fail(w, http.StatusConflict, "offset", "wrong offset")
		return
	}
	u.data.ReadFrom(r.Body)
	if int64(u.data.Len()) == u.size {
		delete(f.uploads, r.PathValue("id"))
		if u.sha != "" && digest(u.data.Bytes()) != u.sha {
			fail(w, http.StatusBadRequest, "checksum_mismatch", "digest differs")
			return
		}
		f.space(u.space)[u.path] = &fakeFile{data: u.data.Bytes(), uploader: u.user, mtime: time.Now()}
	}
	w.Header().Set("Upload-Offset", strconv.Itoa(u.data.Len()))
	w.Header().Set("Tus-Resumable", "1.0.0")
	w.WriteHeader(http.StatusNoContent)
}
