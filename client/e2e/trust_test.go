package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests need the chat server's bans and the file server's private
// spaces, secret_mismatch replies and deletes of files with no uploader.

// after waits for an event matching ok among the lines printed after
// the first n.
func (p *proc) after(n int, what string, ok func(event) bool) event {
	p.t.Helper()
	deadline := time.After(waitLimit)
	for {
		p.mu.Lock()
		lines := p.out[min(n, len(p.out)):]
		grew := p.grew
		p.mu.Unlock()
		for _, l := range lines {
			var e event
			if json.Unmarshal([]byte(l), &e) == nil && ok(e) {
				return e
			}
		}
		select {
		case <-grew:
		case <-p.exited:
			p.t.Fatalf("%s exited before %s", p.name, what)
		case <-deadline:
			p.t.Fatalf("%s: no %s", p.name, what)
		}
	}
}

func isType(typ string) func(event) bool {
	return func(e event) bool { return e.str("type") == typ }
}

func fileOf(e event) map[string]any {
	f, _ := e["file"].(map[string]any)
	return f
}

// A file uploaded in a private conversation lands in the private space
// of the two: the other one gets a private file message and downloads it
// by its id, and lists and deletes it from the private conversation; a
// third person sees nothing of it, in the shared folder or in their own
// private conversations with either.
func TestPrivateFilesWithBinaries(t *testing.T) {
	data := t.TempDir()
	shared := t.TempDir()
	filesAddr := startFiles(t, filepath.Join(data, "secret"), shared)
	srv := startChat(t, data, "-files-url", "http://"+filesAddr)
	alice := filesClient(t, srv.addr, "alice")
	bob := filesClient(t, srv.addr, "bob")
	carol := filesClient(t, srv.addr, "carol")

	content := make([]byte, 3<<20+17)
	rand.Read(content)
	src := filepath.Join(t.TempDir(), "pay slip.pdf")
	os.WriteFile(src, content, 0o644)

	alice.do("/switch @bob")
	alice.send(`/upload "` + src + `"`)
	up := alice.waitEvent("uploaded", func(e event) bool { return e.str("type") == "uploaded" })
	if up.str("with") != "bob" || up.str("posted") != "@bob" {
		t.Errorf("uploaded %v", up)
	}
	if _, err := os.Stat(filepath.Join(shared, "pay slip.pdf")); err == nil {
		t.Fatal("the private upload is in the shared folder")
	}
	msg := bob.waitEvent("the private file message", isFileMessage("pay slip.pdf"))
	if p, _ := fileOf(msg)["private"].(bool); !p || msg.str("to") != "bob" {
		t.Fatalf("bob's file message %v", msg)
	}
	id := strconv.FormatUint(msg.num("id"), 10)

	// Bob downloads it by the message's id, from the lobby.
	dest := t.TempDir()
	bob.send("/download " + id + " " + dest)
	dl := bob.waitEvent("downloaded", func(e event) bool { return e.str("type") == "downloaded" })
	if v, _ := dl["verified"].(bool); !v || dl.str("with") != "alice" {
		t.Errorf("downloaded %v", dl)
	}
	if got, _ := os.ReadFile(filepath.Join(dest, "pay slip.pdf")); !bytes.Equal(got, content) {
		t.Fatal("bob's download differs")
	}
	// Alice, who sent it, can fetch it by id too.
	aliceDest := t.TempDir()
	alice.send("/download " + id + " " + aliceDest)
	alice.waitEvent("alice's download", func(e event) bool { return e.str("type") == "downloaded" })

	// Carol: not in the shared folder, not in her spaces with either.
	for _, conv := range []string{"#lobby", "@alice", "@bob"} {
		carol.do("/switch " + conv)
		n := len(carol.lines())
		carol.send("/files")
		l := carol.after(n, "carol's listing", isType("files"))
		if entries, _ := l["entries"].([]any); len(entries) != 0 {
			t.Errorf("carol's listing in %s: %v", conv, l)
		}
	}
	// Nor can she fetch it by name from her conversation with alice.
	carol.do("/switch @alice")
	n := len(carol.lines())
	carol.send(`/download "pay slip.pdf" ` + t.TempDir())
	if e := carol.after(n, "the answer to carol's download", func(e event) bool { return e.str("type") == "error" || e.str("type") == "downloaded" }); e.str("type") != "error" {
		t.Fatalf("carol downloaded the private file: %v", e)
	}

	// Bob lists the private space and deletes the file, which he did not
	// upload: either of the two may.
	bob.do("/switch @alice")
	bob.send("/files")
	l := bob.waitEvent("bob's private listing", func(e event) bool { return e.str("type") == "files" })
	if entries, _ := l["entries"].([]any); len(entries) != 1 || l.str("with") != "alice" {
		t.Fatalf("bob's private listing %v", l)
	}
	bob.send(`/rm "pay slip.pdf"`)
	rm := bob.waitEvent("removed", func(e event) bool { return e.str("type") == "removed" })
	if rm.str("with") != "alice" {
		t.Errorf("removed %v", rm)
	}

	for _, c := range []*proc{alice, bob, carol} {
		c.in.Close()
		if code := c.wait(); code != 0 {
			t.Errorf("%s exited with %d", c.name, code)
		}
	}
}

// The full-screen client uploads to the private space in a private
// conversation, and the other person gets a private file.
func TestTUIPrivateUpload(t *testing.T) {
	needTool(t, "tmux")
	data := t.TempDir()
	shared := t.TempDir()
	filesAddr := startFiles(t, filepath.Join(data, "secret"), shared)
	srv := startChat(t, data, "-files-url", "http://"+filesAddr)
	bob := filesClient(t, srv.addr, "bob")

	home := t.TempDir()
	src := filepath.Join(home, "secret plan.txt")
	os.WriteFile(src, []byte("meet at noon"), 0o644)
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"), "XDG_CACHE_HOME=" + filepath.Join(home, "cache"),
		"LANG=C.UTF-8", "PARLEY_PASSWORD=pw-小明"}
	tm := tuiStartTmux(t, home)
	tm.run(env, "-server", srv.addr, "-name", "小明")
	tm.waitScreen("● connected")
	tm.typeText("/query bob")
	tm.keys("Enter")
	tm.waitScreen("only you two see this")
	tm.typeText(`/upload "` + src + `"`)
	tm.keys("Enter")
	msg := bob.waitEvent("the private file", isFileMessage("secret plan.txt"))
	if p, _ := fileOf(msg)["private"].(bool); !p {
		t.Fatalf("bob's file message %v", msg)
	}
	tm.waitScreen("secret plan.txt (12 B) · private to you two")
	if _, err := os.Stat(filepath.Join(shared, "secret plan.txt")); err == nil {
		t.Fatal("the private upload is in the shared folder")
	}
	bob.do("/switch @小明")
	bob.send("/files")
	l := bob.waitEvent("bob's private listing", func(e event) bool { return e.str("type") == "files" })
	if entries, _ := l["entries"].([]any); len(entries) != 1 {
		t.Fatalf("bob's private listing %v", l)
	}
	tm.keys("C-c")
	tm.waitExit(0)
}

// A kick bans: the kicked member's /join is refused as banned until the
// owner's /unban, and the owner's /who lists the banned.
func TestBansWithBinaries(t *testing.T) {
	srv := startChat(t, "")
	alice := connected(t, srv.addr, "alice")
	bob := connected(t, srv.addr, "bob")
	alice.do("/join Go")
	bob.do("/join Go")

	alice.send("/kick bob")
	k := alice.waitEvent("the kick's output", func(e event) bool { return e.str("type") == "kick" })
	if !strings.Contains(k.str("text"), "banned from it until /unban bob") {
		t.Errorf("kick output %v", k)
	}
	bob.waitEvent("kicked", func(e event) bool { return e.str("type") == "kicked" })
	n := len(bob.lines())
	bob.send("/join Go")
	if e := bob.after(n, "the join's answer", func(e event) bool { return e.str("type") == "error" || e.str("type") == "switch" }); e.str("code") != "banned" {
		t.Fatalf("bob's /join after the kick: %v, want the error banned", e)
	}

	alice.send("/who")
	w := alice.waitEvent("who", func(e event) bool { return e.str("type") == "who" })
	if b, _ := w["banned"].([]any); len(b) != 1 || b[0] != "bob" {
		t.Errorf("who %v, want bob banned", w)
	}

	alice.send("/unban bob")
	alice.waitEvent("the unban's output", isType("unban"))
	n = len(bob.lines())
	bob.send("/join Go")
	bob.after(n, "back in", func(e event) bool { return e.str("type") == "switch" && e.str("room") == "Go" })

	for _, c := range []*proc{alice, bob} {
		c.in.Close()
		c.wait()
	}
}

// When the chat server and the file server were given different
// secrets, the file commands say so, with the file server's message.
func TestSecretMismatchWithBinaries(t *testing.T) {
	chatData := t.TempDir()
	other := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(other, []byte("not the chat server's secret\n"), 0o600)
	filesAddr := startFiles(t, other, t.TempDir())
	srv := startChat(t, chatData, "-files-url", "http://"+filesAddr)
	alice := filesClient(t, srv.addr, "alice")
	alice.send("/files")
	e := alice.waitEvent("the refusal", func(e event) bool { return e.str("type") == "error" })
	if e.str("code") != "secret_mismatch" || !strings.Contains(strings.ToLower(e.str("message")), "secret") {
		t.Errorf("/files with mismatched secrets: %v", e)
	}
	alice.in.Close()
	alice.wait()
}

// A file copied into the shared folder by hand has no uploader, and
// anyone may delete it.
func TestRmFileCopiedInByHand(t *testing.T) {
	data := t.TempDir()
	shared := t.TempDir()
	filesAddr := startFiles(t, filepath.Join(data, "secret"), shared)
	srv := startChat(t, data, "-files-url", "http://"+filesAddr)
	bob := filesClient(t, srv.addr, "bob")
	os.WriteFile(filepath.Join(shared, "dropped.txt"), []byte("by hand"), 0o644)
	deadline := time.Now().Add(waitLimit)
	for {
		n := len(bob.lines())
		bob.send("/files")
		l := bob.after(n, "listing", isType("files"))
		if entries, _ := l["entries"].([]any); len(entries) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the file copied in never shows")
		}
		time.Sleep(100 * time.Millisecond)
	}
	bob.send("/rm dropped.txt")
	if e := bob.waitEvent("the answer to /rm", func(e event) bool { return e.str("type") == "removed" || e.str("type") == "error" }); e.str("type") != "removed" {
		t.Fatalf("/rm of a file copied in by hand: %v", e)
	}
	if _, err := os.Stat(filepath.Join(shared, "dropped.txt")); err == nil {
		t.Error("the file is still there")
	}
	bob.in.Close()
	bob.wait()
}
