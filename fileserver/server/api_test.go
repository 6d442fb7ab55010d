package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/parley-chat/parley/fileserver/server"
	"github.com/parley-chat/parley/shared/filetoken"
)

// The health check does the same work whatever the folder holds: it
// reads no directory. It fails when the shared folder the server opened
// is no longer at its path.
func TestHealthz(t *testing.T) {
	ts := start(t, nil)
	for i := range 50 {
		ts.writeFile(fmt.Sprintf("d%d/f.txt", i), []byte("x"))
	}
	before := ts.srv.Folder().DirReads()
	for range 3 {
		resp, b := ts.do("", "GET", "/healthz", nil)
		want(t, resp, b, 200, "")
		if !strings.Contains(string(b), `"ok"`) {
			t.Errorf("healthz body %s", b)
		}
	}
	if n := ts.srv.Folder().DirReads() - before; n != 0 {
		t.Errorf("the health check read %d directories", n)
	}
	// The listing is counted, so the count above means something.
	ts.list("alice", "")
	if ts.srv.Folder().DirReads() == before {
		t.Fatal("a listing read no directory: DirReads counts nothing")
	}

	if err := os.Rename(ts.dir, ts.dir+".moved"); err != nil {
		t.Fatal(err)
	}
	resp, b := ts.do("", "GET", "/healthz", nil)
	want(t, resp, b, 503, "unavailable")
	if err := os.Mkdir(ts.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	resp, b = ts.do("", "GET", "/healthz", nil)
	want(t, resp, b, 503, "unavailable")
}

func TestBadTokens(t *testing.T) {
	ts := start(t, nil)
	now := time.Now()
	forged, _, _ := filetoken.Issue([]byte("some other secret"), "alice", now, time.Minute)
	expired, _, _ := filetoken.Issue(secret, "alice", now.Add(-time.Hour), time.Minute)
	expiredForged, _, _ := filetoken.Issue([]byte("some other secret"), "alice", now.Add(-time.Hour), time.Minute)
	otherAud, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "alice", Audience: jwt.ClaimStrings{"parley-chat"},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
	}).SignedString(secret)
	noAud, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject: "alice", IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
	}).SignedString(secret)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, filetoken.Claims{RegisteredClaims: jwt.RegisteredClaims{
		Subject: "alice", Audience: jwt.ClaimStrings{filetoken.Audience},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Minute)),
	}}).SignedString(secret)
	b64 := base64.RawURLEncoding.EncodeToString
	algNone := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		b64(fmt.Appendf(nil, `{"sub":"alice","aud":["parley-files"],"iat":%d,"exp":%d}`, now.Unix(), now.Add(time.Minute).Unix())) + "."
	good := token(t, "alice")

	// Each refusal says what is wrong: another secret, an expired token,
	// or anything else.
	cases := []struct {
		name, auth, code, says string
	}{
		{"missing", "", "unauthorized", "no file token"},
		{"not bearer", "Basic YWxpY2U6cHc=", "unauthorized", "malformed"},
		{"empty bearer", "Bearer ", "unauthorized", "malformed"},
		{"garbage", "Bearer not.a.token", "unauthorized", "refused"},
		{"forged", "Bearer " + forged, "secret_mismatch", "must share one secret"},
		{"expired", "Bearer " + expired, "token_expired", "expired at"},
		{"expired and forged", "Bearer " + expiredForged, "secret_mismatch", "PARLEY_SECRET"},
		{"wrong audience", "Bearer " + otherAud, "unauthorized", "audience"},
		{"no audience", "Bearer " + noAud, "unauthorized", "aud"},
		{"wrong algorithm", "Bearer " + hs512, "unauthorized", "HS512"},
		{"alg none", "Bearer " + algNone, "unauthorized", "none"},
		{"tampered", "Bearer " + good[:len(good)-4] + "AAAA", "secret_mismatch", "different secret"},
	}
	routes := []struct{ method, path string }{
		{"GET", "/api/files"},
		{"GET", "/api/events"},
		{"GET", "/files/a.txt"},
		{"PUT", "/files/a.txt"},
		{"DELETE", "/files/a.txt"},
		{"POST", "/uploads/"},
	}
	for _, c := range cases {
		for _, r := range routes {
			t.Run(c.name+"/"+r.method+r.path, func(t *testing.T) {
				var hdr []string
				if c.auth != "" {
					hdr = []string{"Authorization", c.auth}
				}
				resp, b := ts.do("", r.method, r.path, strings.NewReader("x"), append(hdr, "Tus-Resumable", "1.0.0", "Upload-Length", "1")...)
				want(t, resp, b, http.StatusUnauthorized, c.code)
				if !strings.Contains(string(b), c.says) {
					t.Errorf("message %s does not say %q", b, c.says)
				}
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate header")
				}
			})
		}
	}
	// The same requests with a good token get through.
	resp, b := ts.do("alice", "GET", "/api/files", nil)
	want(t, resp, b, 200, "")
}

func TestPublicRead(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.PublicRead = true })
	ts.drop("hello.txt", []byte("hello"))
	resp, b := ts.do("", "GET", "/files/hello.txt", nil)
	want(t, resp, b, 200, "")
	if string(b) != "hello" {
		t.Errorf("got %q", b)
	}
	resp, b = ts.do("", "GET", "/api/files", nil)
	want(t, resp, b, 200, "")
	resp, b = ts.do("", "PUT", "/files/x.txt", strings.NewReader("x"))
	want(t, resp, b, 401, "unauthorized")
	resp, b = ts.do("", "DELETE", "/files/hello.txt", nil)
	want(t, resp, b, 401, "unauthorized")
	// A bad token is refused even where none is needed.
	resp, b = ts.do("", "GET", "/api/files", nil, "Authorization", "Bearer nope")
	want(t, resp, b, 401, "unauthorized")
}

func TestPutGetRangeConditional(t *testing.T) {
	ts := start(t, nil)
	data := payload(100_000)
	resp, b := ts.do("alice", "PUT", "/files/docs/r%C3%A9sum%C3%A9.bin", bytes.NewReader(data))
	want(t, resp, b, 201, "")
	if !strings.Contains(string(b), sum(data)) || !strings.Contains(string(b), `"uploader":"alice"`) {
		t.Errorf("PUT reply %s", b)
	}
	// On disk, in place, whole.
	disk, err := os.ReadFile(filepath.Join(ts.dir, "docs", "résumé.bin"))
	if err != nil || !bytes.Equal(disk, data) {
		t.Fatalf("file on disk: %v", err)
	}

	resp, b = ts.do("bob", "GET", "/files/docs/r%C3%A9sum%C3%A9.bin", nil)
	want(t, resp, b, 200, "")
	if !bytes.Equal(b, data) {
		t.Fatal("downloaded bytes differ")
	}
	etag := resp.Header.Get("ETag")
	if etag != `"`+sum(data)+`"` {
		t.Errorf("ETag %q", etag)
	}
	sumb, _ := hex.DecodeString(sum(data))
	if d := resp.Header.Get("Repr-Digest"); d != "sha-256=:"+base64.StdEncoding.EncodeToString(sumb)+":" {
		t.Errorf("Repr-Digest %q", d)
	}
	if cd := resp.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Errorf("Content-Disposition %q", cd)
	}

	resp, b = ts.do("bob", "GET", "/files/docs/r%C3%A9sum%C3%A9.bin", nil, "Range", "bytes=1000-1999")
	want(t, resp, b, http.StatusPartialContent, "")
	if !bytes.Equal(b, data[1000:2000]) {
		t.Error("range bytes differ")
	}
	if cr := resp.Header.Get("Content-Range"); cr != "bytes 1000-1999/100000" {
		t.Errorf("Content-Range %q", cr)
	}
	resp, b = ts.do("bob", "GET", "/files/docs/r%C3%A9sum%C3%A9.bin", nil, "Range", "bytes=99000-")
	want(t, resp, b, http.StatusPartialContent, "")
	if !bytes.Equal(b, data[99000:]) {
		t.Error("open range bytes differ")
	}
	resp, _ = ts.do("bob", "GET", "/files/docs/r%C3%A9sum%C3%A9.bin", nil, "Range", "bytes=200000-")
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: %d", resp.StatusCode)
	}

	resp, b = ts.do("bob", "GET", "/files/docs/r%C3%A9sum%C3%A9.bin", nil, "If-None-Match", etag)
	if resp.StatusCode != http.StatusNotModified || len(b) != 0 {
		t.Errorf("If-None-Match: %d with %d bytes", resp.StatusCode, len(b))
	}
	resp, b = ts.do("bob", "GET", "/files/docs/r%C3%A9sum%C3%A9.bin", nil, "If-None-Match", `"other"`)
	want(t, resp, b, 200, "")
	// If-Range with a stale validator gets the whole file.
	resp, b = ts.do("bob", "GET", "/files/docs/r%C3%A9sum%C3%A9.bin", nil, "Range", "bytes=10-", "If-Range", `"stale"`)
	want(t, resp, b, 200, "")
	if len(b) != len(data) {
		t.Errorf("If-Range stale: %d bytes", len(b))
	}
	resp, b = ts.do("bob", "GET", "/files/docs/r%C3%A9sum%C3%A9.bin", nil, "Range", "bytes=10-", "If-Range", etag)
	want(t, resp, b, 206, "")

	resp, b = ts.do("bob", "HEAD", "/files/docs/r%C3%A9sum%C3%A9.bin", nil)
	want(t, resp, b, 200, "")
	if resp.ContentLength != int64(len(data)) {
		t.Errorf("HEAD Content-Length %d", resp.ContentLength)
	}

	resp, b = ts.do("bob", "GET", "/files/nope.bin", nil)
	want(t, resp, b, 404, "not_found")
	resp, b = ts.do("bob", "GET", "/files/docs", nil)
	want(t, resp, b, 409, "is_dir")
}

func TestConflictAndOverwrite(t *testing.T) {
	ts := start(t, nil)
	resp, b := ts.do("alice", "PUT", "/files/a.txt", strings.NewReader("one"))
	want(t, resp, b, 201, "")
	resp, b = ts.do("alice", "PUT", "/files/a.txt", strings.NewReader("two"))
	want(t, resp, b, 409, "exists")
	resp, b = ts.do("bob", "PUT", "/files/a.txt?overwrite=1", strings.NewReader("bob's"))
	want(t, resp, b, 403, "forbidden")
	resp, b = ts.do("Alice", "PUT", "/files/a.txt?overwrite=1", strings.NewReader("three"))
	want(t, resp, b, 200, "")
	resp, b = ts.do("bob", "GET", "/files/a.txt", nil)
	if string(b) != "three" {
		t.Errorf("after overwrite: %q", b)
	}
	// A folder is in the way, or a file is where a folder should be.
	resp, b = ts.do("alice", "PUT", "/files/d/x.txt", strings.NewReader("x"))
	want(t, resp, b, 201, "")
	resp, b = ts.do("alice", "PUT", "/files/d?overwrite=1", strings.NewReader("x"))
	want(t, resp, b, 409, "is_dir")
	resp, b = ts.do("alice", "PUT", "/files/a.txt/x", strings.NewReader("x"))
	want(t, resp, b, 409, "not_dir")
	// A file dropped in by hand has no known uploader: no upload
	// replaces it, since that would change its content under a name
	// people trust. It may be deleted, then uploaded anew.
	ts.writeFile("byhand.txt", []byte("mine"))
	resp, b = ts.do("alice", "PUT", "/files/byhand.txt?overwrite=1", strings.NewReader("x"))
	want(t, resp, b, 403, "forbidden")
	if !strings.Contains(string(b), "by hand") {
		t.Errorf("message %s", b)
	}
	resp, b = ts.do("alice", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "1",
		"Upload-Metadata", "path "+b64("byhand.txt")+",overwrite "+b64("1"))
	want(t, resp, b, 403, "forbidden")
	if got, _ := os.ReadFile(filepath.Join(ts.dir, "byhand.txt")); string(got) != "mine" {
		t.Errorf("the hand-copied file now holds %q", got)
	}
}

func TestChecksumHeader(t *testing.T) {
	ts := start(t, nil)
	data := []byte("checked content")
	resp, b := ts.do("alice", "PUT", "/files/bad.txt", bytes.NewReader(data), "X-Parley-Sha256", sum([]byte("other")))
	want(t, resp, b, 400, "checksum_mismatch")
	if es := ts.list("alice", ""); len(es) != 0 {
		t.Errorf("a rejected upload is listed: %v", names(es))
	}
	resp, b = ts.do("alice", "PUT", "/files/bad.txt", bytes.NewReader(data), "X-Parley-Sha256", "xyz")
	want(t, resp, b, 400, "bad_request")
	resp, b = ts.do("alice", "PUT", "/files/good.txt", bytes.NewReader(data), "X-Parley-Sha256", strings.ToUpper(sum(data)))
	want(t, resp, b, 201, "")
	s, _ := hex.DecodeString(sum(data))
	resp, b = ts.do("alice", "PUT", "/files/good2.txt", bytes.NewReader(data), "Repr-Digest", "sha-512=:AAAA:, sha-256=:"+base64.StdEncoding.EncodeToString(s)+":")
	want(t, resp, b, 201, "")
	resp, b = ts.do("alice", "PUT", "/files/bad2.txt", bytes.NewReader(data), "Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(make([]byte, 32))+":")
	want(t, resp, b, 400, "checksum_mismatch")
	if got := names(ts.list("alice", "")); got != "good.txt,good2.txt" {
		t.Errorf("listing %q", got)
	}
	assertStagingEmpty(t, ts)
}

func assertStagingEmpty(t *testing.T, ts *tserver) {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(ts.state, "partial"))
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		t.Errorf("left in the staging area: %s", de.Name())
	}
}

func TestSizeLimit(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.MaxSize = 1000 })
	resp, b := ts.do("alice", "PUT", "/files/big.bin", bytes.NewReader(payload(1001)))
	want(t, resp, b, 413, "too_large")
	if !strings.Contains(string(b), "limit") {
		t.Errorf("413 message %s", b)
	}
	// Unknown length: cut off at the limit.
	resp, b = ts.do("alice", "PUT", "/files/big.bin", struct{ *bytes.Reader }{bytes.NewReader(payload(5000))})
	want(t, resp, b, 413, "too_large")
	resp, b = ts.do("alice", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "1001",
		"Upload-Metadata", "path "+base64.StdEncoding.EncodeToString([]byte("big.bin")))
	want(t, resp, b, 413, "too_large")
	resp, b = ts.do("alice", "PUT", "/files/ok.bin", bytes.NewReader(payload(1000)))
	want(t, resp, b, 201, "")
	assertStagingEmpty(t, ts)
}

func TestQuota(t *testing.T) {
	ts := start(t, func(c *server.Config) { c.Quota = 10_000 })
	resp, b := ts.do("alice", "PUT", "/files/one.bin", bytes.NewReader(payload(6000)))
	want(t, resp, b, 201, "")
	resp, b = ts.do("alice", "PUT", "/files/two.bin", bytes.NewReader(payload(6000)))
	want(t, resp, b, 507, "quota")
	if !strings.Contains(string(b), "full") {
		t.Errorf("507 message %s", b)
	}
	resp, b = ts.do("alice", "PUT", "/files/two.bin", struct{ *bytes.Reader }{bytes.NewReader(payload(6000))})
	want(t, resp, b, 507, "quota")
	// A resumable upload reserves its size when created.
	resp, b = ts.do("alice", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "3000",
		"Upload-Metadata", "path "+base64.StdEncoding.EncodeToString([]byte("three.bin")))
	want(t, resp, b, 201, "")
	resp, b = ts.do("alice", "PUT", "/files/four.bin", bytes.NewReader(payload(2000)))
	want(t, resp, b, 507, "quota")
	// Replacing a file frees its size.
	resp, b = ts.do("alice", "PUT", "/files/one.bin?overwrite=1", bytes.NewReader(payload(7000)))
	want(t, resp, b, 200, "")
	// Deleting frees room.
	resp, b = ts.do("alice", "DELETE", "/files/one.bin", nil)
	want(t, resp, b, 204, "")
	resp, b = ts.do("alice", "PUT", "/files/four.bin", bytes.NewReader(payload(2000)))
	want(t, resp, b, 201, "")
}

func TestDelete(t *testing.T) {
	ts := start(t, nil)
	resp, b := ts.do("alice", "PUT", "/files/sub/a.txt", strings.NewReader("a"))
	want(t, resp, b, 201, "")
	resp, b = ts.do("bob", "DELETE", "/files/sub/a.txt", nil)
	want(t, resp, b, 403, "forbidden")
	// A file copied in by hand has no uploader: anyone signed in may
	// delete it, or nobody could.
	ts.drop("byhand.txt", []byte("x"))
	resp, b = ts.do("", "DELETE", "/files/byhand.txt", nil)
	want(t, resp, b, 401, "unauthorized")
	resp, b = ts.do("carol", "DELETE", "/files/byhand.txt", nil)
	want(t, resp, b, 204, "")
	if _, err := os.Stat(filepath.Join(ts.dir, "byhand.txt")); !os.IsNotExist(err) {
		t.Errorf("the hand-copied file is still there: %v", err)
	}
	// So may a file changed by hand since its upload, which lost its
	// record with it.
	resp, b = ts.do("alice", "PUT", "/files/edited.txt", strings.NewReader("v1"))
	want(t, resp, b, 201, "")
	ts.writeFile("edited.txt", []byte("edited by hand"))
	resp, b = ts.do("carol", "DELETE", "/files/edited.txt", nil)
	want(t, resp, b, 204, "")
	resp, b = ts.do("alice", "DELETE", "/files/sub", nil)
	want(t, resp, b, 409, "not_empty")
	resp, b = ts.do("alice", "DELETE", "/files/nope", nil)
	want(t, resp, b, 404, "not_found")
	resp, b = ts.do("ALICE", "DELETE", "/files/sub/a.txt", nil)
	want(t, resp, b, 204, "")
	if es := ts.list("bob", "sub"); len(es) != 0 {
		t.Errorf("still listed: %v", names(es))
	}
}

func TestListing(t *testing.T) {
	ts := start(t, nil)
	ts.drop("zeta.txt", []byte("z"))
	ts.drop("Alpha/inner.txt", []byte("inner"))
	resp, b := ts.do("alice", "PUT", "/files/beta.txt", strings.NewReader("beta"))
	want(t, resp, b, 201, "")
	es := ts.list("bob", "")
	if got := names(es); got != "Alpha,beta.txt,zeta.txt" {
		t.Fatalf("listing %q", got)
	}
	if !es[0].Dir || es[1].Uploader != "alice" || es[1].SHA256 != sum([]byte("beta")) || es[1].Size != 4 || es[1].Mtime.IsZero() {
		t.Errorf("entries %+v", es)
	}
	if es[2].Uploader != "" || es[2].SHA256 != "" {
		t.Errorf("a file dropped in by hand has an uploader or checksum: %+v", es[2])
	}
	if got := ts.list("bob", "Alpha"); len(got) != 1 || got[0].Path != "Alpha/inner.txt" {
		t.Errorf("sub listing %+v", got)
	}
	resp, b = ts.do("bob", "GET", "/api/files?path=nope", nil)
	want(t, resp, b, 404, "not_found")
	resp, b = ts.do("bob", "GET", "/api/files?path=zeta.txt", nil)
	want(t, resp, b, 409, "not_dir")
	resp, b = ts.do("bob", "GET", "/api/files?path=..", nil)
	want(t, resp, b, 400, "bad_path")
	resp, b = ts.do("bob", "GET", "/api/files?path=%2Fetc", nil)
	want(t, resp, b, 400, "bad_path")
}

func TestUnknownRoutes(t *testing.T) {
	ts := start(t, nil)
	resp, b := ts.do("alice", "GET", "/nothing", nil)
	want(t, resp, b, 404, "not_found")
	resp, b = ts.do("alice", "POST", "/files/a", nil)
	want(t, resp, b, 405, "method_not_allowed")
}
