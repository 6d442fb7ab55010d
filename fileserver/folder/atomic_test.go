package folder

import (
	"os"
	"testing"
)

// WriteFile replaces a file whole, and leaves nothing else behind, also
// when it cannot finish.
func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, data := range []string{"first", "second, longer"} {
		if err := WriteFile(root, "rec.json", []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(dir + "/rec.json"); string(b) != data {
			t.Errorf("file holds %q, want %q", b, data)
		}
	}
	if fi, _ := os.Stat(dir + "/rec.json"); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	// A name that is a folder cannot be replaced: the error comes back,
	// and no temporary file stays.
	os.Mkdir(dir+"/sub", 0o700)
	if err := WriteFile(root, "sub", []byte("x"), 0o600); err == nil {
		t.Error("replacing a folder with a file succeeded")
	}
	names, _ := os.ReadDir(dir)
	if len(names) != 2 {
		var got []string
		for _, n := range names {
			got = append(got, n.Name())
		}
		t.Errorf("folder holds %v, want rec.json and sub only", got)
	}
}
