package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/shared/filetoken"
)

// With no flags the file server listens where the chat server tells
// clients to look, and finds the secret a chat server run by the same
// user finds, creating it if it is the first.
func TestDefaults(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	t.Setenv(filetoken.EnvSecret, "")
	var out bytes.Buffer
	cfg, _, err := parseFlags(nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":7780" || cfg.Dir != "parley-data/files" || cfg.State != "parley-data/fileserver" {
		t.Errorf("defaults %+v", cfg)
	}
	secretFile := filetoken.DefaultSecretFile()
	if !strings.HasPrefix(secretFile, home) {
		t.Fatalf("secret file %s is not under HOME", secretFile)
	}
	fi, err := os.Stat(secretFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v", fi.Mode())
	}
	b, _ := os.ReadFile(secretFile)
	if !bytes.Equal(b, cfg.Secret) {
		t.Error("the secret is not the file's content")
	}
	// A second start reads the same secret.
	cfg2, _, err := parseFlags(nil, &out)
	if err != nil || !bytes.Equal(cfg2.Secret, cfg.Secret) {
		t.Errorf("second start: %v", err)
	}
	t.Setenv(filetoken.EnvSecret, "from-the-environment")
	cfg3, _, _ := parseFlags(nil, &out)
	if string(cfg3.Secret) != "from-the-environment" {
		t.Errorf("$%s did not override the file", filetoken.EnvSecret)
	}
}

func TestFlags(t *testing.T) {
	t.Setenv(filetoken.EnvSecret, "s")
	var out bytes.Buffer
	cfg, _, err := parseFlags([]string{"-max-size", "2GiB", "-quota", "500MB", "-min-free", "0", "-public-read"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxSize != 2<<30 || cfg.Quota != 500_000_000 || cfg.MinFree != 0 || !cfg.PublicRead {
		t.Errorf("parsed %+v", cfg)
	}
	if cfg.MaxUploads != 2 || cfg.UploadShare != 25 || cfg.ReserveIdle != 2*time.Minute {
		t.Errorf("upload limits %d, %d%%, %v; want the defaults 2, 25%%, 2m", cfg.MaxUploads, cfg.UploadShare, cfg.ReserveIdle)
	}
	if cfg.MaxStreams != 8 {
		t.Errorf("-max-streams %d, want the default 8", cfg.MaxStreams)
	}
	if cfg.MaxFolders != 100 || cfg.MaxFolderDepth != 8 {
		t.Errorf("folder limits %d, %d; want the defaults 100, 8", cfg.MaxFolders, cfg.MaxFolderDepth)
	}
	if cfg, _, _ := parseFlags([]string{"-max-folders", "7", "-max-folder-depth", "0"}, &out); cfg.MaxFolders != 7 || cfg.MaxFolderDepth != 0 {
		t.Errorf("folder limits %d, %d", cfg.MaxFolders, cfg.MaxFolderDepth)
	}
	if _, _, err := parseFlags([]string{"-max-size", "lots"}, &out); err == nil {
		t.Error("a bad size was accepted")
	}
	if _, _, err := parseFlags([]string{"extra"}, &out); err == nil {
		t.Error("an argument was accepted")
	}
	out.Reset()
	parseFlags([]string{"-h"}, &out)
	for _, f := range []string{"-addr", "-dir", "-state", "-tls-cert", "-tls-key", "-secret-file", "-public-read", "-max-size", "-quota", "-min-free", "-max-folders", "-max-folder-depth", "-max-uploads", "-upload-share", "-reserve-idle", "-max-streams", "-upload-expiry", "-settle", "-stall-timeout", "-log-level"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("help does not mention %s", f)
		}
	}
}

// run starts the server and stops it cleanly when its context ends.
func TestRun(t *testing.T) {
	t.Setenv(filetoken.EnvSecret, "s")
	base := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var log syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-dir", filepath.Join(base, "f"), "-state", filepath.Join(base, "s")}, &log)
	}()
	for {
		grew := log.grew()
		if strings.Contains(log.String(), "file server listening") {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run ended: %v\n%s", err, log.String())
		case <-grew:
		case <-time.After(30 * time.Second):
			t.Fatal("not listening")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
