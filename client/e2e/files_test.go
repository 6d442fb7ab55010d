package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/parley-chat/parley/resources"
)

// filesClient starts a line-mode client with -json whose cache (where
// unfinished uploads are remembered) is private to the test.
func filesClient(t *testing.T, addr, name string) *proc {
	t.Helper()
	cache := t.TempDir()
	p := startProc(t, "client", []string{"PARLEY_PASSWORD=pw-" + name, "XDG_CACHE_HOME=" + cache, "HOME=" + cache},
		"-server", addr, "-name", name, "-json")
	p.waitEvent("connected", func(e event) bool { return e.str("type") == "connected" })
	return p
}

// Alice uploads a file through her line-mode client; Bob sees the file
// message, downloads it by the message's id, and gets the same bytes.
func TestFileSharingWithBinaries(t *testing.T) {
	data := t.TempDir()
	secret := filepath.Join(data, "secret")
	filesAddr := startFiles(t, secret, t.TempDir())
	// The chat server reads the secret the file server created.
	srv := startChat(t, data, "-files-url", "http://"+filesAddr)

	bob := filesClient(t, srv.addr, "bob")
	alice := filesClient(t, srv.addr, "alice")
	if e := alice.waitEvent("connected", func(e event) bool { return e.str("type") == "connected" }); e.str("files_url") != "http://"+filesAddr {
		t.Fatalf("welcome files_url %q", e.str("files_url"))
	}

	content := make([]byte, 5<<20+321)
	rand.Read(content)
	src := filepath.Join(t.TempDir(), "holiday photos.bin")
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	alice.send(`/upload "` + src + `"`)
	up := alice.waitEvent("uploaded", func(e event) bool { return e.str("type") == "uploaded" })
	if up.str("path") != "holiday photos.bin" || up.num("size") != uint64(len(content)) || up.str("posted") != "#lobby" {
		t.Errorf("uploaded %v", up)
	}
	alice.waitEvent("upload progress", func(e event) bool {
		return e.str("type") == "progress" && e.str("op") == "upload" && e.str("state") == "done"
	})

	msg := bob.waitEvent("file message", func(e event) bool {
		f, _ := e["file"].(map[string]any)
		return e.str("type") == "message" && e.str("kind") == "file" && f["name"] == "holiday photos.bin"
	})
	if msg.str("from") != "alice" {
		t.Errorf("file message %v", msg)
	}
	dest := t.TempDir()
	bob.send("/download " + strconv.FormatUint(msg.num("id"), 10) + " " + dest)
	dl := bob.waitEvent("downloaded", func(e event) bool { return e.str("type") == "downloaded" })
	if v, _ := dl["verified"].(bool); !v {
		t.Errorf("download not verified: %v", dl)
	}
	got, err := os.ReadFile(filepath.Join(dest, "holiday photos.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, content) {
		t.Fatal("bob's download differs from alice's file")
	}

	// Someone who logs in later sees the message in the history shown at
	// login, and can download by its id as their very first command.
	carolDest := t.TempDir()
	cache := t.TempDir()
	carol := startProc(t, "client", []string{"PARLEY_PASSWORD=pw-carol", "XDG_CACHE_HOME=" + cache, "HOME=" + cache},
		"-server", srv.addr, "-name", "carol", "-json")
	carol.send("/download " + strconv.FormatUint(msg.num("id"), 10) + " " + carolDest)
	carol.waitEvent("carol's download", func(e event) bool { return e.str("type") == "downloaded" })
	carol.in.Close()
	carol.wait()

	// Both see it listed; only Alice may delete it.
	bob.send("/files")
	list := bob.waitEvent("listing", func(e event) bool { return e.str("type") == "files" })
	entries, _ := list["entries"].([]any)
	if len(entries) != 1 {
		t.Fatalf("listing %v", list)
	}
	bob.send(`/rm "holiday photos.bin"`)
	if e := bob.waitEvent("refusal", func(e event) bool { return e.str("type") == "error" }); e.str("code") != "forbidden" {
		t.Errorf("bob's /rm: %v", e)
	}
	alice.send(`/rm "holiday photos.bin"`)
	alice.waitEvent("removed", func(e event) bool { return e.str("type") == "removed" })

	for _, c := range []*proc{alice, bob} {
		c.in.Close()
		if code := c.wait(); code != 0 {
			t.Errorf("%s exited with %d", c.name, code)
		}
	}
}

// /sticker and /screenshot work in line mode too: the image lands in the
// shared folder and the peer gets a file message.
func TestStickerAndScreenshotInLineMode(t *testing.T) {
	xvfb := needTool(t, "Xvfb")
	data := t.TempDir()
	secret := filepath.Join(data, "secret")
	folder := t.TempDir()
	filesAddr := startFiles(t, secret, folder)
	srv := startChat(t, data, "-files-url", "http://"+filesAddr)
	display := tuiStartXvfb(t, xvfb)

	bob := filesClient(t, srv.addr, "bob")
	cache := t.TempDir()
	alice := startProc(t, "client", []string{"PARLEY_PASSWORD=pw-alice", "XDG_CACHE_HOME=" + cache, "HOME=" + cache, "DISPLAY=" + display},
		"-server", srv.addr, "-name", "alice", "-json")
	alice.waitEvent("connected", func(e event) bool { return e.str("type") == "connected" })

	alice.send("/sticker heart")
	bob.waitEvent("sticker message", isFileMessage("sticker-heart.png"))
	want, err := resources.Sticker("heart")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(folder, "sticker-heart.png")); err != nil || !bytes.Equal(got, want) {
		t.Errorf("stored sticker differs from the shipped one (err %v)", err)
	}
	alice.send("/sticker nosuch")
	alice.waitEvent("error for an unknown sticker", func(e event) bool { return e.str("type") == "error" && e.str("code") == "usage" })

	alice.send("/screenshot")
	msg := bob.waitEvent("screenshot message", func(e event) bool {
		f, _ := e["file"].(map[string]any)
		name, _ := f["name"].(string)
		return e.str("type") == "message" && regexp.MustCompile(`^screenshot-\d{8}-\d{6}-[0-9a-f]{4}\.png$`).MatchString(name)
	})
	name := msg["file"].(map[string]any)["name"].(string)
	png, err := os.ReadFile(filepath.Join(folder, name))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot in the shared folder: %d bytes, err %v", len(png), err)
	}
}
