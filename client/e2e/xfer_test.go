package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Both faces of the client save downloads by the same rule: with no
// destination, in ~/Downloads, under a free name when the name is taken.
// Line mode in text mode keeps its standard output for events and
// notices; progress goes to standard error.
func TestDownloadsBothFaces(t *testing.T) {
	needTool(t, "tmux")
	data := t.TempDir()
	filesAddr := startFiles(t, filepath.Join(data, "secret"), t.TempDir())
	srv := startChat(t, data, "-files-url", "http://"+filesAddr)

	home := t.TempDir()
	downloads := filepath.Join(home, "Downloads")
	os.Mkdir(downloads, 0o755)
	os.WriteFile(filepath.Join(downloads, "report.pdf"), []byte("an older report"), 0o644)

	alice := filesClient(t, srv.addr, "alice")
	content := make([]byte, 2<<20+5)
	rand.Read(content)
	src := filepath.Join(t.TempDir(), "report.pdf")
	os.WriteFile(src, content, 0o644)
	alice.send(`/upload "` + src + `"`)
	alice.waitEvent("uploaded", func(e event) bool { return e.str("type") == "uploaded" })
	msg := alice.waitEvent("the file message", isFileMessage("report.pdf"))
	id := strconv.FormatUint(msg.num("id"), 10)

	env := []string{"PARLEY_PASSWORD=pw-bob", "HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "XDG_DOWNLOAD_DIR="}
	bob := startProc(t, "client", env, "-server", srv.addr, "-name", "bob", "-plain")
	bob.waitLine(regexp.MustCompile(`^\* connected as bob`))
	bob.send("/download " + id)
	first := filepath.Join(downloads, "report (1).pdf")
	bob.waitLine(regexp.MustCompile(`^\* downloaded report\.pdf to ` + regexp.QuoteMeta(first) + ` \(2\.0 MiB, SHA-256 verified\)$`))
	if got, _ := os.ReadFile(first); !bytes.Equal(got, content) {
		t.Fatal("line mode's download differs")
	}
	if b, _ := os.ReadFile(filepath.Join(downloads, "report.pdf")); string(b) != "an older report" {
		t.Fatal("line mode's download replaced a file")
	}
	for _, l := range bob.lines() {
		if strings.Contains(l, "downloading") || strings.Contains(l, "%") {
			t.Errorf("progress on standard output: %q", l)
		}
	}
	bob.in.Close()
	if code := bob.wait(); code != 0 {
		t.Errorf("bob exited with %d: %s", code, bob.stderr())
	}

	// The full-screen client, on the same machine: ctrl+g downloads the
	// newest file, into the same folder by the same rule.
	tm := tuiStartTmux(t, t.TempDir())
	tm.run([]string{"PARLEY_PASSWORD=pw-carol", "HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config"),
		"XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "XDG_DOWNLOAD_DIR=", "LANG=C.UTF-8"},
		"-server", srv.addr, "-name", "carol")
	tm.waitScreen("● connected")
	tm.waitScreen("📎 report.pdf")
	tm.keys("C-g")
	tm.waitScreen("saved report.pdf to")
	second := filepath.Join(downloads, "report (2).pdf")
	if got, err := os.ReadFile(second); err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the full-screen client's download: %v", err)
	}
	tm.typeText("/quit")
	tm.keys("Enter")
	tm.waitExit(0)
}
