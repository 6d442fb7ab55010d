package main

import (
	"testing"
	"time"
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
