//go:build linux

// These tests capture from X11 and check the errors when there is no
// display: Linux's case. On Windows and macOS there is always a display.

package capture_test

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/parley-chat/parley/client/capture"
)

func TestNoDisplay(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	_, err := capture.PNG()
	if !errors.Is(err, capture.ErrNoDisplay) {
		t.Fatalf("PNG() error = %v, want ErrNoDisplay", err)
	}
	if !bytes.Contains([]byte(err.Error()), []byte("DISPLAY")) {
		t.Errorf("error %q does not say what is missing", err)
	}
}

func TestUnreachableDisplay(t *testing.T) {
	t.Setenv("DISPLAY", ":987")
	t.Setenv("WAYLAND_DISPLAY", "")
	t.Setenv("XDG_SESSION_TYPE", "")
	_, err := capture.PNG()
	if !errors.Is(err, capture.ErrNoDisplay) {
		t.Fatalf("PNG() error = %v, want ErrNoDisplay", err)
	}
}

// TestXvfb captures a real X server. -noreset keeps the server up between
// client connections; without it every other capture fails.
func TestXvfb(t *testing.T) {
	xvfb, err := exec.LookPath("Xvfb")
	if err != nil {
		t.Fatal("Xvfb is not installed: bash .ci/run installs it (Debian's xvfb)")
	}
	display, stop := startXvfb(t, xvfb, "640x400x24")
	defer stop()
	t.Setenv("DISPLAY", display)
	t.Setenv("WAYLAND_DISPLAY", "")
	t.Setenv("XDG_SESSION_TYPE", "")
	for i := range 3 {
		b, err := capture.PNG()
		if err != nil {
			t.Fatalf("capture %d: %v", i, err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if got := img.Bounds().Size(); got.X != 640 || got.Y != 400 {
			t.Fatalf("capture is %v, want 640x400", got)
		}
	}
}

// startXvfb starts an X server on a free display number and waits until
// its socket exists.
func startXvfb(t *testing.T, xvfb, screen string) (string, func()) {
	t.Helper()
	for n := 90 + os.Getpid()%200; n < 400; n++ {
		if _, err := os.Stat(fmt.Sprintf("/tmp/.X%d-lock", n)); err == nil {
			continue
		}
		cmd := exec.Command(xvfb, fmt.Sprintf(":%d", n), "-noreset", "-nolisten", "tcp", "-screen", "0", screen)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		sock := filepath.Join("/tmp/.X11-unix", fmt.Sprintf("X%d", n))
		deadline := time.After(20 * time.Second)
	wait:
		for {
			if _, err := os.Stat(sock); err == nil {
				return fmt.Sprintf(":%d", n), func() { cmd.Process.Kill(); <-done }
			}
			select {
			case <-done:
				break wait // taken by someone else meanwhile: try the next number
			case <-deadline:
				cmd.Process.Kill()
				<-done
				t.Fatal("Xvfb did not start within 20s")
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	t.Fatal("no free X display number")
	return "", nil
}
