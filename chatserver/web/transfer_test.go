package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/shared/protocol"
)

// throttle limits, or cuts off, what the tab sends to the file server's
// uploads, as a slow or failing network would.
func throttle(t *testing.T, ctx context.Context, e *env, bytesPerSec float64, offline bool) {
	t.Helper()
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{
			URLPattern:         "http://" + e.files.Addr() + "/uploads/*",
			UploadThroughput:   bytesPerSec,
			DownloadThroughput: -1,
			Offline:            offline,
		}},
	}); err != nil {
		t.Fatal(err)
	}
}

func randomFile(t *testing.T, name string, size int) (string, []byte) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b
}

// An upload survives its connection failing in the middle: it asks the
// file server how far it got and goes on from there. Another is
// cancelled, and leaves nothing behind.
func TestUploadResumeAndCancel(t *testing.T) {
	e := newEnv(t, nil)
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "kim")

	throttle(t, ctx, e, 4<<20, false)
	src, data := randomFile(t, "big.bin", 12<<20)
	run(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src}))
	// Once a chunk is in, the network fails; the upload says so and
	// waits; when the network is back it finishes.
	waitJS(t, ctx, `(() => { const p = document.querySelector('.transfer progress'); return p && p.value >= 4 * 1024 * 1024; })()`)
	throttle(t, ctx, e, 4<<20, true)
	waitJS(t, ctx, `document.querySelector('.transfer').dataset.state === 'retrying'`)
	throttle(t, ctx, e, -1, false)
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .file button')].some(b => b.textContent.startsWith('📄 big.bin (12 MiB)'))`)
	got, err := os.ReadFile(filepath.Join(e.dir, "big.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file server holds %d bytes of %d (%v)", len(got), len(data), err)
	}

	// Cancel: the upload stops, the server drops it, nothing is posted.
	throttle(t, ctx, e, 1<<20, false)
	src2, _ := randomFile(t, "cancelled.bin", 8<<20)
	run(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src2}))
	waitJS(t, ctx, `(() => { const r = [...document.querySelectorAll('.transfer')].find(r => r.textContent.startsWith('cancelled.bin')); return r && r.querySelector('progress').value > 0 && r.dataset.state === 'uploading'; })()`)
	run(t, ctx, chromedp.Click(chromedp.CSS(`.transfer button[aria-label="Cancel the upload of cancelled.bin"]`)))
	waitJS(t, ctx, `[...document.querySelectorAll('.transfer')].some(r => r.textContent.startsWith('cancelled.bin: cancelled'))`)
	throttle(t, ctx, e, -1, false)
	// Another message goes through after it, so anything the cancelled
	// upload might have posted would be there by now.
	say(t, ctx, "after the cancel")
	waitJS(t, ctx, messageShown("after the cancel"))
	if n := eval[int](t, ctx, `[...document.querySelectorAll('#messages .file button')].filter(b => b.textContent.includes('cancelled.bin')).length`); n != 0 {
		t.Fatal("the cancelled upload was posted")
	}
	if _, err := os.Stat(filepath.Join(e.dir, "cancelled.bin")); err == nil {
		t.Fatal("the cancelled upload is in the folder")
	}
}

// Dropping a file on the conversation uploads it, and the folder's
// Download button saves it.
func TestDropAndDownload(t *testing.T) {
	e := newEnv(t, nil)
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "lou")
	// A drop as the browser delivers it: a DataTransfer holding a file.
	do(t, ctx, `(() => {
		const dt = new DataTransfer();
		dt.items.add(new File(['dropped text, ü and 中文'], 'dropped.txt', {type: 'text/plain'}));
		const main = document.getElementById('main');
		main.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true, cancelable: true}));
		main.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
	})()`)
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .file button')].some(b => b.textContent.startsWith('📄 dropped.txt'))`)

	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, chromedp.Click(chromedp.ID("toggle-files")))
	run(t, ctx, chromedp.Click(chromedp.CSS(`#file-list button[aria-label="Download dropped.txt"]`)))
	deadline := time.Now().Add(waitLimit)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "dropped.txt"))
		if err == nil && string(b) == "dropped text, ü and 中文" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("download: %q, %v", b, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The page is still there.
	if u := eval[string](t, ctx, `location.href`); u != e.url() {
		t.Fatalf("the download navigated to %s", u)
	}
}

// In a private conversation files go to the private space of the two
// people, and are posted as private.
func TestPrivateFiles(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.peer("bob")
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "nia")
	say(t, ctx, "/query bob")
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '@bob' && document.getElementById('conv-sub').textContent.includes('only you two')`)
	run(t, ctx, chromedp.Click(chromedp.ID("toggle-files")))
	waitJS(t, ctx, `document.getElementById('files-title').textContent === 'Private files with bob'`)
	src, data := randomFile(t, "secret.bin", 1000)
	run(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src}))
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .file button')].some(b => b.textContent === '🔒 secret.bin (1000 B), private to you two')`)
	waitJS(t, ctx, `[...document.querySelectorAll('#file-list button')].some(b => b.textContent === 'secret.bin')`)
	got := bob.waitMessage(func(f *protocol.Frame) bool { return f.Kind == protocol.KindFile })
	if got.To != "bob" || got.File == nil || !got.File.Private || got.File.Path != "secret.bin" || got.File.Size != int64(len(data)) {
		t.Fatalf("bob got %+v %+v", got, got.File)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "secret.bin")); err == nil {
		t.Fatal("the private file is in the shared folder")
	}
	// A sticker in a private conversation is private too, and shows.
	run(t, ctx, chromedp.Click(chromedp.ID("sticker-button")))
	run(t, ctx, chromedp.Click(chromedp.CSS(`#sticker-grid button[aria-label="Send the heart sticker"]`)))
	waitJS(t, ctx, `[...document.querySelectorAll('#messages img.thumb')].some(i => i.alt === 'sticker heart' && i.complete && i.naturalWidth > 0)`)
	// The shared folder, from the lobby, does not list them.
	run(t, ctx, chromedp.Click(chromedp.CSS(`#conv-list li:first-child button`)))
	waitJS(t, ctx, `document.getElementById('files-title').textContent === 'Shared folder' && document.getElementById('file-list').textContent.includes('Nothing here yet')`)
}

// A file copied into the folder just as the panel opens is listed,
// whether its event comes before the listing or while it is on its way.
func TestFolderChangingAsItOpens(t *testing.T) {
	e := newEnv(t, nil)
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "pia")
	os.WriteFile(filepath.Join(e.dir, "report.pdf"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(e.dir, "talks"), 0o755)
	run(t, ctx, chromedp.Click(chromedp.ID("toggle-files")))
	waitJS(t, ctx, `[...document.querySelectorAll('#file-list button')].some(b => b.textContent === 'report.pdf') && [...document.querySelectorAll('#file-list button')].some(b => b.textContent === '📁 talks/')`)
	// Into the folder and back.
	os.WriteFile(filepath.Join(e.dir, "talks", "slides.pdf"), []byte("slides"), 0o644)
	run(t, ctx, chromedp.Click(chromedp.CSS(`#file-list li:first-child button`)))
	waitJS(t, ctx, `document.getElementById('files-path').textContent === '/talks' && [...document.querySelectorAll('#file-list button')].some(b => b.textContent === 'slides.pdf')`)
	run(t, ctx, chromedp.Click(chromedp.ID("files-up")))
	waitJS(t, ctx, `document.getElementById('files-path').textContent === '/' && [...document.querySelectorAll('#file-list button')].some(b => b.textContent === 'report.pdf')`)
}

// Tab completes the argument of a command, as in the terminal client:
// rooms for /join, people for /msg, the conversation's file messages and
// the folder's files for /download, your own files for /rm, your
// messages for /recall.
func TestArgumentCompletion(t *testing.T) {
	e := newEnv(t, nil)
	bob := e.peer("bob")
	bob.do(&protocol.Frame{Type: protocol.TypeNick, Nick: "Bobby"})
	bobsFile, _ := randomFile(t, "bobs.txt", 10)
	fc := files.New(files.Options{BaseURL: func() string { return bob.s.Welcome().FilesURL }, Tokens: files.NewSessionTokens(bob.s), User: bob.s.Me()})
	if _, err := fc.Upload(context.Background(), bobsFile, "bobs.txt", files.UploadOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx := tab(t, 1280, 800)
	login(t, ctx, e, "ada")
	say(t, ctx, "/join planets")
	say(t, ctx, "/join plans")
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#plans'`)
	do(t, ctx, `document.querySelector('#conv-list button.conv').click()`)
	waitJS(t, ctx, `document.getElementById('conv-title').textContent === '#lobby'`)
	bob.send(&protocol.Frame{Text: "hello ada"})
	waitJS(t, ctx, messageShown("hello ada"))

	complete := func(typed, wantList, want string) {
		t.Helper()
		do(t, ctx, `document.getElementById('input').value = ''`)
		run(t, ctx, chromedp.Focus(chromedp.ID("input")), chromedp.SendKeys(chromedp.ID("input"), typed))
		waitJS(t, ctx, `!document.getElementById('completions').hidden && document.getElementById('completions').textContent.startsWith(`+js(wantList)+`)`)
		run(t, ctx, chromedp.SendKeys(chromedp.ID("input"), "\t"))
		waitJS(t, ctx, `document.getElementById('input').value === `+js(want))
	}
	complete("/leave #pl", "#planets#plans", "/leave #planets ")
	complete("/msg b", "Bobby (bob)", "/msg bob ")

	src, _ := randomFile(t, "notes.txt", 100)
	run(t, ctx, chromedp.SetUploadFiles(chromedp.ID("file-input"), []string{src}))
	waitJS(t, ctx, `[...document.querySelectorAll('#messages .file button')].some(b => b.textContent.includes('notes.txt'))`)
	id := eval[uint64](t, ctx, `Number([...document.querySelectorAll('#messages .msg')].find(r => r.querySelector('.file')).dataset.id)`)
	complete("/download ", fmt.Sprintf("#%d notes.txt", id), fmt.Sprintf("/download %d ", id))
	complete("/recall ", fmt.Sprintf("#%d notes.txt", id), fmt.Sprintf("/recall %d ", id))

	// With the folder listed, its files; /rm offers only ada's own.
	run(t, ctx, chromedp.Click(chromedp.ID("toggle-files")))
	waitJS(t, ctx, `[...document.querySelectorAll('#file-list button')].some(b => b.textContent === 'bobs.txt')`)
	complete("/download bo", "bobs.txt", "/download bobs.txt")
	do(t, ctx, `document.getElementById('input').value = ''`)
	run(t, ctx, chromedp.SendKeys(chromedp.ID("input"), "/rm "))
	waitJS(t, ctx, `document.getElementById('completions').textContent === 'notes.txt'`)
}
