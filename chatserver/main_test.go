package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/chatserver/auth"
)

func TestDaysFlag(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Duration
	}{
		{"30d", 30 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"12h", 12 * time.Hour},
		{"90m", 90 * time.Minute},
		{"0", 0},
	} {
		var d time.Duration
		if err := (daysFlag{&d}).Set(tt.in); err != nil || d != tt.want {
			t.Errorf("Set(%q) = %v, %v; want %v", tt.in, d, err, tt.want)
		}
	}
	for _, bad := range []string{"d", "-1d", "1.5d", "30 days", "1dx"} {
		var d time.Duration
		if err := (daysFlag{&d}).Set(bad); err == nil {
			t.Errorf("Set(%q) accepted as %v", bad, d)
		}
	}
	d := 30 * 24 * time.Hour
	if s := (daysFlag{&d}).String(); s != "30d" {
		t.Errorf("String of 30 days = %q", s)
	}
}

func TestRetentionFlag(t *testing.T) {
	cfg, _, _, err := parseFlags([]string{"-retention", "30d", "-secret-file", t.TempDir() + "/secret"}, testWriter{t})
	if err != nil || cfg.Retention != 30*24*time.Hour {
		t.Fatalf("-retention 30d: %v, %v", cfg.Retention, err)
	}
	if _, _, _, err := parseFlags([]string{"-retention", "-1h", "-secret-file", t.TempDir() + "/secret"}, testWriter{t}); err == nil {
		t.Error("a negative -retention was accepted")
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }

// An -opers file holds names and the hashes hash-password prints; a
// line of another form is refused with its line number.
func TestOperatorsFile(t *testing.T) {
	var out strings.Builder
	if err := hashPasswordCmd(t.Context(), []string{"-hash-memory", "64"}, strings.NewReader("s3cret\n"), &out, testWriter{t}); err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSpace(out.String())
	if ok, err := auth.NewHasher(auth.DefaultParams, 1, 1).Verify(t.Context(), "s3cret", hash); err != nil || !ok {
		t.Fatalf("the printed hash %q does not verify the password: %v %v", hash, ok, err)
	}
	path := filepath.Join(t.TempDir(), "opers")
	os.WriteFile(path, []byte("# server operators\n\nroot "+hash+"\n"), 0o600)
	ops, err := readOperators(path)
	if err != nil || len(ops) != 1 || ops[0].Name != "root" || ops[0].Hash != hash {
		t.Fatalf("readOperators = %+v, %v", ops, err)
	}
	os.WriteFile(path, []byte("root s3cret\n"), 0o600)
	if _, err := readOperators(path); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("a plain password in the file: err = %v; want a refusal naming line 1", err)
	}
}
