package tui

import (
	"context"
	"errors"
	"fmt"
	"path"
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
		if msg.file.Name != "" {
			t.name = msg.file.Name
		}
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
	xf, ctx, id, key, caption, file := m.cfg.Transfers, m.ctx, c.id, c.key, t.caption, msg.file
	return func() tea.Msg {
		// The message itself comes as an event once posted.
		return noteMsg{conv: key, err: xf.Announce(ctx, id, file, caption)}
	}
}

// upload sends a local file and posts it here: /upload [-f] PATH [NAME],
// as in line mode, through the same transfer service.
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
	return m.store(c, files.Upload{Path: u.Path, Name: u.Name, Overwrite: u.Overwrite}, "")
}

// uploadBytes uploads data made by the client, such as a screenshot.
func (m *Model) uploadBytes(c *conv, name string, data []byte, caption string) tea.Cmd {
	if m.cfg.Transfers == nil {
		m.addError(c, errNoFiles)
		return nil
	}
	return m.store(c, files.Upload{Name: name, Data: data}, caption)
}

// store uploads u to the files of conversation c as a transfer; its end
// posts it (see handleTransferDone).
func (m *Model) store(c *conv, u files.Upload, caption string) tea.Cmd {
	xf, to := m.cfg.Transfers, c.id // a private conversation's files go to its private space
	return m.startTransfer(&transfer{up: true, name: u.Name, conv: c.key, caption: caption},
		func(ctx context.Context, report func(int64, int64)) (protocol.File, string, error) {
			f, err := xf.Store(ctx, to, u, barSink(report))
			return f, "", err
		})
}

// barSink shows a transfer's progress on its bar; checking a local
// file's checksum before an upload is not shown.
func barSink(report func(done, total int64)) files.Sink {
	return files.SinkFunc(func(p files.Progress) {
		if p.Op != "check" && p.Total > 0 {
			report(p.Done, p.Total)
		}
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

// download saves a file: /download [ID|NAME] [DEST], as in line mode,
// through the same transfer service: the same names, the same folder for
// downloads and the same free names. With no argument it takes the
// selected file message, else the newest file in the conversation.
func (m *Model) download(c *conv, arg string) tea.Cmd {
	da, err := files.ParseDownload(arg, false)
	if err != nil {
		m.addError(c, err)
		return nil
	}
	if m.cfg.Transfers == nil {
		m.addError(c, errNoFiles)
		return nil
	}
	xf := m.cfg.Transfers
	t := &transfer{name: path.Base(strings.Trim(da.What, "/")), conv: c.key}
	var locate func(ctx context.Context) (files.Source, error)
	if da.What != "" {
		// What is typed is found as line mode finds it, among the
		// messages on screen, which are looked up here and now.
		var seen files.Messages
		if fm, ok := m.seenMessage(c, da.What); ok {
			seen, t.name, t.msgID = oneMessage{fm}, fm.File.Name, fm.ID
		}
		to, what := c.id, da.What
		locate = func(ctx context.Context) (files.Source, error) { return xf.Locate(ctx, to, what, seen) }
	} else {
		e, in := c.sel, c
		if e == nil || e.file == nil {
			e = nil
			msgs := c.messages()
			for i := len(msgs) - 1; i >= 0 && e == nil; i-- {
				if msgs[i].file != nil && !msgs[i].recalled {
					e = msgs[i]
				}
			}
		}
		if e == nil {
			m.addError(c, errors.New("there is no file to download in "+c.title()))
			return nil
		}
		src, err := xf.FromMessage(m.fileMessage(e, in))
		if err != nil {
			m.addError(c, err)
			return nil
		}
		t.name, t.msgID = src.File.Name, src.Message
		locate = func(context.Context) (files.Source, error) { return src, nil }
	}
	return m.startTransfer(t,
		func(ctx context.Context, report func(int64, int64)) (protocol.File, string, error) {
			src, err := locate(ctx)
			if err != nil {
				return protocol.File{}, "", err
			}
			d, err := xf.Download(ctx, src, da.Dest, barSink(report))
			if err != nil {
				return src.File, "", err
			}
			return src.File, d.Path, nil
		})
}

// fileMessage describes file message e of conversation in as the
// transfer service knows file messages.
func (m *Model) fileMessage(e *entry, in *conv) files.FileMessage {
	fm := files.FileMessage{ID: e.id, From: e.from, Room: in.id.Room, File: *e.file}
	if in.private() {
		// The other person of the private space is the conversation's.
		fm.From, fm.To = in.id.With, m.me
	}
	return fm
}

// seenMessage is the file message on screen that what names by its id,
// if any: in conversation c, or else in any other.
func (m *Model) seenMessage(c *conv, what string) (files.FileMessage, bool) {
	id, err := strconv.ParseUint(strings.TrimPrefix(what, "#"), 10, 64)
	if err != nil {
		return files.FileMessage{}, false
	}
	for _, cv := range append([]*conv{c}, m.convs...) {
		for _, x := range cv.entries {
			if x.kind == entMessage && x.id == id && x.file != nil && !x.recalled {
				return m.fileMessage(x, cv), true
			}
		}
	}
	return files.FileMessage{}, false
}

// oneMessage is a single file message, as Messages.
type oneMessage struct{ m files.FileMessage }

func (o oneMessage) Lookup(id uint64) (files.FileMessage, bool) { return o.m, id == o.m.ID }

// cancelTransfer cancels the newest transfer, or the one numbered n.
func (m *Model) cancelTransfer(arg string) {
	if !m.xfers.cancel(arg) {
		m.addInfo(m.cur, "no transfer to cancel")
	}
}
