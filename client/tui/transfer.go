package tui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/progress"
	tea "charm.land/bubbletea/v2"

	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/shared/protocol"
)

// transfer is an upload or download in progress.
type transfer struct {
	id      int
	up      bool
	name    string
	conv    string // conversation key: where results and errors go
	caption string // for an upload: the text posted with the file
	msgID   uint64 // for a download: the message it came from
	done    int64
	total   int64
	cancel  context.CancelFunc
	updates chan [2]int64 // the newest progress; closed when the transfer ends
	bar     progress.Model
}

type (
	transferProgressMsg struct {
		id          int
		done, total int64
	}
	transferDoneMsg struct {
		id   int
		file protocol.File
		path string
		err  error
	}
	captureMsg struct {
		conv string
		name string // the file name to post it under
		data []byte
		err  error
	}
)

// errNoFiles is the error for file commands without a file server.
var errNoFiles = errors.New("file transfers are not available: this client has no file server to talk to")

// startTransfer runs work in a command and reports its progress.
func (m *Model) startTransfer(t *transfer, work func(ctx context.Context, progress func(done, total int64)) (protocol.File, string, error)) tea.Cmd {
	return m.xfers.start(m.ctx, t, work)
}

func (m *Model) handleTransferDone(msg transferDoneMsg) tea.Cmd {
	t, _ := m.xfers.Update(msg)
	if t == nil {
		return nil
	}
	c := m.convByKey(t.conv)
	verb := "download of "
	if t.up {
		verb = "upload of "
	}
	if msg.err != nil {
		if errors.Is(msg.err, context.Canceled) {
			m.addInfo(c, verb+t.name+" cancelled")
		} else {
			m.addError(c, fmt.Errorf("%s%s failed: %s", verb, t.name, errText(msg.err)))
		}
		return nil
	}
	if !t.up {
		if t.msgID != 0 {
			m.downloads[t.msgID] = msg.path
		}
		for _, cv := range m.convs {
			cv.dirty = true
		}
		m.addInfo(c, "saved "+t.name+" to "+msg.path)
		return nil
	}
	if m.ended != nil {
		m.addError(c, errors.New("uploaded "+t.name+", but the session has ended, so it was not posted"))
		return nil
	}
	conn, ctx, id, key, caption, file := m.conn, m.ctx, c.id, c.key, t.caption, msg.file
	return func() tea.Msg {
		if err := conn.SendFile(ctx, id, file, caption); err != nil {
			return noteMsg{conv: key, err: fmt.Errorf("uploaded %s, but could not post it: %s", file.Name, errText(err))}
		}
		return noteMsg{conv: key} // posted; the message itself comes as an event
	}
}

// upload sends a local file and posts it here: /upload [-f] PATH [NAME],
// as in line mode.
func (m *Model) upload(c *conv, args string) tea.Cmd {
	if m.cfg.Transfers == nil {
		m.addError(c, errNoFiles)
		return nil
	}
	u, err := files.ParseUpload(args)
	if err != nil {
		m.addError(c, err)
		return nil
	}
	path, name, overwrite := u.Path, u.Name, u.Overwrite
	xf, with := m.cfg.Transfers, c.id.With // a private conversation's files go to its private space
	return m.startTransfer(&transfer{up: true, name: name, conv: c.key},
		func(ctx context.Context, report func(int64, int64)) (protocol.File, string, error) {
			f, err := os.Open(path)
			if err != nil {
				return protocol.File{}, "", err
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				return protocol.File{}, "", err
			}
			if !st.Mode().IsRegular() {
				return protocol.File{}, "", fmt.Errorf("%s is not a regular file", path)
			}
			file, err := xf.Upload(ctx, Upload{Name: name, Body: f, Size: st.Size(), Overwrite: overwrite, With: with}, report)
			return file, "", err
		})
}

// uploadBytes uploads data made by the client, such as a screenshot.
func (m *Model) uploadBytes(c *conv, name string, data []byte, caption string) tea.Cmd {
	if m.cfg.Transfers == nil {
		m.addError(c, errNoFiles)
		return nil
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	xf, with := m.cfg.Transfers, c.id.With
	return m.startTransfer(&transfer{up: true, name: name, conv: c.key, caption: caption},
		func(ctx context.Context, report func(int64, int64)) (protocol.File, string, error) {
			f, err := xf.Upload(ctx, Upload{Name: name, Body: bytes.NewReader(data), Size: int64(len(data)), With: with}, report)
			if err == nil && f.SHA256 == "" {
				f.SHA256 = sha
			}
			return f, "", err
		})
}

// sendSticker posts one of the shipped stickers: /sticker NAME.
func (m *Model) sendSticker(c *conv, name string) tea.Cmd {
	if name == "" {
		m.addInfo(c, "stickers: "+strings.Join(m.cfg.StickerNames(), ", ")+"; send one with /sticker NAME")
		return nil
	}
	file, data, err := files.Sticker(name, m.cfg.Sticker)
	if err != nil {
		m.addError(c, err)
		return nil
	}
	return m.uploadBytes(c, file, data, "")
}

// screenshot captures every display, then uploads and posts the image.
func (m *Model) screenshot(c *conv) tea.Cmd {
	if m.cfg.Transfers == nil {
		m.addError(c, errNoFiles)
		return nil
	}
	m.addInfo(c, "taking a screenshot…")
	capture, key, at := m.cfg.Capture, c.key, m.cfg.Now().In(m.cfg.Location)
	return func() tea.Msg {
		name, data, err := files.Screenshot(capture, at)
		return captureMsg{conv: key, name: name, data: data, err: err}
	}
}

func (m *Model) handleCapture(msg captureMsg) tea.Cmd {
	c := m.convByKey(msg.conv)
	if msg.err != nil {
		m.addError(c, fmt.Errorf("screenshot failed: %s", errText(msg.err)))
		return nil
	}
	return m.uploadBytes(c, msg.name, msg.data, "")
}

// download saves a file: /download [ID|NAME] [DEST], as in line mode.
// With no argument it takes the selected file message, else the newest
// file in the conversation. A NAME is in the conversation's files: the
// shared folder, or in a private conversation the private space of the
// two; a message's private file is in the private space of that
// message's two people.
func (m *Model) download(c *conv, arg string) tea.Cmd {
	da, err := files.ParseDownload(arg, false)
	if err != nil {
		m.addError(c, err)
		return nil
	}
	var a []string
	if da.What != "" {
		a = []string{da.What}
	}
	var e *entry
	var file protocol.File
	in := c // the conversation the file was posted in
	switch {
	case len(a) > 0:
		if id, err := strconv.ParseUint(strings.TrimPrefix(a[0], "#"), 10, 64); err == nil {
			for _, cv := range append([]*conv{c}, m.convs...) {
				for _, x := range cv.entries {
					if x.kind == entMessage && x.id == id {
						e, in = x, cv
					}
				}
				if e != nil {
					break
				}
			}
			if e == nil || e.file == nil {
				m.addError(c, fmt.Errorf("message %d is not a file here", id))
				return nil
			}
			break
		}
		p := strings.Trim(a[0], "/")
		file = protocol.File{Name: path.Base(p), Path: p, Private: c.private()}
	case c.sel != nil && c.sel.file != nil:
		e = c.sel
	default:
		msgs := c.messages()
		for i := len(msgs) - 1; i >= 0 && e == nil; i-- {
			if msgs[i].file != nil && !msgs[i].recalled {
				e = msgs[i]
			}
		}
		if e == nil {
			m.addError(c, errors.New("there is no file to download in "+c.title()))
			return nil
		}
	}
	var msgID uint64
	if e != nil {
		file, msgID = *e.file, e.id
	}
	if file.Private && !in.private() {
		m.addError(c, fmt.Errorf("message %d names a private file but is not a private message", msgID))
		return nil
	}
	with := in.id.With // the other person of the private space, for a private file
	if m.cfg.Transfers == nil {
		m.addError(c, errNoFiles)
		return nil
	}
	dest := m.cfg.DownloadDir
	if da.Dest != "" {
		dest = da.Dest
	}
	xf := m.cfg.Transfers
	return m.startTransfer(&transfer{name: file.Name, conv: c.key, msgID: msgID},
		func(ctx context.Context, report func(int64, int64)) (protocol.File, string, error) {
			target := dest
			if st, err := os.Stat(dest); err == nil && st.IsDir() {
				p, err := freePath(dest, file.Name)
				if err != nil {
					return file, "", err
				}
				target = p
			} else if err == nil {
				return file, "", fmt.Errorf("%s exists already", dest)
			}
			err := xf.Download(ctx, file, with, target, report)
			return file, target, err
		})
}

// freePath picks a path for name in dir that is not taken, adding " (1)",
// " (2)", … before the extension if needed. The name is reduced to its
// last element, so a file can never land outside dir.
func freePath(dir, name string) (string, error) {
	name = filepath.Base(filepath.Clean("/" + strings.ReplaceAll(name, "\\", "/")))
	if name == "/" || name == "." || name == "" {
		name = "download"
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 0; i < 1000; i++ {
		p := filepath.Join(dir, name)
		if i > 0 {
			p = filepath.Join(dir, fmt.Sprintf("%s (%d)%s", stem, i, ext))
		}
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			return p, nil
		}
	}
	return "", fmt.Errorf("no free name for %s in %s", name, dir)
}

// cancelTransfer cancels the newest transfer, or the one numbered n.
func (m *Model) cancelTransfer(arg string) {
	if !m.xfers.cancel(arg) {
		m.addInfo(m.cur, "no transfer to cancel")
	}
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}
