package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// PublishOptions tune Publish.
type PublishOptions struct {
	// Overwrite replaces the user's own file of that name instead of
	// picking a free name.
	Overwrite bool
	// Try, if set, is called with each name Publish tries, before it
	// uploads under it; the function it returns is called after.
	Try func(name string) (done func())
	// Sink, if set, is told how the upload advances, under each name
	// tried.
	Sink Sink
}

// Publish uploads body under name, resumably, and returns the stored
// file. A local file (an *os.File) is sent as it is. Anything else, such
// as a sticker or a screenshot made by the client, is not sent at all if
// the folder already holds the same bytes under that name, and otherwise
// goes through a temporary file so that it can resume. If the name is
// taken by another file, "name (1).ext", "name (2).ext", … are tried.
func (c *Client) Publish(ctx context.Context, name string, body io.ReadSeeker, opts PublishOptions) (*Entry, error) {
	src := ""
	if f, ok := body.(*os.File); ok {
		src = f.Name()
	} else {
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return nil, err
		}
		sum := hex.EncodeToString(h.Sum(nil))
		if e, err := c.Stat(ctx, name); err == nil && strings.EqualFold(e.SHA256, sum) {
			return e, nil
		}
		tmp, err := os.CreateTemp("", "parley-upload-*"+filepath.Ext(name))
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp.Name())
		if _, err = body.Seek(0, io.SeekStart); err == nil {
			_, err = io.Copy(tmp, body)
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		src = tmp.Name()
	}
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for n := 0; n < 100; n++ {
		try := name
		if n > 0 {
			try = fmt.Sprintf("%s (%d)%s", stem, n, ext)
		}
		done := func() {}
		if opts.Try != nil {
			done = opts.Try(try)
		}
		e, err := c.Upload(ctx, src, try, UploadOptions{Overwrite: opts.Overwrite, Sink: opts.Sink})
		done()
		var fe *Error
		if errors.As(err, &fe) && fe.Code == CodeExists && !opts.Overwrite {
			continue
		}
		return e, err
	}
	return nil, fmt.Errorf("no free name for %s in %s", name, Place(c.with))
}
