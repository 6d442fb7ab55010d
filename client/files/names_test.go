package files_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/client/command"
	"github.com/parley-chat/parley/client/files"
	"github.com/parley-chat/parley/shared/protocol"
)

func TestParseUpload(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want files.UploadArgs
		ok   bool
	}{
		{"a.txt", files.UploadArgs{Path: "a.txt", Name: "a.txt"}, true},
		{"-f dir/a.txt b.txt", files.UploadArgs{Path: "dir/a.txt", Name: "b.txt", Overwrite: true}, true},
		{`"my notes.txt" /shared/x/`, files.UploadArgs{Path: "my notes.txt", Name: "shared/x"}, true},
		{"", files.UploadArgs{}, false},
		{"-f", files.UploadArgs{}, false},
		{"a b c", files.UploadArgs{}, false},
		{`"unclosed`, files.UploadArgs{}, false},
	} {
		got, err := files.ParseUpload(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseUpload(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseDownload(t *testing.T) {
	if d, err := files.ParseDownload("", false); err != nil || d != (files.DownloadArgs{}) {
		t.Errorf("ParseDownload of nothing, optional = %+v, %v", d, err)
	}
	if _, err := files.ParseDownload("", true); err == nil {
		t.Error("ParseDownload of nothing, required, took it")
	}
	if d, err := files.ParseDownload(`12 "out dir"`, true); err != nil || d.What != "12" || d.Dest != "out dir" {
		t.Errorf("ParseDownload = %+v, %v", d, err)
	}
	if _, err := files.ParseDownload("a b c", false); err == nil {
		t.Error("ParseDownload took three arguments")
	}
}

func TestMadeNames(t *testing.T) {
	if got := files.StickerName(" Heart "); got != "sticker-heart.png" {
		t.Errorf("StickerName = %q", got)
	}
	at := time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)
	a, b := files.ScreenshotName(at), files.ScreenshotName(at)
	if !regexp.MustCompile(`^screenshot-20261202-150405-[0-9a-f]{4}\.png$`).MatchString(a) {
		t.Errorf("ScreenshotName = %q", a)
	}
	for i := 0; a == b && i < 10; i++ {
		b = files.ScreenshotName(at)
	}
	if a == b {
		t.Errorf("two screenshots of one second are both %q", a)
	}
}

func TestStickerAndScreenshotCommands(t *testing.T) {
	var asked string
	load := func(name string) ([]byte, error) {
		asked = name
		if name != "heart" {
			return nil, errors.New("no such sticker: " + name)
		}
		return []byte("png of a heart"), nil
	}
	name, png, err := files.Sticker("  Heart ", load)
	if err != nil || name != "sticker-heart.png" || string(png) != "png of a heart" || asked != "heart" {
		t.Fatalf("Sticker = %q, %q, %v (asked for %q)", name, png, err, asked)
	}
	_, _, err = files.Sticker("nope", load)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != command.CodeUsage || pe.Message != "no such sticker: nope" {
		t.Errorf("an unknown sticker: %v", err)
	}

	at := time.Date(2026, 12, 2, 15, 4, 5, 0, time.UTC)
	name, png, err = files.Screenshot(func() ([]byte, error) { return []byte("pixels"), nil }, at)
	if err != nil || !strings.HasPrefix(name, "screenshot-20261202-150405-") || string(png) != "pixels" {
		t.Errorf("Screenshot = %q, %q, %v", name, png, err)
	}
	_, _, err = files.Screenshot(func() ([]byte, error) { return nil, errors.New("no display") }, at)
	if !errors.As(err, &pe) || pe.Code != "no_display" || pe.Message != "no display" {
		t.Errorf("a capture that fails: %v", err)
	}
}
