package server_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-chat/parley/fileserver/folder"
)

// Every class of bad path, sent exactly as written on the wire, is
// refused for reading and for writing, and nothing outside the folder is
// read or written.
func TestBadPaths(t *testing.T) {
	ts := start(t, nil)
	// A secret outside the shared folder, and links to it from inside.
	outside := filepath.Join(filepath.Dir(ts.dir), "outside")
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("TOP SECRET"), 0o644)
	os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(ts.dir, "link-out"))
	os.Symlink("../outside", filepath.Join(ts.dir, "dir-out"))
	os.Symlink("/etc/passwd", filepath.Join(ts.dir, "abs-out"))
	// A link that stays inside is fine.
	os.WriteFile(filepath.Join(ts.dir, "real.txt"), []byte("real"), 0o644)
	os.Symlink("real.txt", filepath.Join(ts.dir, "link-in"))

	cases := []struct {
		class, path string
		status      int
		code        string
	}{
		{"dot-dot", "/files/../outside/secret.txt", 400, "bad_path"},
		{"dot-dot inside", "/files/a/../../outside/secret.txt", 400, "bad_path"},
		{"dot-dot alone", "/files/..", 400, "bad_path"},
		{"single dot", "/files/./real.txt", 400, "bad_path"},
		{"encoded dot-dot", "/files/%2e%2e/outside/secret.txt", 400, "bad_path"},
		{"absolute", "/files//etc/passwd", 400, "bad_path"},
		{"drive letter", "/files/C:/Windows/win.ini", 400, "bad_path"},
		{"encoded slash", "/files/..%2Foutside%2Fsecret.txt", 400, "bad_path"},
		{"encoded slash lower", "/files/a%2fb", 400, "bad_path"},
		{"encoded absolute", "/files/%2Fetc%2Fpasswd", 400, "bad_path"},
		{"encoded backslash", "/files/..%5Coutside%5Csecret.txt", 400, "bad_path"},
		{"encoded backslash lower", "/files/a%5cb", 400, "bad_path"},
		{"backslash", `/files/..\outside\secret.txt`, 400, "bad_path"},
		{"encoded NUL", "/files/real.txt%00.jpg", 400, "bad_path"},
		{"control character", "/files/a%01b", 400, "bad_path"},
		{"escape sequence", "/files/a%1B%5B31mred", 400, "bad_path"},
		{"DEL", "/files/a%7Fb", 400, "bad_path"},
		{"C1 control", "/files/a%C2%85b", 400, "bad_path"},
		{"invalid UTF-8", "/files/a%FFb", 400, "bad_path"},
		// net/http refuses this one itself, before routing.
		{"malformed escape", "/files/a%zzb", 400, ""},
		{"empty component", "/files/a//b", 400, "bad_path"},
		{"trailing slash", "/files/a/", 400, "bad_path"},
		{"too long", "/files/" + strings.Repeat("a", 300), 400, "bad_path"},
		{"too long path", "/files/" + strings.Repeat(strings.Repeat("a", 200)+"/", 5) + strings.Repeat("b", folder.MaxPathBytes-5*201+1), 400, "bad_path"},
		{"too deep", "/files/" + strings.Repeat("d/", folder.MaxDepth) + "x", 400, "bad_path"},
		// Invisible format characters, which make a name display as
		// another.
		{"right-to-left override", "/files/invoice%E2%80%AEfdp.exe", 400, "bad_path"},
		{"zero-width space", "/files/a%E2%80%8Bb.txt", 400, "bad_path"},
		{"zero-width joiner", "/files/a%E2%80%8Db.txt", 400, "bad_path"},
		{"byte order mark", "/files/%EF%BB%BFreadme.txt", 400, "bad_path"},
		{"bidi isolate", "/files/a%E2%81%A6b.txt", 400, "bad_path"},
		// A decomposed é: uploads may not create it (see below for reads).
		{"not NFC", "/files/cafe%CC%81.txt", 400, "bad_path"},
		{"symlink out", "/files/link-out", 403, "outside"},
		{"symlink to absolute", "/files/abs-out", 403, "outside"},
		{"through symlinked folder", "/files/dir-out/secret.txt", 403, "outside"},
	}
	for _, c := range cases {
		for _, method := range []string{"GET", "PUT", "DELETE"} {
			t.Run(c.class+"/"+method, func(t *testing.T) {
				body := ""
				if method == "PUT" {
					body = "evil"
				}
				req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
					method, c.path, token(t, "alice"), len(body), body)
				status, reply := ts.raw(req)
				wantStatus, wantCode := c.status, c.code
				if c.class == "not NFC" && method != "PUT" {
					// Files copied in by hand may have such names, and
					// can be read; this one does not exist.
					wantStatus, wantCode = 404, "not_found"
				}
				if c.code == "outside" && !strings.Contains(c.path, "/dir-out/") {
					// The link itself is in the folder: its name is
					// taken, and the server deletes no links.
					if method == "PUT" {
						wantStatus, wantCode = 409, "exists"
					}
				}
				if status != wantStatus {
					t.Fatalf("%s %s: %d %s, want %d", method, c.path, status, reply, wantStatus)
				}
				if wantCode != "" && !strings.Contains(reply, `"code":"`+wantCode+`"`) {
					t.Errorf("reply %s, want code %s", reply, wantCode)
				}
				if strings.Contains(reply, "TOP SECRET") || strings.Contains(reply, "root:") {
					t.Errorf("leaked: %s", reply)
				}
			})
		}
	}
	// Nothing was written or removed outside.
	des, _ := os.ReadDir(outside)
	if len(des) != 1 {
		t.Errorf("outside folder now has %d entries", len(des))
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret.txt")); string(b) != "TOP SECRET" {
		t.Errorf("secret changed: %q", b)
	}
	// Replacing a link is refused: it has no uploader.
	resp, b := ts.do("alice", "PUT", "/files/link-out?overwrite=1", strings.NewReader("evil"))
	want(t, resp, b, 403, "forbidden")
	// A link inside is not deleted either, nor what it points to.
	resp, b = ts.do("alice", "DELETE", "/files/link-in", nil)
	want(t, resp, b, 403, "forbidden")
	// The inside link works, and the outward ones are not listed.
	resp, b = ts.do("alice", "GET", "/files/link-in", nil)
	want(t, resp, b, 200, "")
	if string(b) != "real" {
		t.Errorf("link-in: %q", b)
	}
	for _, e := range ts.list("alice", "") {
		if strings.Contains(e.Name, "out") {
			t.Errorf("listed %s", e.Name)
		}
	}
	// An upload through a link to a folder outside is refused too, also
	// as a resumable upload.
	resp, b = ts.do("alice", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "4",
		"Upload-Metadata", "path ZGlyLW91dC9ldmlsLnR4dA==") // dir-out/evil.txt
	want(t, resp, b, 403, "outside")
	for _, p := range []string{"../evil.txt", "/tmp/evil.txt", `a\b`, "a\x00b", "a\x07b", "invoice\u202Efdp.exe", "cafe\u0301.txt", strings.Repeat("d/", folder.MaxDepth) + "x"} {
		resp, b = ts.do("alice", "POST", "/uploads/", nil, "Tus-Resumable", "1.0.0", "Upload-Length", "4",
			"Upload-Metadata", "path "+b64(p))
		want(t, resp, b, 400, "bad_path")
	}
	assertStagingEmpty(t, ts)
}
